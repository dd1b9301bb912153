#pragma once

#include <membatch/batchprogress.h>
#include <membatch/batchstatus.h>
#include <membatch/itemresult.h>

#include <QElapsedTimer>
#include <QTextStream>

namespace membatch {
class Job;
}

// Shows a job's progress: one updating line on a terminal, plain lines
// (at most one a second) when piped, or JSON lines with --json.
class ProgressPrinter
{
public:
    enum class Mode { Terminal, Lines, Json };

    explicit ProgressPrinter(Mode mode);

    static Mode detect(bool json);

    void progress(const membatch::BatchProgress &p);
    void info(const QString &message);
    // Item results: one line each, JSON lines as the results file has them
    // with --json.
    void items(const QList<membatch::ItemResult> &items);
    // The end of `results`: errors, and a count on stderr in text modes
    // (stdout holds only the results).
    void resultsEnded(const membatch::Job &job, const membatch::BatchStatus &batch, qint64 shown);
    // The end of a job: a summary (or JSON object) on stdout, errors on stderr.
    void result(const membatch::Job &job, const membatch::BatchStatus *batch, const QString &command);

private:
    QString line(const membatch::BatchProgress &p) const;
    void endTerminalLine();
    void printLine(const membatch::BatchProgress &p);

    Mode m_mode;
    QTextStream m_out;
    QTextStream m_err;
    bool m_lineOpen = false;
    membatch::BatchProgress m_last;
    membatch::BatchProgress m_lastPrinted;
    QElapsedTimer m_sinceLastLine;
    QElapsedTimer m_processingClock;
    qint64 m_processedAtClockStart = -1;
};
