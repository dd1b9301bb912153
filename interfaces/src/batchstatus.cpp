#include <membatch/batchstatus.h>

namespace membatch {

namespace {

bool isFinalParseStatus(const QString &status)
{
    return status == QLatin1String(BatchStatus::Completed) || status == QLatin1String(BatchStatus::PartialFailure)
        || status == QLatin1String(BatchStatus::Failed) || status == QLatin1String(BatchStatus::Canceled);
}

QString isoOrEmpty(const QDateTime &t)
{
    return t.isValid() ? t.toUTC().toString(Qt::ISODateWithMs) : QString();
}

} // namespace

bool BatchStatus::workflowEndedBadly(const QString &workflowStatus)
{
    return !workflowStatus.isEmpty() && workflowStatus != QLatin1String("running")
        && workflowStatus != QLatin1String("completed") && workflowStatus != QLatin1String("continued_as_new");
}

bool BatchStatus::isFinal() const
{
    return isFinalParseStatus(status) || workflowEndedBadly(workflowStatus);
}

QString BatchStatus::outcome() const
{
    if (isFinalParseStatus(status))
        return status;
    if (workflowStatus == QLatin1String("canceled"))
        return QLatin1String(Canceled);
    if (workflowEndedBadly(workflowStatus))
        return QLatin1String(Failed);
    return status;
}

QJsonObject BatchStatus::toJson() const
{
    QJsonObject json{
        {QStringLiteral("batchId"), batchId},
        {QStringLiteral("requestId"), requestId},
        {QStringLiteral("workflowId"), workflowId},
        {QStringLiteral("workflowRunId"), workflowRunId},
        {QStringLiteral("status"), status},
        {QStringLiteral("outcome"), outcome()},
        {QStringLiteral("totalMemories"), totalMemories},
        {QStringLiteral("processedCount"), processedCount},
        {QStringLiteral("successCount"), successCount},
        {QStringLiteral("failCount"), failCount},
        {QStringLiteral("errors"), errors},
    };
    auto insertIfSet = [&json](const char *key, const QString &value) {
        if (!value.isEmpty())
            json.insert(QLatin1String(key), value);
    };
    insertIfSet("workflowStatus", workflowStatus);
    insertIfSet("workflowFailure", workflowFailure);
    insertIfSet("dataFileUrl", dataFileUrl.toString());
    insertIfSet("createdAt", isoOrEmpty(createdAt));
    insertIfSet("startedAt", isoOrEmpty(startedAt));
    insertIfSet("completedAt", isoOrEmpty(completedAt));
    if (rawBytes > 0)
        json.insert(QStringLiteral("rawBytes"), rawBytes);
    if (compressedBytes > 0)
        json.insert(QStringLiteral("compressedBytes"), compressedBytes);
    if (processingDurationMs >= 0)
        json.insert(QStringLiteral("processingDurationMs"), processingDurationMs);
    insertIfSet("parentBatchId", parentBatchId);
    if (chunkCount > 1) {
        json.insert(QStringLiteral("chunkCount"), chunkCount);
        json.insert(QStringLiteral("chunksFound"), chunksFound);
        json.insert(QStringLiteral("chunksFinal"), chunksFinal);
    }
    if (inputItems >= 0) {
        json.insert(QStringLiteral("inputItems"), inputItems);
        json.insert(QStringLiteral("invalidItems"), invalidItems);
        json.insert(QStringLiteral("duplicateItems"), duplicateItems);
    }
    return json;
}

BatchStatus BatchStatus::fromJson(const QJsonObject &json)
{
    auto str = [&json](const char *key) { return json.value(QLatin1String(key)).toString(); };
    auto num = [&json](const char *key, qint64 fallback = 0) {
        const QJsonValue v = json.value(QLatin1String(key));
        return v.isDouble() ? v.toInteger() : fallback;
    };
    auto time = [&str](const char *key) { return QDateTime::fromString(str(key), Qt::ISODateWithMs); };

    BatchStatus s;
    s.batchId = str("batchId");
    s.requestId = str("requestId");
    s.workflowId = str("workflowId");
    s.workflowRunId = str("workflowRunId");
    s.status = str("status");
    s.workflowStatus = str("workflowStatus");
    s.workflowFailure = str("workflowFailure");
    s.totalMemories = num("totalMemories");
    s.processedCount = num("processedCount");
    s.successCount = num("successCount");
    s.failCount = num("failCount");
    s.errors = json.value(QStringLiteral("errors")).toArray();
    s.dataFileUrl = QUrl(str("dataFileUrl"));
    s.rawBytes = num("rawBytes");
    s.compressedBytes = num("compressedBytes");
    s.createdAt = time("createdAt");
    s.startedAt = time("startedAt");
    s.completedAt = time("completedAt");
    s.processingDurationMs = num("processingDurationMs", -1);
    s.parentBatchId = str("parentBatchId");
    s.chunkCount = int(num("chunkCount", 1));
    s.chunksFound = int(num("chunksFound"));
    s.chunksFinal = int(num("chunksFinal"));
    s.inputItems = num("inputItems", -1);
    s.invalidItems = num("invalidItems");
    s.duplicateItems = num("duplicateItems");
    return s;
}

} // namespace membatch
