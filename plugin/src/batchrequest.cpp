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

} // namespace membatch::BatchRequest
