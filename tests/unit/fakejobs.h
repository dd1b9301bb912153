#pragma once

// Jobs a test drives by hand, for trackers: a batch job (submit, watch) and
// a monitor of several batches. Nothing happens unless the test says so.

#include <membatch/job.h>

namespace fake {

inline membatch::BatchStatus batch(const QString &id, const QString &status, qint64 total = 0, qint64 processed = 0,
                                   qint64 failed = 0)
{
    membatch::BatchStatus b;
    b.batchId = id;
    b.status = status;
    b.totalMemories = total;
    b.processedCount = processed;
    b.failCount = failed;
    b.successCount = processed - failed;
    return b;
}

inline membatch::BatchProgress progress(const membatch::BatchStatus &b, membatch::BatchProgress::Phase phase)
{
    // The state's counts (BatchProgress::fromStatus), in the phase and with the
    // raw status the test says.
    membatch::BatchProgress p = membatch::BatchProgress::fromStatus(b);
    p.phase = phase;
    p.status = b.status;
    return p;
}

class BatchJob : public membatch::BatchJob
{
    Q_OBJECT
public:
    using membatch::BatchJob::BatchJob;

    void report(const membatch::BatchStatus &b, const membatch::BatchProgress &p)
    {
        setBatch(b);
        setProgress(p);
    }
    void end(int error = NoError, const QString &text = QString())
    {
        if (error)
            setError(error, text);
        emitResult();
    }

protected:
    void doStart() override {}
};

class MonitorJob : public membatch::MonitorJob
{
    Q_OBJECT
public:
    using membatch::MonitorJob::MonitorJob;

    void report(const membatch::BatchStatus &b, const membatch::BatchProgress &p) { updateBatch(b, p); }
    void end(int error = NoError, const QString &text = QString())
    {
        if (error)
            setError(error, text);
        emitResult();
    }

protected:
    void doStart() override {}
    void doAddBatch(const QString &batchId) override { Q_UNUSED(batchId) }
};

} // namespace fake
