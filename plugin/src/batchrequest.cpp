#include "batchrequest.h"

#include "parseclient.h"

namespace membatch::BatchRequest {

BatchStatus statusFromObject(const QJsonObject &o)
{
    BatchStatus s;
    auto str = [&o](const char *key) { return o.value(QLatin1String(key)).toString(); };
    auto num = [&o](const char *key) { return o.value(QLatin1String(key)).toInteger(); };
    s.batchId = str("batchId");
    s.requestId = str("objectId");
    s.workflowId = str("workflowId");
    s.workflowRunId = str("workflowRunId");
    s.status = str("status");
    s.totalMemories = num("totalMemories");
    s.processedCount = num("processedCount");
    s.successCount = num("successCount");
    s.failCount = num("failCount");
    s.errors = o.value(QStringLiteral("errors")).toArray();
    s.dataFileUrl = QUrl(o.value(QStringLiteral("batchDataFile")).toObject().value(QStringLiteral("url")).toString());
    const QJsonObject meta = o.value(QStringLiteral("batchMetadata")).toObject();
    s.rawBytes = meta.value(QStringLiteral("total_size_bytes")).toInteger();
    s.compressedBytes = meta.value(QStringLiteral("compressed_size_bytes")).toInteger();
    s.createdAt = ParseClient::dateFrom(o.value(QStringLiteral("createdAt")));
    s.startedAt = ParseClient::dateFrom(o.value(QStringLiteral("startedAt")));
    s.completedAt = ParseClient::dateFrom(o.value(QStringLiteral("completedAt")));
    const QJsonValue duration = o.value(QStringLiteral("processingDurationMs"));
    s.processingDurationMs = duration.isDouble() ? duration.toInteger() : -1;
    s.parentBatchId = str("parentBatchId");
    s.chunkCount = std::max(1, meta.value(QStringLiteral("total_chunks")).toInt(1));
    return s;
}

BatchStatus aggregate(const QString &parentId, const QJsonArray &chunks)
{
    BatchStatus s;
    s.batchId = parentId;
    s.chunkCount = 0;
    s.inputItems = -1;
    qint64 memories = 0;
    qint64 submissionMemories = -1;
    int completed = 0, failed = 0, canceled = 0, started = 0;
    for (const QJsonValue &v : chunks) {
        const QJsonObject o = v.toObject();
        const BatchStatus c = statusFromObject(o);
        const QJsonObject meta = o.value(QStringLiteral("batchMetadata")).toObject();
        ++s.chunksFound;
        s.chunkCount = std::max(s.chunkCount, c.chunkCount);
        submissionMemories = std::max(submissionMemories, meta.value(QStringLiteral("submission_memory_count")).toInteger(-1));
        if (meta.contains(QStringLiteral("input_items"))) {
            s.inputItems = meta.value(QStringLiteral("input_items")).toInteger();
            s.invalidItems = meta.value(QStringLiteral("invalid_skipped")).toInteger();
            s.duplicateItems = meta.value(QStringLiteral("duplicates_dropped")).toInteger();
        }
        memories += c.totalMemories;
        s.processedCount += c.processedCount;
        s.successCount += c.successCount;
        s.failCount += c.failCount;
        s.rawBytes += c.rawBytes;
        s.compressedBytes += c.compressedBytes;
        if (c.createdAt.isValid() && (!s.createdAt.isValid() || c.createdAt < s.createdAt))
            s.createdAt = c.createdAt;
        if (c.startedAt.isValid() && (!s.startedAt.isValid() || c.startedAt < s.startedAt))
            s.startedAt = c.startedAt;
        if (c.completedAt.isValid() && (!s.completedAt.isValid() || c.completedAt > s.completedAt))
            s.completedAt = c.completedAt;
        if (c.status != QLatin1String(BatchStatus::Pending))
            ++started;
        if (c.isFinal())
            ++s.chunksFinal;
        if (c.status == QLatin1String(BatchStatus::Completed))
            ++completed;
        else if (c.status == QLatin1String(BatchStatus::Failed))
            ++failed;
        else if (c.status == QLatin1String(BatchStatus::Canceled))
            ++canceled;
        // What went wrong, chunk by chunk, within the seeds' cap.
        for (const QJsonValue &e : c.errors) {
            if (s.errors.size() >= MaxAggregatedErrors)
                break;
            QJsonObject entry = e.toObject();
            entry.insert(QStringLiteral("batchId"), c.batchId);
            s.errors.append(entry);
        }
    }
    s.chunkCount = std::max(s.chunkCount, 1);
    s.totalMemories = submissionMemories >= 0 ? submissionMemories : memories;
    const bool allThere = s.chunksFound >= s.chunkCount;
    if (allThere && s.chunksFinal == s.chunksFound) {
        if (completed == s.chunksFound)
            s.status = QLatin1String(BatchStatus::Completed);
        else if (failed == s.chunksFound)
            s.status = QLatin1String(BatchStatus::Failed);
        else if (canceled > 0 && failed == 0 && completed + canceled == s.chunksFound)
            s.status = QLatin1String(BatchStatus::Canceled);
        else
            s.status = QLatin1String(BatchStatus::PartialFailure);
    } else {
        s.completedAt = QDateTime();
        s.status = QLatin1String(started ? BatchStatus::Processing : BatchStatus::Pending);
    }
    if (s.status == QLatin1String(BatchStatus::Completed) || s.status == QLatin1String(BatchStatus::PartialFailure)
        || s.status == QLatin1String(BatchStatus::Failed) || s.status == QLatin1String(BatchStatus::Canceled)) {
        if (s.startedAt.isValid() && s.completedAt.isValid())
            s.processingDurationMs = s.startedAt.msecsTo(s.completedAt);
    }
    return s;
}

QJsonObject errorEntry(const QString &message, qint64 index, const QString &stage)
{
    QJsonObject entry{{QStringLiteral("error"), message},
                      {QStringLiteral("timestamp"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)}};
    if (index >= 0)
        entry.insert(QStringLiteral("index"), index);
    if (!stage.isEmpty())
        entry.insert(QStringLiteral("stage"), stage);
    return entry;
}

QJsonObject failedFields(const QJsonArray &errors, const QDateTime &startedAt)
{
    return endedFields(QLatin1String(BatchStatus::Failed), errors, startedAt);
}

QJsonObject endedFields(const QString &status, const QJsonArray &errors, const QDateTime &startedAt)
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QJsonObject fields{{QStringLiteral("status"), status},
                       {QStringLiteral("errors"), errors},
                       {QStringLiteral("completedAt"), ParseClient::date(now)}};
    if (startedAt.isValid())
        fields.insert(QStringLiteral("processingDurationMs"), startedAt.msecsTo(now));
    return fields;
}

QString ownerOf(const QJsonObject &request)
{
    return request.value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString();
}

QJsonArray ofOneOwner(const QJsonArray &requests, const QString &userId)
{
    if (requests.isEmpty())
        return requests;
    QString owner = ownerOf(requests.first().toObject());
    for (const QJsonValue &v : requests)
        if (ownerOf(v.toObject()) == userId)
            owner = userId;
    QJsonArray kept;
    for (const QJsonValue &v : requests)
        if (ownerOf(v.toObject()) == owner)
            kept.append(v);
    return kept;
}

} // namespace membatch::BatchRequest
