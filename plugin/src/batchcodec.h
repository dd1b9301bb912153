#pragma once

#include <membatch/memoryitem.h>

#include <QByteArray>
#include <QJsonArray>
#include <QList>
#include <QString>

namespace membatch {

// The batch file format shared by submitter and worker: a JSON array of
// memory items, gzipped, read whole (the worker streams it instead: see
// BatchFileStream; this is what tests check uploads with).
namespace BatchCodec {

struct Decoded
{
    QJsonArray items;
    QString error; // empty on success
};

// The most JSON a batch file may inflate to, whatever its request declares:
// a 20 MiB Parse file of ordinary memories inflates to well under this.
constexpr qint64 MaxJsonBytes = 256 * 1024 * 1024;

// Inflates and parses a batch file into its JSON array; the items are left
// unvalidated so that the worker can record a bad one as a per-item error.
// Refuses a file that inflates past maxJsonBytes (a gzip bomb) before it
// has inflated further.
Decoded decode(const QByteArray &gzip, qint64 maxJsonBytes = MaxJsonBytes);

} // namespace BatchCodec

} // namespace membatch
