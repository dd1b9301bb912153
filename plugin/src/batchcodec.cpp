#include "batchcodec.h"

#include "gzipcodec.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QJsonParseError>

#include <algorithm>

namespace membatch {

namespace {

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

} // namespace

namespace BatchCodec {

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

} // namespace membatch
