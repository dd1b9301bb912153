#include "parsetemporalplugin.h"

#include "batchlistjob.h"
#include "canceljob.h"
#include "cleanupjob.h"
#include "itemresultsjob.h"
#include "migratejob.h"
#include "parsesession.h"
#include "retryfailedjob.h"
#include "monitorjob.h"
#include "submitjob.h"
#include "watchjob.h"
#include "workerjob.h"

#include <QNetworkAccessManager>

namespace membatch {

ParseTemporalPlugin::ParseTemporalPlugin(QObject *parent)
    : QObject(parent)
    , m_nam(new QNetworkAccessManager(this))
    , m_session(new ParseSession(m_nam, m_settings, this))
{
    m_nam->setAutoDeleteReplies(false); // replies belong to the jobs (RestClient sets the timeouts)
}

void ParseTemporalPlugin::setConnection(const ConnectionSettings &settings)
{
    m_settings = settings;
    if (m_session->differsFrom(settings)) {
        // Jobs that hold the old session keep it until they end; new ones get this.
        m_session->retire();
        m_session = new ParseSession(m_nam, settings, this);
    }
    m_session->setLinger(settings.sessionLingerMs); // a kept session takes the new linger too
}

template <class J>
J *ParseTemporalPlugin::shared(J *job) const
{
    job->setSession(m_session);
    return job;
}

BatchJob *ParseTemporalPlugin::submit(const QString &path, const SubmitOptions &options)
{
    return shared(new SubmitJob(m_nam, m_settings, path, options));
}

BatchJob *ParseTemporalPlugin::submit(QIODevice *input, const QString &sourceName, const SubmitOptions &options)
{
    return shared(new SubmitJob(m_nam, m_settings, input, sourceName, options));
}

BatchJob *ParseTemporalPlugin::watch(const QString &batchId, const WatchOptions &options)
{
    return shared(new WatchJob(m_nam, m_settings, batchId, options));
}

MonitorJob *ParseTemporalPlugin::monitor(const QStringList &batchIds, const WatchOptions &options)
{
    return shared(new ParseMonitorJob(m_nam, m_settings, batchIds, options));
}

ListJob *ParseTemporalPlugin::list(const ListOptions &options)
{
    return shared(new BatchListJob(m_nam, m_settings, options));
}

BatchJob *ParseTemporalPlugin::retryFailed(const QString &batchId, const SubmitOptions &options)
{
    return shared(new RetryFailedJob(m_nam, m_settings, batchId, options));
}

BatchJob *ParseTemporalPlugin::cancel(const QString &batchId, const WatchOptions &options, const QString &reason)
{
    return shared(new CancelJob(m_nam, m_settings, batchId, options, reason));
}

ResultsJob *ParseTemporalPlugin::results(const QString &batchId, const ResultsOptions &options)
{
    return shared(new ItemResultsJob(m_nam, m_settings, batchId, options));
}

Job *ParseTemporalPlugin::cleanUp(const CleanupOptions &options)
{
    return new CleanupJob(m_nam, m_settings, options);
}

Job *ParseTemporalPlugin::migrate(const MigrateOptions &options)
{
    return new MigrateJob(m_nam, m_settings, options);
}

Job *ParseTemporalPlugin::work(const WorkerOptions &options)
{
    return new WorkerJob(m_nam, m_settings, options);
}

} // namespace membatch
