#include "activityrun.h"

#include "logging.h"

#include <membatch/job.h>

#include <QRandomGenerator>
#include <QTimer>

#include <limits>

namespace membatch {

namespace {

// A request that finds its server unreachable (or answering 5xx or 429) is
// sent again after up to 0.5 s, 1 s, 2 s, ... up to this (full jitter), for
// WorkerOptions::retryForMs.
constexpr int kMaxRetryDelayMs = 10000;
// Left of the attempt's start-to-close for its last report.
constexpr qint64 kDeadlineMarginMs = 10000;

} // namespace

ActivityRun::ActivityRun(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ActivityTask &task,
                         const WorkerOptions &options, QObject *parent)
    : QObject(parent)
    , m_settings(settings)
    , m_parse(nam, settings, ParseClient::Auth::Master)
    , m_temporal(nam, settings)
    , m_task(task)
    , m_identity(options.identity)
    , m_retryForMs(std::max<qint64>(0, options.retryForMs))
{
    // Never past the attempt's own deadline: Temporal would have handed the
    // task on by then, and the retries would be working for nobody.
    if (m_task.startToCloseTimeoutMs > 0)
        m_retryForMs = std::min(m_retryForMs, std::max<qint64>(0, m_task.startToCloseTimeoutMs - kDeadlineMarginMs));
    m_clock.start();
    // The worker's calls retry in retrying(), within the task's window.
    m_parse.setRetryPolicy(RetryPolicy::none());
    m_temporal.setRetryPolicy(RetryPolicy::none());
}

int ActivityRun::heartbeatIntervalMs() const
{
    constexpr qint64 minMs = 100;
    constexpr qint64 maxMs = 10000;
    const qint64 timeout = m_task.heartbeatTimeoutMs > 0 ? m_task.heartbeatTimeoutMs : 3 * maxMs;
    return int(std::clamp(timeout / 3, minMs, maxMs));
}

void ActivityRun::sendHeartbeat(const QJsonArray &details, const QString &what,
                                std::function<void(const ApiResult &, bool)> answered)
{
    if (m_halted || m_heartbeatInFlight)
        return;
    m_heartbeatInFlight = true;
    m_temporal.heartbeat(m_task.taskToken, details, m_identity, this,
                         [this, what, answered = std::move(answered)](const ApiResult &r, bool cancelRequested) {
        m_heartbeatInFlight = false;
        if (m_halted)
            return; // answered while the task is being settled: nothing left to stop
        if (r.error == Job::NotFoundError) {
            abandon(); // not ours any more: nothing to report
            Q_EMIT finished(false, tr("%1: Temporal no longer knows this task: %2").arg(what, r.message));
            return;
        }
        if (answered)
            answered(r, cancelRequested);
    }, heartbeatIntervalMs());
}

void ActivityRun::abandon()
{
    m_abandoned = true;
    m_settled = true;
    m_halted = true;
    halt();
    RestClient::abortAll(this);
}

void ActivityRun::retrying(const std::function<void(RestClient::Handler)> &send,
                           const std::function<void(const ApiResult &)> &done, QObject *context)
{
    retryFrom(send, done, context ? context : this, 0, -1);
}

void ActivityRun::retryFrom(const std::function<void(RestClient::Handler)> &send,
                            const std::function<void(const ApiResult &)> &done, QObject *context, int attempt,
                            qint64 failingSinceMs)
{
    send([this, send, done, context, attempt, failingSinceMs](const ApiResult &r) {
        const qint64 since = failingSinceMs < 0 ? m_clock.elapsed() : failingSinceMs;
        if (!retryLater(r, attempt, since, context, [this, send, done, context, attempt, since] {
                retryFrom(send, done, context, attempt + 1, since);
            }))
            done(r);
    });
}

bool ActivityRun::retryLater(const ApiResult &r, int attempt, qint64 failingSinceMs, QObject *context,
                             std::function<void()> again)
{
    // The one policy, with the worker's window: every call of the worker is
    // safe to repeat (fixed ids, values set), so unknown outcomes and 5xx
    // are retried too, for as long as the outage tolerance allows.
    RetryPolicy policy;
    policy.maxAttempts = std::numeric_limits<int>::max();
    policy.baseDelayMs = 500;
    policy.maxDelayMs = kMaxRetryDelayMs;
    policy.maxRetryAfterMs = m_retryForMs;
    policy.budgetMs = m_retryForMs;
    policy.serverErrorsAreTransient = true;
    const qint64 now = m_clock.elapsed();
    const qint64 delayMs = policy.delayMs(r, true, attempt + 1, now - failingSinceMs, QRandomGenerator::global()->generateDouble());
    if (delayMs < 0)
        return false;
    qCWarning(lcWorker) << m_task.workflowId << ": going on in" << delayMs << "ms after:" << r.message;
    QTimer::singleShot(int(delayMs), context, [this, context, again = std::move(again)] {
        if (!m_abandoned && (context == this || !m_halted))
            again();
    });
    return true;
}

void ActivityRun::stopWork()
{
    if (m_halted)
        return;
    m_halted = true;
    halt();
}

void ActivityRun::report(const std::function<void(RestClient::Handler)> &send,
                         const std::function<void(const ApiResult &)> &done)
{
    stopWork(); // the task is being settled: nothing more to tell
    retrying(send, done);
}

void ActivityRun::completeTask(const QJsonObject &result, const QString &message)
{
    report([this, result](RestClient::Handler h) {
        m_temporal.completeActivity(m_task.taskToken, QJsonArray{result}, m_identity, this, std::move(h));
    },
           [this, message](const ApiResult &r) {
               if (!r.ok())
                   settle(false, tr("%1, but telling Temporal failed: %2").arg(message, r.message));
               else
                   settle(true, message);
           });
}

void ActivityRun::failTask(const QString &message, const QString &type, bool nonRetryable, qint64 nextRetryDelayMs)
{
    report([this, message, type, nonRetryable, nextRetryDelayMs](RestClient::Handler h) {
        m_temporal.failActivity(m_task.taskToken, message, type, nonRetryable, m_identity, this, std::move(h), nextRetryDelayMs);
    },
           [this, message](const ApiResult &r) {
               if (!r.ok())
                   qCWarning(lcWorker) << "could not report the failure to Temporal:" << r.message;
               settle(false, message);
           });
}

void ActivityRun::settle(bool succeeded, const QString &message)
{
    if (m_settled)
        return;
    m_settled = true;
    stopWork();
    Q_EMIT finished(succeeded, message);
}

} // namespace membatch
