#pragma once

#include <membatch/membatch_export.h>

#include <QJsonObject>
#include <QList>
#include <QMetaType>
#include <QString>

namespace membatch {

// What became of one item of a batch: stored as a Memory object, or
// refused and why. One line of a batch's results file, as JSON:
//   {"index":3,"customId":"a-3","memoryId":"1f0c..."}
//   {"index":4,"error":"'content' must be a non-empty string"}
struct MEMBATCH_EXPORT ItemResult
{
    qint64 index = -1;  // the item's place in the submitted file, from 0
    QString customId;   // the item's own id, if it had one
    QString memoryId;   // the Memory objectId, when stored
    QString error;      // why not, when refused

    bool isStored() const { return error.isEmpty(); }

    QJsonObject toJson() const;
    // False (and *error set) if the object is not an item result.
    static bool fromJson(const QJsonObject &json, ItemResult *result, QString *error = nullptr);

    friend bool operator==(const ItemResult &a, const ItemResult &b)
    {
        return a.index == b.index && a.customId == b.customId && a.memoryId == b.memoryId && a.error == b.error;
    }
};

} // namespace membatch

Q_DECLARE_METATYPE(membatch::ItemResult)
