#pragma once

#include <membatch/membatch_export.h>

#include <QJsonObject>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

namespace membatch {

// One memory as the platform's batch API knows it (the PRD's MemoryItem):
// text content with optional metadata, embedding, source and tags.
struct MEMBATCH_EXPORT MemoryItem
{
    // The largest content the platform accepts for one memory (PRD: 10 MiB).
    static constexpr qsizetype MaxContentBytes = 10 * 1024 * 1024;

    QString content;
    QJsonObject metadata;
    QList<double> embedding; // empty: no embedding
    QString source;          // empty: none
    QStringList tags;
    // The submitter's own id for the item, unique within a submission: the
    // batch's results name it, and the Memory object carries it.
    QString customId;
    static constexpr qsizetype MaxCustomIdLength = 256;
    // SHA-256 (64 lowercase hex digits) of the normalised content, and of
    // the metadata if deduplication looked at it: written by membatch when
    // it submits, stored on the Memory.
    QString contentHash;

    // Writes only the fields that are set, so a round trip is exact.
    QJsonObject toJson() const;

    // Reads and validates one item. On failure returns false and sets
    // *error to a message naming the field ("'content' must be ...").
    static bool fromJson(const QJsonObject &json, MemoryItem *item, QString *error);

    friend bool operator==(const MemoryItem &a, const MemoryItem &b)
    {
        return a.content == b.content && a.metadata == b.metadata && a.embedding == b.embedding
            && a.source == b.source && a.tags == b.tags && a.customId == b.customId
            && a.contentHash == b.contentHash;
    }
    friend bool operator!=(const MemoryItem &a, const MemoryItem &b) { return !(a == b); }
};

} // namespace membatch

Q_DECLARE_METATYPE(membatch::MemoryItem)
