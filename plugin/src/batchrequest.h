#pragma once

#include <membatch/batchstatus.h>

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QString>
#include <QUrl>

// The BatchMemoryRequest Parse class and the workflow contract, as the
// design seeds define them. Submitter, watcher and worker share these names.
namespace membatch::BatchRequest {

inline const QString ClassName = QStringLiteral("BatchMemoryRequest");
inline const QString MemoryClassName = QStringLiteral("Memory");
inline const QString WorkflowType = QStringLiteral("ProcessBatchMemoryFromRequestWorkflow");
inline const QString ActivityType = QStringLiteral("fetch_and_process_batch_memories");
// What the workflow runs when that activity could not settle the request.
inline const QString SettleActivityType = QStringLiteral("settle_batch_request");
// What the workflow runs once the batch has ended: its webhook, if any.
inline const QString WebhookActivityType = QStringLiteral("deliver_batch_webhook");

// Parse caps files (and JSON bodies) at 20 MiB.
constexpr qint64 MaxFileBytes = 20 * 1024 * 1024;

// The workflow id for a batch: one workflow per batch id.
inline QString workflowIdFor(const QString &batchId)
{
    return QStringLiteral("batch-") + batchId;
}

// The workflow's whole input: {"request_id": objectId, "batch_id": batchId}.
inline QJsonObject workflowInput(const QString &requestId, const QString &batchId)
{
    return {{QStringLiteral("request_id"), requestId}, {QStringLiteral("batch_id"), batchId}};
}

// A url a webhook may be sent to: http or https, with a host. (Where the
// host leads is the worker's to check when it sends.)
inline bool isWebhookUrl(const QUrl &url)
{
    return url.isValid() && (url.scheme() == QLatin1String("https") || url.scheme() == QLatin1String("http"))
        && !url.host().isEmpty();
}

// The request asks for a webhook when it ends (and has not had it yet).
inline bool wantsWebhook(const QJsonObject &request)
{
    return !request.value(QStringLiteral("webhookUrl")).toString().isEmpty()
        && !request.value(QStringLiteral("webhookSent")).toBool();
}

// Reads a BatchMemoryRequest object as Parse returns it.
BatchStatus statusFromObject(const QJsonObject &object);

// The status of a submission of several chunks, from its chunks' requests
// (each with batchMetadata): counts added up, and final once every chunk
// is there and has ended (completed only if every chunk completed).
constexpr int MaxAggregatedErrors = 100;
BatchStatus aggregate(const QString &parentId, const QJsonArray &chunks);

// The user a request belongs to (its user pointer's id; empty if none).
QString ownerOf(const QJsonObject &request);
// Of the requests found under one batch id, those of a single owner:
// userId's own if it has any, else those of the first one's owner. A batch
// id is unique per user only: a colleague's request under the same id,
// readable through an organization's role, is never mixed into the user's
// batch (and two others' batches are never mixed with each other).
QJsonArray ofOneOwner(const QJsonArray &requests, const QString &userId);

// The most chunks one submission may have (status reads them in one query).
constexpr int MaxChunks = 10000;

// One entry of the request's errors array: {index?, stage?, error, timestamp}.
// index: the item (0-based) for a per-item error; stage: where a whole-batch
// error happened ("start", "process").
QJsonObject errorEntry(const QString &message, qint64 index = -1, const QString &stage = {});

// The update that closes a request with status: status, errors,
// completedAt, and processingDurationMs if it had started.
QJsonObject endedFields(const QString &status, const QJsonArray &errors, const QDateTime &startedAt = {});
// The same with status failed.
QJsonObject failedFields(const QJsonArray &errors, const QDateTime &startedAt = {});

} // namespace membatch::BatchRequest
