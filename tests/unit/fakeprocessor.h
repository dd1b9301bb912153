#pragma once

// A test-only IBatchProcessor whose jobs the test drives by hand: each job
// does nothing until told (emit a state, end with an error), and the
// processor records every call. For the dashboard's tests, which must not
// depend on the plugin (the dashboard links only the interfaces).

#include <membatch/ibatchprocessor.h>
#include <membatch/job.h>

#include <QList>
#include <QPointer>
#include <QStringList>

namespace fake {

using namespace membatch;

inline BatchStatus batch(const QString &id, const QString &status, qint64 total, qint64 ok, qint64 failed)
{
    BatchStatus b;
    b.batchId = id;
    b.requestId = QStringLiteral("req-") + id;
    b.status = status;
    b.totalMemories = total;
    b.processedCount = ok + failed;
    b.successCount = ok;
    b.failCount = failed;
    return b;
}

inline BatchProgress progressOf(const BatchStatus &b, BatchProgress::Phase phase)
{
    // The state's counts (BatchProgress::fromStatus), in the phase and with the
    // raw status the test says.
    BatchProgress p = BatchProgress::fromStatus(b);
    p.phase = phase;
    p.status = b.status;
    return p;
}

class BatchJob : public membatch::BatchJob
{
    Q_OBJECT
public:
    using membatch::BatchJob::BatchJob;
    bool started = false;

    void push(const BatchStatus &b, const BatchProgress &p)
    {
        setBatch(b);
        setProgress(p);
    }
    void finish(int error = NoError, const QString &text = {}, const BatchStatus &b = {})
    {
        if (!b.batchId.isEmpty())
            setBatch(b);
        if (error != NoError)
            setError(error, text);
        emitResult();
    }

protected:
    void doStart() override { started = true; }
};

class MonitorJob : public membatch::MonitorJob
{
    Q_OBJECT
public:
    using membatch::MonitorJob::MonitorJob;
    QStringList added; // doAddBatch() calls, in order

    void push(const BatchStatus &b, const BatchProgress &p) { updateBatch(b, p); }
    void finish(int error = NoError, const QString &text = {})
    {
        if (error != NoError)
            setError(error, text);
        emitResult();
    }

protected:
    void doStart() override { }
    void doAddBatch(const QString &batchId) override { added << batchId; }
};

class ListJob : public membatch::ListJob
{
    Q_OBJECT
public:
    using membatch::ListJob::ListJob;

    void finish(const QList<BatchStatus> &batches, int error = NoError, const QString &text = {})
    {
        setBatches(batches, {});
        if (error != NoError)
            setError(error, text);
        emitResult();
    }

protected:
    void doStart() override { }
};

class Processor : public IBatchProcessor
{
public:
    QStringList canceled;   // batch ids, in call order
    QStringList cancelReasons;
    QStringList retried;
    QStringList submitted;  // paths
    QList<QPointer<BatchJob>> jobs; // every job handed out, for the test to drive
    bool refuse = false;    // answer nullptr, as a plugin without the call would

    void setConnection(const ConnectionSettings &) override { }
    membatch::BatchJob *submit(const QString &path, const SubmitOptions &) override
    {
        submitted << path;
        return made();
    }
    membatch::BatchJob *submit(QIODevice *, const QString &name, const SubmitOptions &) override
    {
        submitted << name;
        return made();
    }
    membatch::BatchJob *watch(const QString &, const WatchOptions &) override { return made(); }
    membatch::MonitorJob *monitor(const QStringList &, const WatchOptions &) override { return nullptr; }
    membatch::ListJob *list(const ListOptions &) override { return nullptr; }
    membatch::BatchJob *retryFailed(const QString &batchId, const SubmitOptions &) override
    {
        retried << batchId;
        return made();
    }
    membatch::BatchJob *cancel(const QString &batchId, const WatchOptions &, const QString &reason) override
    {
        canceled << batchId;
        cancelReasons << reason;
        return made();
    }
    membatch::ResultsJob *results(const QString &, const ResultsOptions &) override { return nullptr; }
    membatch::Job *cleanUp(const CleanupOptions &) override { return nullptr; }
    membatch::Job *migrate(const MigrateOptions &) override { return nullptr; }
    membatch::Job *work(const WorkerOptions &) override { return nullptr; }

    BatchJob *last() const { return jobs.isEmpty() ? nullptr : jobs.last().data(); }

private:
    BatchJob *made()
    {
        if (refuse)
            return nullptr;
        auto *job = new BatchJob;
        jobs << job;
        return job;
    }
};

} // namespace fake
