#pragma once

#include <membatch/memoryitem.h>

#include <QByteArray>
#include <QJsonArray>
#include <QList>
#include <QString>

namespace membatch {

// The batch file format shared by submitter and worker: a JSON array of
// memory items, gzipped. Pure functions, safe to run under QtConcurrent.
namespace BatchCodec {

struct Encoded
{
    QByteArray gzip;
    qint64 rawBytes = 0;
    qint64 count = 0;
};

Encoded encode(const QList<MemoryItem> &items, int level = 6);

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

// Reads a submitter's input: a JSON array of items, or JSON lines (one item
// per line, blank lines skipped), either of them optionally gzipped.
// Errors name the source, the line (and column) or the item number.
struct BatchReadResult
{
    QList<MemoryItem> items;
    QString error; // empty on success
};

BatchReadResult readBatch(const QByteArray &bytes, const QString &sourceName);
BatchReadResult readBatchFile(const QString &path);

} // namespace membatch
