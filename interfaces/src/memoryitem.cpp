#include <membatch/memoryitem.h>

#include <QJsonArray>

#include <algorithm>

namespace membatch {

namespace {
const QLatin1String kContent("content");
const QLatin1String kMetadata("metadata");
const QLatin1String kEmbedding("embedding");
const QLatin1String kSource("source");
const QLatin1String kTags("tags");
const QLatin1String kCustomId("customId");
const QLatin1String kContentHash("contentHash");
// A key of the user's as an error names it: short, and without control
// characters (it ends up on terminals and in result pages).
QString shown(const QString &key)
{
    constexpr qsizetype max = 64;
    QString out;
    for (const QChar c : QStringView(key).left(max))
        out += c.isPrint() ? QString(c) : QStringLiteral("\\u%1").arg(c.unicode(), 4, 16, QLatin1Char('0'));
    return key.size() > max ? out + QStringLiteral("... (%1 characters)").arg(key.size()) : out;
}
} // namespace

QJsonObject MemoryItem::toJson() const
{
    QJsonObject json{{kContent, content}};
    if (!metadata.isEmpty())
        json.insert(kMetadata, metadata);
    if (!embedding.isEmpty()) {
        QJsonArray values;
        for (double v : embedding)
            values.append(v);
        json.insert(kEmbedding, values);
    }
    if (!source.isEmpty())
        json.insert(kSource, source);
    if (!tags.isEmpty())
        json.insert(kTags, QJsonArray::fromStringList(tags));
    if (!customId.isEmpty())
        json.insert(kCustomId, customId);
    if (!contentHash.isEmpty())
        json.insert(kContentHash, contentHash);
    return json;
}

bool MemoryItem::fromJson(const QJsonObject &json, MemoryItem *item, QString *error)
{
    auto fail = [error](const QString &message) {
        if (error)
            *error = message;
        return false;
    };

    for (auto it = json.begin(); it != json.end(); ++it) {
        const QString key = it.key();
        if (key != kContent && key != kMetadata && key != kEmbedding && key != kSource && key != kTags && key != kCustomId
            && key != kContentHash)
            return fail(QStringLiteral("unknown field '%1' (a memory has content, metadata, embedding, source, tags, customId)")
                            .arg(shown(key)));
    }

    MemoryItem out;
    const QJsonValue content = json.value(kContent);
    if (!content.isString() || content.toString().trimmed().isEmpty())
        return fail(QStringLiteral("'content' must be a non-empty string"));
    out.content = content.toString();
    const qsizetype contentBytes = out.content.toUtf8().size();
    if (contentBytes > MaxContentBytes)
        return fail(QStringLiteral("'content' is %1 bytes, more than the %2 bytes a memory may hold")
                        .arg(contentBytes)
                        .arg(MaxContentBytes));

    const QJsonValue metadata = json.value(kMetadata);
    if (!metadata.isUndefined() && !metadata.isNull()) {
        if (!metadata.isObject())
            return fail(QStringLiteral("'metadata' must be an object"));
        out.metadata = metadata.toObject();
    }

    const QJsonValue embedding = json.value(kEmbedding);
    if (!embedding.isUndefined() && !embedding.isNull()) {
        if (!embedding.isArray())
            return fail(QStringLiteral("'embedding' must be an array of numbers"));
        const QJsonArray values = embedding.toArray();
        out.embedding.reserve(values.size());
        for (qsizetype i = 0; i < values.size(); ++i) {
            if (!values.at(i).isDouble())
                return fail(QStringLiteral("'embedding' element %1 is not a number").arg(i));
            out.embedding.append(values.at(i).toDouble());
        }
    }

    const QJsonValue source = json.value(kSource);
    if (!source.isUndefined() && !source.isNull()) {
        if (!source.isString())
            return fail(QStringLiteral("'source' must be a string"));
        out.source = source.toString();
    }

    const QJsonValue tags = json.value(kTags);
    if (!tags.isUndefined() && !tags.isNull()) {
        if (!tags.isArray())
            return fail(QStringLiteral("'tags' must be an array of strings"));
        const QJsonArray values = tags.toArray();
        for (qsizetype i = 0; i < values.size(); ++i) {
            if (!values.at(i).isString())
                return fail(QStringLiteral("'tags' element %1 is not a string").arg(i));
            out.tags.append(values.at(i).toString());
        }
    }

    const QJsonValue customId = json.value(kCustomId);
    if (!customId.isUndefined() && !customId.isNull()) {
        if (!customId.isString() || customId.toString().isEmpty() || customId.toString().size() > MaxCustomIdLength)
            return fail(QStringLiteral("'customId' must be a string of 1 to %1 characters").arg(MaxCustomIdLength));
        out.customId = customId.toString();
    }

    const QJsonValue contentHash = json.value(kContentHash);
    if (!contentHash.isUndefined()) {
        static const auto isHex = [](QChar c) { return (c >= u'0' && c <= u'9') || (c >= u'a' && c <= u'f'); };
        const QString hash = contentHash.toString();
        if (hash.size() != 64 || !std::all_of(hash.begin(), hash.end(), isHex))
            return fail(QStringLiteral("'contentHash' must be 64 lowercase hex digits (a SHA-256)"));
        out.contentHash = hash;
    }

    if (item)
        *item = std::move(out);
    return true;
}

} // namespace membatch
