#pragma once

#include <membatch/batchprogress.h>
#include <membatch/batchstatus.h>
#include <membatch/itemresult.h>
#include <membatch/jobtracker.h>

#include <QElapsedTimer>
#include <QHash>
#include <QStringList>
#include <QTextStream>
#include <QTimer>

// Shows the jobs it tracks: one updating line on a terminal, plain lines
// (at most one a second) when piped, or JSON lines with --json. A monitor
// of several batches gets one line per batch: redrawn in place on a
// terminal, each at most once a second and once at its end when piped.
// Rate and ETA are the plugin's (BatchProgress), shown only when it gives
// them.
class ProgressPrinter : public membatch::JobTracker
{
    Q_OBJECT
public:
    enum class Mode { Terminal, Lines, Json };

    // On stdout and stderr.
    explicit ProgressPrinter(Mode mode, QObject *parent = nullptr);
    // Into strings (tests): no terminal width unless setWidth().
    ProgressPrinter(Mode mode, QString *out, QString *err, QObject *parent = nullptr);

    static Mode detect(bool json);

    // The command whose result a job's end prints ("submit", "watch").
    void setCommand(const QString &command) { m_command = command; }
    // Terminal columns: lines are cut to fit, or redrawing in place would
    // miscount wrapped lines. 0: ask the terminal (stdout) at each draw.
    void setWidth(int columns) { m_width = columns; }
    // Terminal rows: more batches than fit show those still running first,
    // and a line saying how many more. 0: ask the terminal.
    void setHeight(int rows) { m_height = rows; }

    void info(const QString &message);
    // A line on stderr that is not the job's ("warning: ...").
    void warning(const QString &message);
    // An error on stderr ("membatch: ..."), which may quote a server or a file.
    void error(const QString &message);
    // Text of users or servers as a terminal shows it, without acting on it.
    static QString printable(const QString &text, bool keepNewlines = true);
    // Item results: one line each, JSON lines as the results file has them
    // with --json.
    void items(const QList<membatch::ItemResult> &items);
    // The end of `results`: errors, and a count on stderr in text modes
    // (stdout holds only the results).
    void resultsEnded(const membatch::Job &job, const membatch::BatchStatus &batch, qint64 shown);
    // The end of a job: a summary (or JSON object) on stdout, errors on stderr.
    void result(const membatch::Job &job, const membatch::BatchStatus *batch, const QString &command);

    // One batch's line, as shown (without the cut to the terminal's width).
    // idWidth 0: the id's first 8 characters.
    static QString line(const membatch::BatchProgress &p, int idWidth = 0);

protected:
    void jobRegistered(membatch::Job *job) override;
    void progressChanged(membatch::Job *job, const membatch::BatchProgress &progress) override;
    void batchChanged(membatch::Job *job, const membatch::BatchStatus &batch, const membatch::BatchProgress &progress) override;
    void infoMessage(membatch::Job *job, const QString &message) override;
    void finished(membatch::Job *job) override;

private:
    struct Row
    {
        membatch::BatchStatus batch;
        membatch::BatchProgress progress;
        QElapsedTimer sincePrinted;
        bool pending = false;      // Lines: a state not printed yet
        bool finalPrinted = false; // Lines: its last line is out
    };

    void progress(const membatch::BatchProgress &p);
    void endTerminalLine();
    void printLine(const membatch::BatchProgress &p);
    // Several batches.
    QString rowLine(const Row &row) const;
    int columns() const;
    int rows() const;
    void drawBlock();
    void eraseBlock();
    void flushPendingLines(bool all);
    void monitorResult(const membatch::Job &job, const QString &command);

    Mode m_mode;
    bool m_onStdout;
    QTextStream m_out;
    QTextStream m_err;
    QString m_command;
    int m_width = 0;
    int m_height = 0;
    bool m_lineOpen = false;
    membatch::BatchProgress m_last;
    membatch::BatchProgress m_lastPrinted;
    QElapsedTimer m_sinceLastLine;

    QStringList m_order;
    QHash<QString, Row> m_rows;
    int m_idWidth = 8;
    int m_drawnLines = 0;
    QStringList m_drawn; // the lines on screen
    QTimer m_redraw; // Terminal: at most ten redraws a second
    QTimer m_flush;  // Lines: the states held back by the once-a-second rule
};
