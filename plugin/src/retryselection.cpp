#include "retryselection.h"

#include <QCryptographicHash>

#include <algorithm>

namespace membatch::RetrySelection {

QList<qint64> select(qint64 total, qint64 processed, const QList<qint64> &failed, const QSet<qint64> &storedBeyond)
{
    processed = std::clamp<qint64>(processed, 0, std::max<qint64>(total, 0));
    QList<qint64> picked;
    for (qint64 i : failed)
        if (i >= 0 && i < processed)
            picked.append(i);
    std::sort(picked.begin(), picked.end());
    picked.erase(std::unique(picked.begin(), picked.end()), picked.end());
    for (qint64 i = processed; i < total; ++i)
        if (!storedBeyond.contains(i))
            picked.append(i);
    return picked;
}

QString idempotencyKey(const QString &batchId, const QList<Chunk> &chunks)
{
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(QByteArrayLiteral("membatch-retry/1\n"));
    hash.addData(batchId.toUtf8() + '\n');
    for (const Chunk &c : chunks) {
        if (c.indices.isEmpty())
            continue;
        hash.addData(c.batchId.toUtf8() + ':');
        for (qint64 i : c.indices)
            hash.addData(QByteArray::number(i) + ',');
        hash.addData(QByteArrayLiteral("\n"));
    }
    // Readable in Parse (which batch it retries), and short enough for the
    // 256 characters submit takes.
    return QStringLiteral("retry:%1:%2").arg(batchId, QString::fromLatin1(hash.result().toHex().left(32)));
}

qint64 itemCount(const QList<Chunk> &chunks)
{
    qint64 n = 0;
    for (const Chunk &c : chunks)
        n += c.indices.size();
    return n;
}

} // namespace membatch::RetrySelection
