#pragma once

#include "parseclient.h"
#include "temporalclient.h"

#include <membatch/batchoptions.h>
#include <membatch/batchprogress.h>

#include <QElapsedTimer>
#include <QObject>

#include <functional>

namespace membatch {

// One activity task in the worker's hands: what every activity needs to
// settle its task with Temporal exactly once, and to keep asking a server
// that is briefly gone. Subclasses do the work: BatchActivity (the seeds'
// activity) and SettleActivity (the workflow's last word on a request).
class ActivityRun : public QObject
{
    Q_OBJECT
public:
    ActivityRun(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ActivityTask &task,
                const WorkerOptions &options, QObject *parent = nullptr);

    virtual void start() = 0;
    // The worker is stopping: end soon, giving the task back to Temporal
    // (another worker takes it) rather than finishing it. Does nothing where
    // finishing is the better ending (the default: short tasks).
    virtual void handBack() {}
    // Stops everything at once and reports nothing (the worker is going away):
    // Temporal hands the task on when its heartbeats stop or it times out.
    void abandon();

Q_SIGNALS:
    void progressChanged(const membatch::BatchProgress &progress);
    // The task is settled: reported to Temporal (or that report failed). Once.
    void finished(bool succeeded, const QString &message);

protected:
    // Sends a request, and again with backoff while its server is unreachable
    // or answers 5xx or 429, for up to retryForMs from the first failure (an
    // outage, a restart), and never past the attempt's start-to-close; then
    // done() gets the last answer. Only for calls that are safe to repeat
    // (stores with fixed ids, updates that set values). Retries wait on
    // context (this if null): deleting it drops them with its requests.
    void retrying(const std::function<void(RestClient::Handler)> &send, const std::function<void(const ApiResult &)> &done,
                  QObject *context = nullptr);
    // The policy behind retrying(), for work that is not one request: if r
    // is worth another try, the attempt-th of a run of failures that began
    // at failingSinceMs (elapsedMs()), runs again() on context after the
    // backoff and returns true.
    bool retryLater(const ApiResult &r, int attempt, qint64 failingSinceMs, QObject *context, std::function<void()> again);
    // The same for the task's last word to Temporal; halt() comes first.
    void report(const std::function<void(RestClient::Handler)> &send, const std::function<void(const ApiResult &)> &done);
    // RespondActivityTaskCompleted with result, then finished(true, message).
    void completeTask(const QJsonObject &result, const QString &message);
    // RespondActivityTaskFailed, then finished(false, message). A
    // non-retryable failure ends the activity: Temporal tries no other attempt.
    // nextRetryDelayMs >= 0: the next attempt comes after this long.
    void failTask(const QString &message, const QString &type, bool nonRetryable, qint64 nextRetryDelayMs = -1);
    void settle(bool succeeded, const QString &message);
    bool isSettled() const { return m_settled; }
    // No attempt of the retry policy comes after this one.
    bool isLastAttempt() const { return m_task.maximumAttempts > 0 && m_task.attempt >= m_task.maximumAttempts; }
    // Stops what the subclass keeps going on its own (timers, threads):
    // called once the task is being settled, or abandoned.
    virtual void halt() {}
    // The task is being settled or was abandoned: retries on contexts other
    // than this one are dropped, and subclasses start nothing new.
    bool isHalted() const { return m_halted; }
    // Halts now, before the task is settled (a failure about to be recorded).
    void stopWork();
    qint64 elapsedMs() const { return m_clock.elapsed(); }
    // How often to heartbeat: a third of the task's heartbeat timeout, within
    // bounds (and every 10 s when it has none: a cancel still gets through).
    int heartbeatIntervalMs() const;
    // Sends a heartbeat with details, unless the last one is still on its
    // way (no pile-up behind a slow server). A task Temporal no longer knows
    // (timed out and handed on, or the workflow ended) is abandoned, with
    // finished(false) saying so for what ("batch B"); answered() gets every
    // other answer that comes before the task is settled.
    void sendHeartbeat(const QJsonArray &details, const QString &what,
                       std::function<void(const ApiResult &, bool cancelRequested)> answered = {});

    ConnectionSettings m_settings;
    ParseClient m_parse;       // with the master key
    TemporalClient m_temporal;
    ActivityTask m_task;
    QString m_identity;

private:
    void retryFrom(const std::function<void(RestClient::Handler)> &send, const std::function<void(const ApiResult &)> &done,
                   QObject *context, int attempt, qint64 failingSinceMs);

    qint64 m_retryForMs;
    QElapsedTimer m_clock;
    bool m_heartbeatInFlight = false;
    bool m_settled = false;
    bool m_abandoned = false;
    bool m_halted = false;
};

} // namespace membatch
