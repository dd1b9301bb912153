#pragma once

#include <membatch/batchstatus.h>

#include <QJsonObject>
#include <QString>

// The BatchMemoryRequest Parse class and the workflow contract, as the
// design seeds define them. Submitter, watcher and worker share these names.
namespace membatch::BatchRequest {

inline const QString ClassName = QStringLiteral("BatchMemoryRequest");
inline const QString MemoryClassName = QStringLiteral("Memory");
inline const QString WorkflowType = QStringLiteral("ProcessBatchMemoryFromRequestWorkflow");
inline const QString ActivityType = QStringLiteral("fetch_and_process_batch_memories");

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

// Reads a BatchMemoryRequest object as Parse returns it.
BatchStatus statusFromObject(const QJsonObject &object);

} // namespace membatch::BatchRequest
