#include "batchcodec.h"

#include "gzipcodec.h"

#include <QFile>
#include <QHash>
#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>

#include <algorithm>

namespace membatch {

namespace {

constexpr int kMaxReportedErrors = 10;

// 1-based line and column of a byte offset.
QString lineColumn(const QByteArray &bytes, qsizetype offset)
{
    offset = std::clamp<qsizetype>(offset, 0, bytes.size());
    qsizetype line = 1;
    qsizetype lineStart = 0;
    for (qsizetype i = 0; i < offset; ++i) {
        if (bytes.at(i) == '\n') {
            ++line;
            lineStart = i + 1;
        }
    }
    return QStringLiteral("%1:%2").arg(line).arg(offset - lineStart + 1);
}

QString joinErrors(const QStringList &errors, qsizetype total)
{
    QString text = errors.join(QLatin1Char('\n'));
    if (total > errors.size())
        text += QStringLiteral("\n... and %1 more invalid items").arg(total - errors.size());
    return text;
}

// A customId names one item of a submission: the results are looked up by it.
void checkCustomIds(BatchReadResult *result, const QString &source)
{
    if (!result->error.isEmpty())
        return;
    QHash<QString, qsizetype> seen;
    QStringList errors;
    qsizetype duplicates = 0;
    for (qsizetype i = 0; i < result->items.size(); ++i) {
        const QString &id = result->items.at(i).customId;
        if (id.isEmpty())
            continue;
        const auto it = seen.constFind(id);
        if (it == seen.cend())
            seen.insert(id, i);
        else if (++duplicates <= kMaxReportedErrors)
            errors << QStringLiteral("%1: item %2: customId '%3' is item %4's already").arg(source).arg(i + 1).arg(id).arg(*it + 1);
    }
    if (duplicates)
        result->error = joinErrors(errors, duplicates);
}

BatchReadResult readArray(const QByteArray &bytes, const QString &source)
{
    BatchReadResult result;
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(bytes, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        result.error = QStringLiteral("%1:%2: invalid JSON: %3")
                           .arg(source, lineColumn(bytes, parseError.offset), parseError.errorString());
        return result;
    }
    if (!doc.isArray()) {
        result.error = QStringLiteral("%1: expected a JSON array of memories or JSON lines").arg(source);
        return result;
    }
    const QJsonArray array = doc.array();
    QStringList errors;
    qsizetype invalid = 0;
    result.items.reserve(array.size());
    for (qsizetype i = 0; i < array.size(); ++i) {
        MemoryItem item;
        QString why;
        if (!array.at(i).isObject())
            why = QStringLiteral("not a JSON object");
        else if (MemoryItem::fromJson(array.at(i).toObject(), &item, &why))
            result.items.append(std::move(item));
        if (!why.isEmpty() && ++invalid <= kMaxReportedErrors)
            errors << QStringLiteral("%1: item %2: %3").arg(source).arg(i + 1).arg(why);
    }
    if (invalid)
        result.error = joinErrors(errors, invalid);
    checkCustomIds(&result, source);
    return result;
}

BatchReadResult readLines(const QByteArray &bytes, const QString &source)
{
    BatchReadResult result;
    QStringList errors;
    qsizetype invalid = 0;
    qsizetype lineNo = 0;
    qsizetype pos = 0;
    while (pos < bytes.size()) {
        qsizetype end = bytes.indexOf('\n', pos);
        if (end < 0)
            end = bytes.size();
        const QByteArray line = bytes.mid(pos, end - pos).trimmed();
        pos = end + 1;
        ++lineNo;
        if (line.isEmpty())
            continue;

        QString why;
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(line, &parseError);
        MemoryItem item;
        if (parseError.error != QJsonParseError::NoError)
            why = QStringLiteral("invalid JSON at column %1: %2").arg(parseError.offset + 1).arg(parseError.errorString());
        else if (!doc.isObject())
            why = QStringLiteral("not a JSON object");
        else if (MemoryItem::fromJson(doc.object(), &item, &why))
            result.items.append(std::move(item));
        if (!why.isEmpty() && ++invalid <= kMaxReportedErrors)
            errors << QStringLiteral("%1:%2: %3").arg(source).arg(lineNo).arg(why);
    }
    if (invalid)
        result.error = joinErrors(errors, invalid);
    checkCustomIds(&result, source);
    return result;
}

} // namespace

namespace BatchCodec {

Encoded encode(const QList<MemoryItem> &items, int level)
{
    // Written item by item: no QJsonArray of the whole batch in memory.
    QByteArray json;
    json.reserve(items.size() * 256);
    json.append('[');
    for (qsizetype i = 0; i < items.size(); ++i) {
        if (i)
            json.append(',');
        json.append(QJsonDocument(items.at(i).toJson()).toJson(QJsonDocument::Compact));
    }
    json.append(']');

    Encoded encoded;
    encoded.rawBytes = json.size();
    encoded.count = items.size();
    encoded.gzip = GzipCodec::compress(json, level);
    return encoded;
}

Decoded decode(const QByteArray &gzip, qint64 maxJsonBytes)
{
    Decoded decoded;
    QByteArray json;
    if (!GzipCodec::decompress(gzip, &json, &decoded.error, std::min(maxJsonBytes, MaxJsonBytes)))
        return decoded;
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &parseError);
    if (parseError.error != QJsonParseError::NoError)
        decoded.error = QStringLiteral("the batch file is not valid JSON (at %1: %2)")
                            .arg(lineColumn(json, parseError.offset), parseError.errorString());
    else if (!doc.isArray())
        decoded.error = QStringLiteral("the batch file is not a JSON array");
    else
        decoded.items = doc.array();
    return decoded;
}

} // namespace BatchCodec

BatchReadResult readBatch(const QByteArray &input, const QString &sourceName)
{
    QByteArray bytes = input;
    if (bytes.startsWith("\x1f\x8b")) {
        QString why;
        if (!GzipCodec::decompress(input, &bytes, &why))
            return {{}, QStringLiteral("%1: %2").arg(sourceName, why)};
    }
    if (bytes.startsWith("\xEF\xBB\xBF"))
        bytes.remove(0, 3);

    qsizetype first = 0;
    while (first < bytes.size() && QChar::isSpace(uchar(bytes.at(first))))
        ++first;
    if (first == bytes.size())
        return {{}, QStringLiteral("%1: the batch is empty (no memories)").arg(sourceName)};

    BatchReadResult result = bytes.at(first) == '[' ? readArray(bytes, sourceName) : readLines(bytes, sourceName);
    if (result.error.isEmpty() && result.items.isEmpty())
        result.error = QStringLiteral("%1: the batch is empty (no memories)").arg(sourceName);
    return result;
}

BatchReadResult readBatchFile(const QString &path)
{
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly))
        return {{}, QStringLiteral("%1: cannot read: %2").arg(path, file.errorString())};
    return readBatch(file.readAll(), path);
}

} // namespace membatch
