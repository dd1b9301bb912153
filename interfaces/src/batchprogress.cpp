#include <membatch/batchprogress.h>
#include <membatch/batchstatus.h>

#include <QMetaEnum>

namespace membatch {

QString BatchProgress::phaseName(Phase phase)
{
    const char *key = QMetaEnum::fromType<Phase>().valueToKey(int(phase));
    return key ? QString::fromLatin1(key).toLower() : QString();
}

bool BatchProgress::phaseFromName(const QString &name, Phase *phase)
{
    const QMetaEnum meta = QMetaEnum::fromType<Phase>();
    for (int i = 0; i < meta.keyCount(); ++i) {
        if (name.compare(QLatin1String(meta.key(i)), Qt::CaseInsensitive) == 0) {
            *phase = Phase(meta.value(i));
            return true;
        }
    }
    return false;
}

BatchProgress BatchProgress::fromStatus(const BatchStatus &s)
{
    BatchProgress p;
    p.phase = s.isFinal() ? Phase::Done : s.status == QLatin1String(BatchStatus::Processing) ? Phase::Processing : Phase::Queued;
    p.batchId = s.batchId;
    p.status = s.outcome();
    p.total = s.totalMemories;
    p.processed = s.processedCount;
    p.succeeded = s.successCount;
    p.failed = s.failCount;
    if (s.isParent()) {
        p.chunks = s.chunkCount;
        p.chunksDone = s.chunksFinal;
    }
    return p;
}

int BatchProgress::percent() const
{
    switch (phase) {
    case Phase::Encoding:
    case Phase::Uploading:
        if (chunks > 1)
            return int(qint64(chunksDone) * 100 / chunks);
        return bytesTotal > 0 ? int(bytesDone * 100 / bytesTotal) : -1;
    case Phase::Processing:
    case Phase::Done:
        return total > 0 ? int(processed * 100 / total) : -1;
    default:
        return -1;
    }
}

QJsonObject BatchProgress::toJson() const
{
    QJsonObject json{{QStringLiteral("phase"), phaseName(phase)}};
    if (!batchId.isEmpty())
        json.insert(QStringLiteral("batchId"), batchId);
    if (!status.isEmpty())
        json.insert(QStringLiteral("status"), status);
    json.insert(QStringLiteral("total"), total);
    json.insert(QStringLiteral("processed"), processed);
    json.insert(QStringLiteral("succeeded"), succeeded);
    json.insert(QStringLiteral("failed"), failed);
    if (bytesTotal > 0) {
        json.insert(QStringLiteral("bytesDone"), bytesDone);
        json.insert(QStringLiteral("bytesTotal"), bytesTotal);
    }
    if (chunks > 1) {
        json.insert(QStringLiteral("chunks"), chunks);
        json.insert(QStringLiteral("chunksDone"), chunksDone);
    }
    if (rate > 0)
        json.insert(QStringLiteral("rate"), rate);
    if (elapsedMs >= 0)
        json.insert(QStringLiteral("elapsedMs"), elapsedMs);
    if (etaMs >= 0)
        json.insert(QStringLiteral("etaMs"), etaMs);
    if (estimatedCompletion.isValid())
        json.insert(QStringLiteral("estimatedCompletion"), estimatedCompletion.toUTC().toString(Qt::ISODateWithMs));
    if (stalled)
        json.insert(QStringLiteral("stalled"), true);
    if (!reason.isEmpty())
        json.insert(QStringLiteral("reason"), reason);
    return json;
}

BatchProgress BatchProgress::fromJson(const QJsonObject &json)
{
    BatchProgress p;
    phaseFromName(json.value(QStringLiteral("phase")).toString(), &p.phase);
    p.batchId = json.value(QStringLiteral("batchId")).toString();
    p.status = json.value(QStringLiteral("status")).toString();
    p.total = json.value(QStringLiteral("total")).toInteger();
    p.processed = json.value(QStringLiteral("processed")).toInteger();
    p.succeeded = json.value(QStringLiteral("succeeded")).toInteger();
    p.failed = json.value(QStringLiteral("failed")).toInteger();
    p.bytesDone = json.value(QStringLiteral("bytesDone")).toInteger();
    p.bytesTotal = json.value(QStringLiteral("bytesTotal")).toInteger();
    p.chunks = json.value(QStringLiteral("chunks")).toInt();
    p.chunksDone = json.value(QStringLiteral("chunksDone")).toInt();
    p.rate = json.value(QStringLiteral("rate")).toDouble();
    p.elapsedMs = json.value(QStringLiteral("elapsedMs")).toInteger(-1);
    p.etaMs = json.value(QStringLiteral("etaMs")).toInteger(-1);
    p.estimatedCompletion = QDateTime::fromString(json.value(QStringLiteral("estimatedCompletion")).toString(), Qt::ISODateWithMs);
    p.stalled = json.value(QStringLiteral("stalled")).toBool();
    p.reason = json.value(QStringLiteral("reason")).toString();
    return p;
}

} // namespace membatch
