#include <membatch/compositejob.h>

#include <QPointer>

namespace membatch {

class CompositeJobPrivate
{
public:
    QList<Job *> running;
    QList<Job *> queued;
    QHash<Job *, QList<QMetaObject::Connection>> connections;
    int limit = 0;
    int dropped = 0;      // queued subjobs a stop() dropped
    bool started = false; // doStart() has run
    bool stopping = false;
    bool ending = false;  // finishWithSubjobs() or a kill: only waiting for the running ones
    bool killing = false; // inside doKill(): Job::kill() emits the result
    bool starting = false; // inside startQueued(): no re-entry
};

CompositeJob::CompositeJob(QObject *parent)
    : Job(parent)
    , d(new CompositeJobPrivate)
{
}

CompositeJob::~CompositeJob()
{
    // The subjobs are children and die with it; their results, if any,
    // must not come back to a half-destroyed composite.
    for (auto it = d->connections.cbegin(); it != d->connections.cend(); ++it) {
        for (const QMetaObject::Connection &c : it.value())
            QObject::disconnect(c);
    }
}

bool CompositeJob::addSubjob(Job *job)
{
    if (!job || job == this || job->isFinished() || d->connections.contains(job) || isFinished() || d->stopping || d->ending)
        return false;
    // Its signals are handled directly, and it becomes a child: one thread.
    if (job->thread() != thread())
        return false;
    job->setParent(this);
    job->setAutoDelete(false);
    QList<QMetaObject::Connection> &c = d->connections[job];
    c.append(connect(job, &Job::result, this, [this](Job *j) { subjobResult(j); }));
    c.append(connect(job, &Job::progressChanged, this, [this, job](const BatchProgress &p) {
        if (!isFinished() && !d->ending)
            subjobProgress(job, p);
    }));
    c.append(connect(job, &Job::infoMessage, this, [this](const QString &m) { emitInfo(m); }));
    // Deleted by someone else without a result: forgotten, and its slot freed.
    c.append(connect(job, &QObject::destroyed, this, [this, job] {
        const bool wasRunning = d->running.contains(job);
        forget(job);
        if (wasRunning)
            settle();
    }));
    d->queued.append(job);
    if (d->started)
        startQueued();
    return true;
}

bool CompositeJob::removeSubjob(Job *job)
{
    if (!d->connections.contains(job))
        return false;
    const bool wasRunning = d->running.contains(job);
    forget(job);
    job->setParent(nullptr);
    if (wasRunning)
        settle();
    return true;
}

void CompositeJob::setParallelLimit(int limit)
{
    d->limit = std::max(0, limit);
    if (d->started && !isFinished())
        startQueued();
}

int CompositeJob::parallelLimit() const
{
    return d->limit;
}

QList<Job *> CompositeJob::subjobs() const
{
    return d->running + d->queued;
}

int CompositeJob::runningSubjobCount() const
{
    return int(d->running.size());
}

int CompositeJob::queuedSubjobCount() const
{
    return int(d->queued.size());
}

void CompositeJob::doStart()
{
    d->started = true;
    startQueued();
    checkDrained();
}

bool CompositeJob::doKill()
{
    d->ending = true;
    d->killing = true;
    clearQueue();
    // A subjob's kill emits its result at once, which removes it from the
    // list: walk a copy, and mind one deleted meanwhile.
    const QList<QPointer<Job>> running(d->running.cbegin(), d->running.cend());
    for (const QPointer<Job> &job : running) {
        if (job)
            job->kill();
    }
    d->killing = false;
    if (d->running.isEmpty())
        return true;
    // One cannot be killed: the result waits for it (subjobResult() ends
    // the composite with this error when it has ended).
    setError(KilledError, tr("Stopped before it finished."));
    return false;
}

bool CompositeJob::doStop()
{
    if (d->running.isEmpty())
        return false; // nothing to wind down: killed
    d->stopping = true;
    d->dropped += clearQueue();
    // Asked again, it is asked again of them: a subjob that winds down is
    // hurried, one that cannot is killed (and its result comes here).
    const QList<QPointer<Job>> running(d->running.cbegin(), d->running.cend());
    for (const QPointer<Job> &job : running) {
        if (job && !isFinished())
            job->stop();
    }
    return true;
}

void CompositeJob::subjobFinished(Job *job)
{
    if (job->error()) {
        setError(job->error(), job->errorString());
        finishWithSubjobs();
    }
}

void CompositeJob::subjobProgress(Job *job, const BatchProgress &progress)
{
    Q_UNUSED(job)
    setProgress(progress);
}

void CompositeJob::subjobsDrained()
{
    if (d->dropped > 0 && !error())
        setError(KilledError, tr("Stopped: %n subjob(s) were not started.", nullptr, d->dropped));
    emitResult();
}

int CompositeJob::clearQueue()
{
    const QList<Job *> queued = std::exchange(d->queued, {});
    for (Job *job : queued) {
        forget(job);
        delete job; // never started: nothing of it is on the event loop
    }
    return int(queued.size());
}

void CompositeJob::finishWithSubjobs()
{
    if (isFinished() || d->ending)
        return;
    d->ending = true;
    clearQueue();
    const QList<QPointer<Job>> running(d->running.cbegin(), d->running.cend());
    for (const QPointer<Job> &job : running) {
        if (job)
            job->kill();
    }
    settle();
}

void CompositeJob::subjobResult(Job *job)
{
    const bool wasQueued = d->queued.contains(job); // killed before it was started
    forget(job);
    job->deleteLater(); // it is emitting its result: not now
    if (isFinished())
        return;
    if (!d->ending && !wasQueued)
        subjobFinished(job);
    settle(); // the hook, or a slot of its, may have ended the composite
}

void CompositeJob::settle()
{
    if (isFinished())
        return;
    if (d->ending) {
        // Waiting for the running ones only; a kill in progress emits itself.
        if (d->running.isEmpty() && !d->killing)
            emitResult();
        return;
    }
    if (!d->started)
        return;
    startQueued();
    checkDrained();
}

void CompositeJob::startQueued()
{
    if (d->starting || d->ending || isFinished())
        return;
    d->starting = true;
    while (!d->queued.isEmpty() && (d->limit <= 0 || d->running.size() < d->limit) && !isFinished()) {
        Job *job = d->queued.takeFirst();
        d->running.append(job);
        job->start(); // queued: it never ends in here
    }
    d->starting = false;
}

void CompositeJob::checkDrained()
{
    if (!isFinished() && d->started && !d->ending && !d->starting && d->running.isEmpty() && d->queued.isEmpty())
        subjobsDrained();
}

void CompositeJob::forget(Job *job)
{
    d->running.removeOne(job);
    d->queued.removeOne(job);
    for (const QMetaObject::Connection &c : d->connections.take(job))
        QObject::disconnect(c);
}

} // namespace membatch
