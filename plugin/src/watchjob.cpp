#include "watchjob.h"

#include "monitorjob.h"

namespace membatch {

WatchJob::WatchJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
                   const WatchOptions &options, QObject *parent)
    : BatchJob(parent)
    , m_monitor(new ParseMonitorJob(nam, settings, {batchId}, options, this))
{
    m_monitor->setAutoDelete(false);
    BatchStatus initial;
    initial.batchId = batchId;
    setBatch(initial);
    connect(m_monitor, &MonitorJob::batchChanged, this, [this](const BatchStatus &batch, const BatchProgress &progress) {
        setBatch(batch);
        setProgress(progress);
    });
    connect(m_monitor, &Job::result, this, [this](Job *job) {
        setError(job->error(), job->errorString());
        emitResult();
    });
}

WatchJob::~WatchJob() = default;

WatchJob *WatchJob::onSession(QNetworkAccessManager *nam, ConnectionSettings settings, const QString &sessionToken,
                              const QString &batchId, const WatchOptions &options, QObject *parent)
{
    settings.sessionToken = sessionToken;
    auto *watch = new WatchJob(nam, settings, batchId, options, parent);
    watch->setAutoDelete(false);
    return watch;
}

void WatchJob::setSession(ParseSession *session)
{
    m_monitor->setSession(session);
}

void WatchJob::doStart()
{
    m_monitor->start();
}

bool WatchJob::doKill()
{
    if (m_monitor) {
        m_monitor->disconnect(this); // our own result is the kill's
        m_monitor->kill();
    }
    return true;
}

} // namespace membatch
