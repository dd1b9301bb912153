#pragma once

#include "activitytaskpoller.h"
#include "temporalclient.h"

#include <membatch/batchoptions.h>
#include <membatch/job.h>

#include <QElapsedTimer>
#include <QList>
#include <QPointer>
#include <QTimer>

namespace membatch {

class ActivityRun;

// The reference worker's loop: long-poll the task queue for activity tasks
// over gRPC, run each (a BatchActivity, or a SettleActivity), and poll again; up to
// `concurrency` tasks at once with up to `pollers` polls in flight, until
// killed or maxTasks. A server that vanishes (a restart, say) is polled again
// with backoff for up to OutageToleranceMs (or retryForMs, if longer) before
// the worker gives up.
class WorkerJob : public Job
{
    Q_OBJECT
public:
    WorkerJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const WorkerOptions &options,
              QObject *parent = nullptr);

    static constexpr int OutageToleranceMs = 60000;
    // An empty answer sooner than this is not a long poll that ran out (a
    // proxy, say): wait this long before the next poll, not spin.
    static constexpr int MinPollIntervalMs = 1000;

protected:
    void doStart() override;
    bool doKill() override;
    // No more polls; running tasks finish within shutdownGraceMs, then the
    // rest is handed back; a second stop() hands it back at once.
    bool doStop() override;

private:
    // Starts as many polls as free slots, pollers and maxTasks allow.
    void fillPolls();
    void polled(const ApiResult &r, const ActivityTask &task, qint64 startedMs);
    void run(const ActivityTask &task);
    void rejectUnknown(const ActivityTask &task);
    void taskFinished(ActivityRun *activity, bool succeeded, const QString &message);
    void handBackAll();
    int claimed() const { return m_tasksDone + int(m_activities.size()) + m_pollsInFlight; }

    QNetworkAccessManager *m_nam;
    ConnectionSettings m_settings;
    WorkerOptions m_options;
    TemporalClient m_temporal;
    ActivityTaskPoller m_poller;
    QTimer m_retryTimer;
    QElapsedTimer m_clock;
    QList<QPointer<ActivityRun>> m_activities;
    int m_pollsInFlight = 0;
    int m_tasksDone = 0;
    int m_pollFailures = 0;
    qint64 m_failingSinceMs = -1;
    bool m_everPolled = false;
    bool m_stopping = false;
    QTimer m_graceTimer;
};

} // namespace membatch
