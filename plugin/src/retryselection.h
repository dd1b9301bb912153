#pragma once

#include <QList>
#include <QSet>
#include <QString>

namespace membatch {

// Which items of a batch retry-failed sends again, and the identity that
// makes asking twice give one retry. Pure: unit-tested without a network.
namespace RetrySelection {

// The items of one request (one batch, or one chunk of a parent) to send
// again, ascending: those the worker refused (failed, indices below
// processed) and those it never got to (processed up to total, a batch
// that ended failed or canceled) unless a Memory of theirs is stored after
// all (storedBeyond: the worker stores a group before it counts it).
// Indices outside [0, total) are not items of the request and are dropped.
QList<qint64> select(qint64 total, qint64 processed, const QList<qint64> &failed, const QSet<qint64> &storedBeyond);

struct Chunk
{
    QString batchId;       // the request's own batch id (a chunk's, for a parent)
    QList<qint64> indices; // ascending, as select() gives them
};

// The retry's idempotency key: the batch retried and exactly which items of
// which of its requests, so the same failures give the same retry, and
// others (the batch was retried and that retry partly failed: a retry of
// the retry names that batch instead) another.
QString idempotencyKey(const QString &batchId, const QList<Chunk> &chunks);

qint64 itemCount(const QList<Chunk> &chunks);

} // namespace RetrySelection

} // namespace membatch
