#pragma once

#include <membatch/job.h>
#include <membatch/membatch_export.h>

#include <QHash>
#include <QList>
#include <QMetaObject>
#include <QObject>

namespace membatch {

// Follows jobs for a user interface or a record, after KDE's
// KJobTrackerInterface: registerJob() listens to a job's signals until its
// result(), and a subclass overrides the hooks it needs. The CLI's printer,
// the journal and the dashboard's model are trackers. Every hook runs on
// the job's thread, from its signals.
class MEMBATCH_EXPORT JobTracker : public QObject
{
    Q_OBJECT
public:
    explicit JobTracker(QObject *parent = nullptr);
    ~JobTracker() override;

    // Follows the job until its result() or unregisterJob(). A job deleted
    // without a result is forgotten (finished() is not called).
    virtual void registerJob(membatch::Job *job);
    virtual void unregisterJob(membatch::Job *job);
    QList<Job *> jobs() const { return m_connections.keys(); }

protected:
    virtual void jobRegistered(Job *job) { Q_UNUSED(job) }
    virtual void progressChanged(Job *job, const BatchProgress &progress) { Q_UNUSED(job) Q_UNUSED(progress) }
    // One batch's state: each batchChanged() of a MonitorJob, and each
    // progress of a BatchJob that names its batch (with the job's batch()).
    virtual void batchChanged(Job *job, const BatchStatus &batch, const BatchProgress &progress)
    {
        Q_UNUSED(job) Q_UNUSED(batch) Q_UNUSED(progress)
    }
    virtual void infoMessage(Job *job, const QString &message) { Q_UNUSED(job) Q_UNUSED(message) }
    // The job's result(): the job is still alive here (and deleted after,
    // if it deletes itself); error() and, for a BatchJob, batch() are final.
    virtual void finished(Job *job) { Q_UNUSED(job) }

private:
    void forget(Job *job);

    QHash<Job *, QList<QMetaObject::Connection>> m_connections;
};

} // namespace membatch
