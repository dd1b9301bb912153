#include "listcursor.h"

#include "parseclient.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QRegularExpression>

namespace membatch {

namespace {
constexpr char kVersion[] = "1";
// What Parse gives as objectIds (10 characters of its own, 24 hex of ours),
// with room to spare, and nothing a query could misread.
const QRegularExpression &objectIdPattern()
{
    static const QRegularExpression pattern(QStringLiteral("^[A-Za-z0-9]{1,64}$"));
    return pattern;
}
QString tr(const char *text)
{
    return QCoreApplication::translate("membatch::ListCursor", text);
}
} // namespace

QString ListCursor::encode() const
{
    if (isNull())
        return {};
    const QByteArray text = QByteArray(kVersion) + ':' + QByteArray::number(createdAt.toMSecsSinceEpoch()) + ':' + objectId.toLatin1();
    return QString::fromLatin1(text.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
}

bool ListCursor::decode(const QString &text, ListCursor *cursor, QString *why)
{
    const auto bad = [&](const QString &reason) {
        if (why)
            *why = tr("the cursor '%1' is not one that list gave: %2").arg(text.left(80), reason);
        return false;
    };
    if (text.size() > 200)
        return bad(tr("too long"));
    static const QRegularExpression base64url(QStringLiteral("^[A-Za-z0-9_-]+$"));
    if (!base64url.match(text).hasMatch())
        return bad(tr("not base64url"));
    const auto decoded = QByteArray::fromBase64Encoding(text.toLatin1(), QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded)
        return bad(tr("not base64url"));
    const QList<QByteArray> parts = decoded.decoded.split(':');
    if (parts.size() != 3 || parts.at(0) != kVersion)
        return bad(tr("unknown format"));
    bool ok = false;
    const qint64 ms = parts.at(1).toLongLong(&ok);
    // Parse keeps dates from year 1 on; a cursor is a createdAt, so after 2000.
    if (!ok || ms < 946684800000LL || ms > 32503680000000LL)
        return bad(tr("no valid time in it"));
    const QString id = QString::fromLatin1(parts.at(2));
    if (!objectIdPattern().match(id).hasMatch())
        return bad(tr("no valid object id in it"));
    cursor->createdAt = QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC);
    cursor->objectId = id;
    return true;
}

QJsonObject ListCursor::after() const
{
    const QJsonObject at = ParseClient::date(createdAt);
    return {{QStringLiteral("$or"),
             QJsonArray{QJsonObject{{QStringLiteral("createdAt"), QJsonObject{{QStringLiteral("$lt"), at}}}},
                        QJsonObject{{QStringLiteral("createdAt"), at},
                                    {QStringLiteral("objectId"), QJsonObject{{QStringLiteral("$lt"), objectId}}}}}}};
}

} // namespace membatch
