#include "workerjob.h"

#include "batchactivity.h"
#include "batchrequest.h"
#include "settleactivity.h"
#include "webhookactivity.h"
#include "logging.h"

namespace membatch {

WorkerJob::WorkerJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const WorkerOptions &options,
                     QObject *parent)
    : Job(parent)
    , m_nam(nam)
    , m_settings(settings)
    , m_options(options)
    , m_temporal(nam, settings)
    , m_poller(settings)
{
    if (m_options.identity.isEmpty())
        m_options.identity = processIdentity(QStringLiteral("membatch-worker"));
    m_options.concurrency = std::clamp(m_options.concurrency, 1, 64);
    m_options.pollers = std::clamp(m_options.pollers, 1, m_options.concurrency);
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &WorkerJob::fillPolls);
    m_graceTimer.setSingleShot(true);
    connect(&m_graceTimer, &QTimer::timeout, this, &WorkerJob::handBackAll);
    m_clock.start();
}

void WorkerJob::doStart()
{
    const QStringList missing = m_settings.missingForWorker();
    if (!missing.isEmpty()) {
        setError(ConfigurationError, tr("cannot run a worker: set %1").arg(missing.join(QStringLiteral(", "))));
        emitResult();
        return;
    }
    fillPolls();
}

bool WorkerJob::doKill()
{
    m_retryTimer.stop();
    ActivityTaskPoller::cancelAll(this);
    RestClient::abortAll(this);
    // An unfinished task is left to Temporal: its heartbeats stop, so the
    // heartbeat timeout hands it to another worker within seconds; its
    // memories carry fixed ids, so the next attempt adds no copies.
    // deleteLater: we may be inside one of the activity's own signals.
    for (const QPointer<ActivityRun> &activity : std::as_const(m_activities)) {
        if (!activity)
            continue;
        activity->disconnect(this);
        activity->abandon();
        activity->deleteLater();
    }
    m_activities.clear();
    return true;
}

bool WorkerJob::doStop()
{
    if (m_stopping) {
        emitInfo(tr("stopping now: handing back what is left"));
        handBackAll();
        return true;
    }
    m_stopping = true;
    m_retryTimer.stop();
    ActivityTaskPoller::cancelAll(this); // no new tasks
    m_pollsInFlight = 0;
    if (m_activities.isEmpty()) {
        emitResult();
        return true;
    }
    emitInfo(tr("stopping: no new tasks; %n running task(s) may finish for %1 s, then are handed back", nullptr,
                int(m_activities.size()))
                 .arg(m_options.shutdownGraceMs / 1000.0));
    m_graceTimer.start(int(std::clamp<qint64>(m_options.shutdownGraceMs, 0, 24 * 3600 * 1000)));
    return true;
}

void WorkerJob::handBackAll()
{
    m_graceTimer.stop();
    const QList<QPointer<ActivityRun>> activities = m_activities;
    for (const QPointer<ActivityRun> &activity : activities)
        if (activity)
            activity->handBack();
}

void WorkerJob::fillPolls()
{
    if (isFinished() || m_stopping || m_retryTimer.isActive())
        return;
    const int freeSlots = m_options.concurrency - int(m_activities.size()) - m_pollsInFlight;
    int wanted = std::min(freeSlots, m_options.pollers - m_pollsInFlight);
    if (m_options.maxTasks > 0)
        wanted = std::min(wanted, m_options.maxTasks - claimed());
    for (int i = 0; i < wanted; ++i) {
        ++m_pollsInFlight;
        const qint64 startedMs = m_clock.elapsed();
        m_poller.poll(m_options.identity, this, [this, startedMs](const ApiResult &r, const ActivityTask &task) {
            polled(r, task, startedMs);
        });
    }
}

void WorkerJob::polled(const ApiResult &r, const ActivityTask &task, qint64 startedMs)
{
    --m_pollsInFlight;
    if (!r.ok()) {
        // Failing on the very first poll means a wrong address or namespace:
        // say so at once. Later ones may be a restart: ride it out.
        const qint64 now = m_clock.elapsed();
        if (m_failingSinceMs < 0)
            m_failingSinceMs = now;
        const bool transient = r.error == NetworkError || r.error == ServerError;
        // Polls ride out as long an outage as the activities do.
        const qint64 tolerance = std::max<qint64>(OutageToleranceMs, m_options.retryForMs);
        if (!m_everPolled || !transient || now - m_failingSinceMs > tolerance) {
            ActivityTaskPoller::cancelAll(this);
            setError(r.error, tr("polling task queue %1: %2").arg(m_settings.taskQueue, r.message));
            emitResult();
            return;
        }
        const int delayMs = std::min(200 << std::min(m_pollFailures++, 4), 5000);
        qCWarning(lcWorker) << "poll failed, polling again in" << delayMs << "ms:" << r.message;
        if (!m_retryTimer.isActive())
            m_retryTimer.start(delayMs);
        return;
    }
    m_everPolled = true;
    m_pollFailures = 0;
    m_failingSinceMs = -1;
    if (task.isEmpty()) { // the long poll ran out with nothing to do
        const qint64 took = m_clock.elapsed() - startedMs;
        if (took < MinPollIntervalMs && !m_retryTimer.isActive())
            m_retryTimer.start(int(MinPollIntervalMs - took));
        fillPolls();
        return;
    }
    if (task.activityType != BatchRequest::ActivityType && task.activityType != BatchRequest::SettleActivityType
        && task.activityType != BatchRequest::WebhookActivityType)
        rejectUnknown(task);
    else
        run(task);
    fillPolls();
}

void WorkerJob::run(const ActivityTask &task)
{
    ActivityRun *activity = nullptr;
    if (task.activityType == BatchRequest::SettleActivityType)
        activity = new SettleActivity(m_nam, m_settings, task, m_options, this);
    else if (task.activityType == BatchRequest::WebhookActivityType)
        activity = new WebhookActivity(m_nam, m_settings, task, m_options, this);
    else
        activity = new BatchActivity(m_nam, m_settings, task, m_options, this);
    m_activities.append(activity);
    connect(activity, &ActivityRun::progressChanged, this, [this](const BatchProgress &p) { setProgress(p); });
    connect(activity, &ActivityRun::finished, this, [this, activity](bool succeeded, const QString &message) {
        taskFinished(activity, succeeded, message);
    });
    activity->start();
    emitInfo(tr("took the task of workflow %1 (attempt %2)").arg(task.workflowId).arg(task.attempt));
}

void WorkerJob::rejectUnknown(const ActivityTask &task)
{
    const QString message = tr("this worker runs only %1, %2 and %3 activities, not %4")
                                .arg(BatchRequest::ActivityType, BatchRequest::SettleActivityType, BatchRequest::WebhookActivityType,
                                     task.activityType);
    ++m_pollsInFlight; // the slot stays taken until Temporal has the answer
    m_temporal.failActivity(task.taskToken, message, QStringLiteral("UnknownActivity"), true, m_options.identity, this,
                            [this](const ApiResult &) {
                                --m_pollsInFlight;
                                fillPolls();
                            });
}

void WorkerJob::taskFinished(ActivityRun *activity, bool succeeded, const QString &message)
{
    m_activities.removeAll(activity);
    activity->deleteLater();
    ++m_tasksDone;
    emitInfo(succeeded ? message : tr("task failed: %1").arg(message));
    if (isFinished())
        return; // killed by a slot that heard the message
    if ((m_stopping && m_activities.isEmpty()) || (m_options.maxTasks > 0 && m_tasksDone >= m_options.maxTasks)) {
        emitResult();
        return;
    }
    fillPolls();
}

} // namespace membatch
