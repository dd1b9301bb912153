#pragma once

#include "progressprinter.h"
#include "stopsignals.h"

#include <membatch/connectionsettings.h>
#include <membatch/pluginloader.h>

#include <QCommandLineParser>
#include <QObject>

#include <memory>

#include <QSet>

namespace membatch {
class IBatchProcessor;
class Job;
class Journal;
class JournalTracker;
class ResultsJob;
class ListJob;
}

// Exit codes of the membatch command.
enum ExitCode {
    ExitOk = 0,             // done; for a batch: it completed
    ExitError = 1,          // bad input, unreachable server, refused key, ...
    ExitUsage = 2,          // wrong command line
    ExitBatchNotCompleted = 3, // the batch ended partial_failure or failed
    ExitBatchInProgress = 4,   // status: the batch has not ended yet
};

// The command line: parses it, loads the plugin, runs one job and turns its
// result into output and an exit code (delivered through finished()).
class Cli : public QObject
{
    Q_OBJECT
public:
    explicit Cli(QObject *parent = nullptr);
    ~Cli() override;

    // Returns -1 if a job was started (the answer comes with finished()),
    // else an exit code at once.
    int run(const QStringList &arguments);

Q_SIGNALS:
    void finished(int exitCode);

private:
    int usageError(const QString &message);
    QStringList searchPaths() const;
    bool loadPlugin();
    int listPlugins();
    membatch::ConnectionSettings settings() const;
    void startJob(membatch::Job *job, const QString &command);
    // The journal: where, which server, and recording or updating a job's
    // batches (source: the input of a submission; empty: only updates).
    QString journalPath() const;
    QString journalServer() const;
    void track(membatch::Job *job, const QString &source);
    // watch --all: the ids of the batches that have not ended, or an exit
    // code (none, or a journal that cannot be read).
    int unfinishedInJournal(QStringList *ids);
    void showResults(membatch::ResultsJob *job);
    void showList(membatch::ListJob *job);
    // SIGINT and SIGTERM ask the job to stop (a second one: at once).
    void stopOnSignals(membatch::Job *job, const QString &firstMessage);
    int exitCodeFor(const membatch::Job &job, const QString &command) const;
    int showPluginInfo();

    QCommandLineParser m_parser;
    membatch::PluginLoader m_loader;
    membatch::IBatchProcessor *m_processor = nullptr;
    std::unique_ptr<ProgressPrinter> m_printer;
    std::unique_ptr<StopSignals> m_stopSignals;
    std::unique_ptr<membatch::Journal> m_journal;
    std::unique_ptr<membatch::JournalTracker> m_journalTracker;
    QSet<QString> m_journalWarned;
    qint64 m_keepFinishedMs = 7LL * 24 * 3600 * 1000;
    QString m_command;
};
