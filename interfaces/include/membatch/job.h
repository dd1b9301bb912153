#pragma once

#include <membatch/batchprogress.h>
#include <membatch/batchstatus.h>
#include <membatch/itemresult.h>
#include <membatch/membatch_export.h>

#include <QHash>
#include <QList>
#include <QObject>
#include <QScopedPointer>
#include <QStringList>

namespace membatch {

class JobPrivate;

// An asynchronous unit of work, after KDE's KJob. start() returns at once
// and the work begins from the event loop, so a caller connects first.
// Progress arrives through progressChanged(); result() is emitted exactly
// once, with error() and errorString() set on failure; then, unless
// autodelete is off, the job deletes itself.
class MEMBATCH_EXPORT Job : public QObject
{
    Q_OBJECT
public:
    enum Error {
        NoError = 0,
        KilledError,         // kill() was called
        InvalidInputError,   // the batch file or an argument is wrong
        ConfigurationError,  // a setting is missing or malformed
        AuthenticationError, // a key, user or session was refused
        NetworkError,        // a server could not be reached or vanished
        ServerError,         // a server answered with an error
        NotFoundError,       // no such batch (or not visible to this user)
        BatchFailedError,    // the batch ended, but did not complete
    };
    Q_ENUM(Error)

    explicit Job(QObject *parent = nullptr);
    ~Job() override;

    void start();
    // Stops the work and emits result() with KilledError. Returns false if
    // the job had already finished or cannot be stopped.
    bool kill();
    // Asks the job to wind down rather than stop dead: it takes no new work
    // and ends what it holds cleanly (a worker lets its tasks finish for a
    // grace period, then hands back the rest to Temporal), then emits
    // result(). Asking again hurries it. A job with nothing to wind down is
    // killed. Returns false if the job had already finished.
    bool stop();

    int error() const;
    QString errorString() const;
    bool isFinished() const;

    bool isAutoDelete() const;
    void setAutoDelete(bool autoDelete);

    BatchProgress progress() const;

Q_SIGNALS:
    void progressChanged(const membatch::BatchProgress &progress, QPrivateSignal);
    // A line worth showing a user (a task taken, a batch finished).
    void infoMessage(const QString &message, QPrivateSignal);
    // Emitted exactly once, when the job has finished, failed or been killed.
    void result(membatch::Job *job, QPrivateSignal);

protected:
    virtual void doStart() = 0;
    // Aborts what is in flight; return false if that is not possible.
    virtual bool doKill();
    // Winds down (see stop()); return false to be killed instead.
    virtual bool doStop();

    // These do nothing once the job has finished. A slot connected to
    // progressChanged() or infoMessage() may kill the job: after emitting,
    // check isFinished() before going on.
    void setError(int code, const QString &text);
    void setProgress(const BatchProgress &progress);
    void emitInfo(const QString &message);
    // Finishes the job: emits result() once, then deletes it if autodelete.
    void emitResult();

private:
    QScopedPointer<JobPrivate> d;
};

// A job about one batch: submit, watch, status. batch() holds what is
// known of it; after result() it is the final state.
class MEMBATCH_EXPORT BatchJob : public Job
{
    Q_OBJECT
public:
    using Job::Job;

    BatchStatus batch() const { return m_batch; }

protected:
    void setBatch(const BatchStatus &batch) { m_batch = batch; }

private:
    BatchStatus m_batch;
};

// Reads a batch's item results, a page at a time, in the order of the file:
// itemsReady() for each page, then result(). batch() is the batch as it
// was when the results were read (they cover its processedCount).
class MEMBATCH_EXPORT ResultsJob : public BatchJob
{
    Q_OBJECT
public:
    using BatchJob::BatchJob;

Q_SIGNALS:
    void itemsReady(const QList<membatch::ItemResult> &items, QPrivateSignal);

protected:
    // Does nothing once the job has finished.
    void emitItems(const QList<ItemResult> &items);
};

// Follows several batches at once, over one session and one push
// connection: `watch ID...`, `watch --all`, a dashboard. batchChanged() for
// every change of any of them; progressChanged() carries their sum (batchId
// empty). It ends when every batch has ended (with BatchFailedError if one
// did not complete), unless WatchOptions::follow.
class MEMBATCH_EXPORT MonitorJob : public Job
{
    Q_OBJECT
public:
    using Job::Job;

    // Starts watching one more batch (its first state comes as a
    // batchChanged()); a batch already watched is left as it is.
    void addBatch(const QString &batchId);
    // The batches watched, in the order they were added.
    QStringList batchIds() const { return m_order; }
    // What is known of one (a default BatchStatus if none is watched).
    BatchStatus batch(const QString &batchId) const { return m_batches.value(batchId); }
    BatchProgress batchProgress(const QString &batchId) const { return m_progress.value(batchId); }

Q_SIGNALS:
    void batchChanged(const membatch::BatchStatus &batch, const membatch::BatchProgress &progress, QPrivateSignal);

protected:
    virtual void doAddBatch(const QString &batchId) = 0;
    // Records one batch's state and emits batchChanged() (if it changed).
    // Does nothing once the job has finished.
    void updateBatch(const BatchStatus &batch, const BatchProgress &progress);

private:
    QStringList m_order;
    QHash<QString, BatchStatus> m_batches;
    QHash<QString, BatchProgress> m_progress;
};

// Lists a page of the user's batches (ListOptions): batches() once the job
// has ended, newest first, and the cursor of the next page.
class MEMBATCH_EXPORT ListJob : public Job
{
    Q_OBJECT
public:
    using Job::Job;

    QList<BatchStatus> batches() const { return m_batches; }
    // Pass as ListOptions::cursor for the next page; empty: this was the last.
    QString nextCursor() const { return m_nextCursor; }

protected:
    void setBatches(const QList<BatchStatus> &batches, const QString &nextCursor)
    {
        m_batches = batches;
        m_nextCursor = nextCursor;
    }

private:
    QList<BatchStatus> m_batches;
    QString m_nextCursor;
};

} // namespace membatch
