#pragma once

#include <membatch/membatch_export.h>

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QMetaType>
#include <QString>
#include <QUrl>

namespace membatch {

// What is known of one submitted batch: its ids, the BatchMemoryRequest's
// status and counts, and the Temporal workflow's status.
struct MEMBATCH_EXPORT BatchStatus
{
    // BatchMemoryRequest.status values (the seeds' set).
    static constexpr const char *Pending = "pending";
    static constexpr const char *Processing = "processing";
    static constexpr const char *Completed = "completed";
    static constexpr const char *PartialFailure = "partial_failure";
    static constexpr const char *Failed = "failed";
    static constexpr const char *Canceled = "canceled"; // a cancel was requested and the worker stopped

    QString batchId;
    QString requestId;        // the BatchMemoryRequest objectId
    QString workflowId;
    QString workflowRunId;
    QString status;           // see the constants above
    QString workflowStatus;   // "running", "completed", "failed", ... ("" unknown)
    QString workflowFailure;  // the workflow's failure message, if it failed
    qint64 totalMemories = 0;
    qint64 processedCount = 0;
    qint64 successCount = 0;
    qint64 failCount = 0;
    QJsonArray errors;        // [{index?, stage?, error, timestamp}, ...]: index for a per-item error
    QUrl dataFileUrl;
    qint64 rawBytes = 0;
    qint64 compressedBytes = 0;
    QDateTime createdAt;
    QDateTime startedAt;
    QDateTime completedAt;
    qint64 processingDurationMs = -1;

    // A submission of several chunks: each chunk is a request of its own,
    // under the parent's id; the parent's status adds up its chunks.
    QString parentBatchId; // a chunk's parent
    int chunkCount = 1;    // chunks of the submission
    int chunksFound = 0;   // a parent: the chunks that exist (all, once it is sent)
    int chunksFinal = 0;   // a parent: the chunks that have ended
    // What the submission left out of its input (submit and dry run only).
    qint64 inputItems = -1; // items read; -1: not known here
    qint64 invalidItems = 0;
    qint64 duplicateItems = 0;
    bool isParent() const { return chunkCount > 1 && parentBatchId.isEmpty(); }

    // The batch has ended: a final Parse status, or a workflow that closed
    // without completing (failed, terminated, canceled, timed out).
    bool isFinal() const;
    // A workflow status ("failed", "terminated", ...) that means the run
    // closed without completing; "continued_as_new" lives on in a new run.
    static bool workflowEndedBadly(const QString &workflowStatus);
    bool isCompleted() const { return status == QLatin1String(Completed); }
    // The effective outcome: the Parse status, or "canceled" or "failed" when the workflow
    // ended badly before the worker could record one.
    QString outcome() const;

    QJsonObject toJson() const;
    static BatchStatus fromJson(const QJsonObject &json);
};

} // namespace membatch

Q_DECLARE_METATYPE(membatch::BatchStatus)
