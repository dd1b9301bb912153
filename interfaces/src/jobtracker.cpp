#include <membatch/jobtracker.h>

namespace membatch {

JobTracker::JobTracker(QObject *parent)
    : QObject(parent)
{
}

JobTracker::~JobTracker()
{
    const auto all = m_connections;
    for (auto it = all.cbegin(); it != all.cend(); ++it)
        forget(it.key());
}

void JobTracker::registerJob(Job *job)
{
    if (!job || m_connections.contains(job))
        return;
    QList<QMetaObject::Connection> c;
    c << connect(job, &Job::progressChanged, this, [this, job](const BatchProgress &progress) {
        progressChanged(job, progress);
        if (auto *batchJob = qobject_cast<BatchJob *>(job); batchJob && !progress.batchId.isEmpty()) {
            BatchStatus batch = batchJob->batch();
            if (batch.batchId.isEmpty())
                batch.batchId = progress.batchId;
            batchChanged(job, batch, progress);
        }
    });
    if (auto *monitor = qobject_cast<MonitorJob *>(job)) {
        c << connect(monitor, &MonitorJob::batchChanged, this,
                     [this, job](const BatchStatus &batch, const BatchProgress &progress) { batchChanged(job, batch, progress); });
    }
    c << connect(job, &Job::infoMessage, this, [this, job](const QString &message) { infoMessage(job, message); });
    c << connect(job, &Job::result, this, [this, job] {
        forget(job);
        finished(job);
    });
    c << connect(job, &QObject::destroyed, this, [this, job] { forget(job); });
    m_connections.insert(job, c);
    jobRegistered(job);
}

void JobTracker::unregisterJob(Job *job)
{
    forget(job);
}

void JobTracker::forget(Job *job)
{
    const QList<QMetaObject::Connection> c = m_connections.take(job);
    for (const QMetaObject::Connection &connection : c)
        disconnect(connection);
}

} // namespace membatch
