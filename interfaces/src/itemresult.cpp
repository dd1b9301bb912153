#include <membatch/itemresult.h>

namespace membatch {

namespace {
const QLatin1String kIndex("index");
const QLatin1String kCustomId("customId");
const QLatin1String kMemoryId("memoryId");
const QLatin1String kError("error");
} // namespace

QJsonObject ItemResult::toJson() const
{
    QJsonObject json{{kIndex, index}};
    if (!customId.isEmpty())
        json.insert(kCustomId, customId);
    if (isStored())
        json.insert(kMemoryId, memoryId);
    else
        json.insert(kError, error);
    return json;
}

bool ItemResult::fromJson(const QJsonObject &json, ItemResult *result, QString *error)
{
    const auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return false;
    };
    const QJsonValue index = json.value(kIndex);
    if (!index.isDouble() || index.toDouble() < 0 || index.toDouble() != double(index.toInteger()))
        return fail(QStringLiteral("'index' must be an integer of 0 or more"));
    ItemResult out;
    out.index = index.toInteger();
    out.customId = json.value(kCustomId).toString();
    out.memoryId = json.value(kMemoryId).toString();
    out.error = json.value(kError).toString();
    if (out.memoryId.isEmpty() == out.error.isEmpty())
        return fail(QStringLiteral("item %1 must have either 'memoryId' or 'error'").arg(out.index));
    if (result)
        *result = std::move(out);
    return true;
}

} // namespace membatch
