#pragma once

#include <membatch/job.h>
#include <membatch/membatch_export.h>

#include <QList>
#include <QScopedPointer>

namespace membatch {

class CompositeJobPrivate;

// A job made of subjobs, after KDE's KCompositeJob, with Qt Creator
// Tasking's parallel limit: addSubjob() queues a job, and it is started
// when the composite runs and fewer than parallelLimit() subjobs do. Each
// subjob's result() comes to subjobFinished() (by default the first error
// ends the composite with that error and kills the rest), its progress to
// subjobProgress() (by default forwarded as the composite's), its messages
// are forwarded. kill() kills the running subjobs and drops the queue;
// stop() passes stop() down to the running ones and drops the queue. The
// composite owns its subjobs: each is deleted (later) once it has ended,
// what is left with the composite. Its result() comes only after every
// subjob it started has ended: a file is never left half sent behind it.
// Subjobs live on the composite's thread. A kill() before the event loop
// has run the composite's start ends it without starting any subjob (they
// are deleted with it).
class MEMBATCH_EXPORT CompositeJob : public Job
{
    Q_OBJECT
public:
    explicit CompositeJob(QObject *parent = nullptr);
    ~CompositeJob() override;

    // Takes job (and its ownership: it becomes a child of the composite,
    // without autodelete), queued after the others. Returns false, and
    // leaves the job to the caller, if it is null, already added or ended,
    // on another thread, or the composite has finished or is winding down
    // (stop()). Queued subjobs may be added before start().
    bool addSubjob(Job *job);
    // Gives a subjob back to the caller (queued: it will not be started;
    // running: it goes on, unwatched). Returns false if it is not one.
    bool removeSubjob(Job *job);

    // How many subjobs run at once; 0 (the default): no limit. Raising it
    // starts queued ones.
    void setParallelLimit(int limit);
    int parallelLimit() const;

    // The subjobs not yet ended: the running ones, then the queue in order.
    QList<Job *> subjobs() const;
    int runningSubjobCount() const;
    int queuedSubjobCount() const;

protected:
    // Starts what the limit allows. A subclass that overrides it calls it.
    void doStart() override;
    bool doKill() override;
    bool doStop() override;

    // A subjob has ended (it is no longer in subjobs(), and is deleted after
    // this returns). Not called for the subjobs a kill of the composite, or
    // the end after a first error, brings down.
    virtual void subjobFinished(Job *job);
    // Called only while the composite has not finished.
    virtual void subjobProgress(Job *job, const BatchProgress &progress);
    // Nothing runs and nothing waits (after start, or after a subjob's
    // end). By default the composite ends: with KilledError if a stop()
    // dropped queued subjobs. A subclass that feeds subjobs as they come
    // overrides it.
    virtual void subjobsDrained();

    // Deletes the queued subjobs; returns how many there were.
    int clearQueue();
    // Ends the composite once the running subjobs have: kills them, drops
    // the queue, and emits result() (with the error set before, if any)
    // when the last has ended; subjobFinished() is no longer called.
    void finishWithSubjobs();

private:
    void subjobResult(Job *job);
    void startQueued();
    void checkDrained();
    void settle();
    void forget(Job *job);

    QScopedPointer<CompositeJobPrivate> d;
};

} // namespace membatch
