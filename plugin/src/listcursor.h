#pragma once

#include <QDateTime>
#include <QJsonObject>
#include <QString>

namespace membatch {

// Where a page of `list` ended: the sort key of its last row (createdAt,
// then objectId, both descending). Users see it as an opaque token; what
// comes back is checked, so a mangled one is an error, not another page.
struct ListCursor
{
    QDateTime createdAt;
    QString objectId;

    bool isNull() const { return !createdAt.isValid() || objectId.isEmpty(); }

    // base64url of "1:<ms since the epoch>:<objectId>".
    QString encode() const;
    // false, with why, for anything encode() could not have written.
    static bool decode(const QString &text, ListCursor *cursor, QString *why);

    // The Parse condition for the objects after this key in the order
    // -createdAt,-objectId.
    QJsonObject after() const;

    friend bool operator==(const ListCursor &a, const ListCursor &b)
    {
        return a.createdAt == b.createdAt && a.objectId == b.objectId;
    }
};

} // namespace membatch
