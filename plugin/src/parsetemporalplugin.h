#pragma once

#include <membatch/ibatchprocessor.h>

#include <QObject>

class QNetworkAccessManager;

namespace membatch {

class ParseSession;

// The plugin's root: holds the settings, the one shared
// QNetworkAccessManager and the Parse session its jobs share, and creates
// jobs. The work is in the jobs.
class ParseTemporalPlugin : public QObject, public IBatchProcessor
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MEMBATCH_IBATCHPROCESSOR_IID FILE "membatchplugin.json")
    Q_INTERFACES(membatch::IBatchProcessor)
public:
    explicit ParseTemporalPlugin(QObject *parent = nullptr);

    void setConnection(const ConnectionSettings &settings) override;
    BatchJob *submit(const QString &path, const SubmitOptions &options) override;
    BatchJob *submit(QIODevice *input, const QString &sourceName, const SubmitOptions &options) override;
    BatchJob *watch(const QString &batchId, const WatchOptions &options) override;
    MonitorJob *monitor(const QStringList &batchIds, const WatchOptions &options) override;
    ListJob *list(const ListOptions &options) override;
    BatchJob *retryFailed(const QString &batchId, const SubmitOptions &options) override;
    BatchJob *cancel(const QString &batchId, const WatchOptions &options, const QString &reason) override;
    ResultsJob *results(const QString &batchId, const ResultsOptions &options) override;
    Job *cleanUp(const CleanupOptions &options) override;
    Job *migrate(const MigrateOptions &options) override;
    Job *work(const WorkerOptions &options) override;

private:
    template <class J>
    J *shared(J *job) const;

    QNetworkAccessManager *m_nam;
    ConnectionSettings m_settings;
    ParseSession *m_session; // a child; a replaced one ends itself when let go
};

} // namespace membatch
