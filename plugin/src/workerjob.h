#pragma once

#include "temporalclient.h"

#include <membatch/batchoptions.h>
#include <membatch/job.h>

#include <QElapsedTimer>
#include <QPointer>
#include <QTimer>

namespace membatch {

class BatchActivity;

// The reference worker's loop: poll the task queue for activity tasks, run
// each through a BatchActivity, and poll again; until killed or maxTasks.
// A server that vanishes is retried with backoff, a few times in a row.
class WorkerJob : public Job
{
    Q_OBJECT
public:
    WorkerJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const WorkerOptions &options,
              QObject *parent = nullptr);

    static constexpr int MaxConsecutivePollFailures = 5;
    // An empty answer sooner than this is not a long poll that ran out (a
    // proxy, say): wait this long before the next poll, not spin.
    static constexpr int MinPollIntervalMs = 1000;

protected:
    void doStart() override;
    bool doKill() override;

private:
    void poll();
    void run(const ActivityTask &task);
    void rejectUnknown(const ActivityTask &task);
    void taskFinished(bool succeeded, const QString &message);

    QNetworkAccessManager *m_nam;
    ConnectionSettings m_settings;
    WorkerOptions m_options;
    TemporalClient m_temporal;
    QTimer m_retryTimer;
    QElapsedTimer m_pollClock;
    QPointer<BatchActivity> m_activity;
    int m_tasksDone = 0;
    int m_pollFailures = 0;
    bool m_everPolled = false;
};

} // namespace membatch
