#include "workerjob.h"

#include "batchactivity.h"
#include "batchrequest.h"
#include "logging.h"


namespace membatch {

WorkerJob::WorkerJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const WorkerOptions &options,
                     QObject *parent)
    : Job(parent)
    , m_nam(nam)
    , m_settings(settings)
    , m_options(options)
    , m_temporal(nam, settings)
{
    if (m_options.identity.isEmpty())
        m_options.identity = processIdentity(QStringLiteral("membatch-worker"));
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &WorkerJob::poll);
}

void WorkerJob::doStart()
{
    const QStringList missing = m_settings.missingForWorker();
    if (!missing.isEmpty()) {
        setError(ConfigurationError, tr("cannot run a worker: set %1").arg(missing.join(QStringLiteral(", "))));
        emitResult();
        return;
    }
    poll();
}

bool WorkerJob::doKill()
{
    m_retryTimer.stop();
    RestClient::abortAll(this);
    // An unfinished task is left to Temporal's timeouts and retry policy;
    // its memories carry fixed ids, so the next attempt adds no copies.
    // deleteLater: we may be inside one of the activity's own signals.
    if (m_activity) {
        m_activity->disconnect(this);
        RestClient::abortAll(m_activity);
        m_activity->deleteLater();
    }
    return true;
}

void WorkerJob::poll()
{
    m_pollClock.start();
    m_temporal.pollActivityTask(m_options.identity, this, [this](const ApiResult &r, const ActivityTask &task) {
        if (!r.ok()) {
            // Failing on the very first poll means a wrong address or
            // namespace; later ones may be a restart: back off and retry.
            if (!m_everPolled || ++m_pollFailures >= MaxConsecutivePollFailures) {
                setError(r.error, tr("polling task queue %1: %2").arg(m_settings.taskQueue, r.message));
                emitResult();
                return;
            }
            const int delayMs = 500 * (1 << m_pollFailures);
            qCWarning(lcWorker) << "poll failed, retrying in" << delayMs << "ms:" << r.message;
            m_retryTimer.start(delayMs);
            return;
        }
        m_everPolled = true;
        m_pollFailures = 0;
        if (task.isEmpty()) { // the long poll ran out with nothing to do
            m_retryTimer.start(int(std::max<qint64>(0, MinPollIntervalMs - m_pollClock.elapsed())));
            return;
        }
        if (task.activityType != BatchRequest::ActivityType) {
            rejectUnknown(task);
            return;
        }
        run(task);
    });
}

void WorkerJob::run(const ActivityTask &task)
{
    m_activity = new BatchActivity(m_nam, m_settings, task, m_options.identity, m_options.progressEvery, this);
    connect(m_activity, &BatchActivity::progressChanged, this, [this](const BatchProgress &p) { setProgress(p); });
    connect(m_activity, &BatchActivity::finished, this, &WorkerJob::taskFinished);
    m_activity->start();
    emitInfo(tr("took the task of workflow %1 (attempt %2)").arg(task.workflowId).arg(task.attempt));
}

void WorkerJob::rejectUnknown(const ActivityTask &task)
{
    const QString message = tr("this worker runs only %1 activities, not %2").arg(BatchRequest::ActivityType, task.activityType);
    m_temporal.failActivity(task.taskToken, message, QStringLiteral("UnknownActivity"), true, m_options.identity, this,
                            [this](const ApiResult &) { poll(); });
}

void WorkerJob::taskFinished(bool succeeded, const QString &message)
{
    if (m_activity)
        m_activity->deleteLater();
    ++m_tasksDone;
    emitInfo(succeeded ? message : tr("task failed: %1").arg(message));
    if (isFinished())
        return; // killed by a slot that heard the message
    if (m_options.maxTasks > 0 && m_tasksDone >= m_options.maxTasks) {
        emitResult();
        return;
    }
    poll();
}

} // namespace membatch
