#pragma once

#include <membatch/batchoptions.h>
#include <membatch/connectionsettings.h>
#include <membatch/job.h>

#include <QIODevice>
#include <QtPlugin>

namespace membatch {

// What a membatch plugin offers a host. Every call returns a job that has
// not started yet: connect to it, then call start(). Jobs delete
// themselves after result() unless told otherwise.
class IBatchProcessor
{
public:
    virtual ~IBatchProcessor() = default;

    // Where the servers are and who we are; used by jobs created afterwards.
    virtual void setConnection(const ConnectionSettings &settings) = 0;

    // Reads a JSON array or JSON lines file of memories (gzipped or not;
    // path "-" is standard input), checks every item, drops duplicates, and
    // sends it in chunks: each a gzip Parse File on a BatchMemoryRequest with
    // its own workflow, under one batch id. The same submission sent again
    // (after a kill, or twice at once) completes the first, never doubles
    // it. With options.waitForCompletion it then follows the batch to its
    // end; with options.dryRun it only reports what it would send.
    virtual BatchJob *submit(const QString &path, const SubmitOptions &options = {}) = 0;
    // The same from a device: open, readable from a pool thread, and alive
    // until the job's result(). sourceName names it in errors.
    virtual BatchJob *submit(QIODevice *input, const QString &sourceName, const SubmitOptions &options = {}) = 0;

    // Follows a batch until it ends (or, with options.once, reports it once);
    // the id of a submission of several chunks adds up its chunks.
    virtual BatchJob *watch(const QString &batchId, const WatchOptions &options = {}) = 0;
    // Follows several batches at once over one session and one push
    // connection (see MonitorJob); more may be added while it runs.
    virtual MonitorJob *monitor(const QStringList &batchIds, const WatchOptions &options = {}) = 0;
    // A page of the user's batches, newest first: submissions, not chunks.
    virtual ListJob *list(const ListOptions &options = {}) = 0;
    // Submits, as a new batch linked to it (retryOf), the items of a batch
    // (or of a parent's chunks) that failed or were never stored, read from
    // the batch's own stored file, not the user's input. Asking twice gives
    // the same batch: the retry's id follows from the batch and its failures.
    // A batch that has not ended, or has nothing to retry, is an error.
    virtual BatchJob *retryFailed(const QString &batchId, const SubmitOptions &options = {}) = 0;

    // Asks Temporal to cancel a batch's workflow (or, for a parent id, the
    // workflow of every chunk that has not ended); the worker holding it stops
    // at its next heartbeat and records "canceled" with the counts so far.
    // With options.waitForCompletion it follows the batch until then. Only
    // a batch the user can see in Parse is canceled.
    virtual BatchJob *cancel(const QString &batchId, const WatchOptions &options = {}, const QString &reason = {}) = 0;

    // Reads what became of each item of a batch (stored, and as which Memory,
    // or refused, and why), while it runs and after: only a batch the user
    // can see.
    virtual ResultsJob *results(const QString &batchId, const ResultsOptions &options = {}) = 0;

    // Deletes the batch files of requests that ended before the cutoff and
    // files that no request points to, and clears the fields that named
    // them. An operator's job: needs the master key.
    virtual Job *cleanUp(const CleanupOptions &options = {}) = 0;

    // Creates or updates every class membatch uses (the seeds' fields, their
    // indexes, the class-level permissions): only what is missing is added,
    // nothing is changed or dropped, and a field of another type is an
    // error found before anything is written. Each change is an
    // infoMessage(). Safe to run twice. An operator's job: the master key.
    virtual Job *migrate(const MigrateOptions &options = {}) = 0;

    // A reference worker: takes activity tasks from the task queue and
    // stores each batch's memories, until killed or options.maxTasks.
    virtual Job *work(const WorkerOptions &options = {}) = 0;
};

} // namespace membatch

// Bump on any change of the interface above (and of the types it uses).
#define MEMBATCH_IBATCHPROCESSOR_IID "org.membatch.IBatchProcessor/5.0"
Q_DECLARE_INTERFACE(membatch::IBatchProcessor, MEMBATCH_IBATCHPROCESSOR_IID)
