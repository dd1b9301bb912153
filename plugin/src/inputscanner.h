#pragma once

#include <membatch/batchoptions.h>

#include <QByteArray>
#include <QIODevice>
#include <QList>
#include <QString>

#include <functional>

namespace membatch {

// The first pass of a submission, run on a pool thread: reads the input as
// it comes (a JSON array or JSON lines, gzipped or not), checks every item
// (ItemValidator), drops duplicates (by contentDigest), and writes the items
// it keeps, compact, one per line to a spool file. It also cuts
// them into chunks, so that how many there are is known before the first
// is sent, and takes the SHA-256 of what it kept: the submission's identity.
//
// Holds one item at a time, plus 24 bytes a kept item for deduplication
// (and as much again for customIds, if there are any), and the first
// chunks gzipped (Options::encodeAheadBytes of them, as JSON).
namespace InputScanner {

struct Options
{
    ValidationLimits limits;
    bool skipInvalid = false;
    SubmitOptions::Dedup dedup = SubmitOptions::Dedup::Content;
    int chunkItems = 1000;
    qint64 chunkBytes = 16 * 1024 * 1024;
    QString reportPath; // JSON lines of the items left out; empty: none; "-": standard error
    // Above 0: the first chunks are gzipped at this level on the pool as
    // soon as they are cut, while the rest is read, up to encodeAheadBytes
    // of them (as JSON): encoding overlaps reading, and what a submission
    // of a few chunks sends is ready when the reading ends.
    int compressionLevel = 0;
    qint64 encodeAheadBytes = 48 * 1024 * 1024;
};

// Where a chunk's items lie in the spool: length bytes from offset, one
// item a line.
struct ChunkSpan
{
    qint64 offset = 0;
    qint64 length = 0;
    qint64 count = 0;
    // The chunk as a JSON array: the lines joined by commas, in brackets.
    qint64 jsonBytes() const { return length + 1; }
};

struct Result
{
    QString error;          // empty: the kept items are in the spool
    qint64 items = 0;       // read
    qint64 invalid = 0;
    qint64 duplicates = 0;
    qint64 kept = 0;
    qint64 jsonBytes = 0;   // of all chunks
    QList<ChunkSpan> chunks;
    QByteArray inputSha256; // of the spool: the items kept, as they will be sent
    bool canceled = false;
    // Chunks 0 .. encoded.size() - 1 gzipped (Options::compressionLevel):
    // the others are to be encoded from the spool.
    QList<QByteArray> encoded;
};

// progress(itemsRead) is called after each piece read; returning false stops the
// scan (canceled). input must be open; spool open for writing.
Result scan(QIODevice *input, const QString &sourceName, const Options &options, QIODevice *spool,
            const std::function<bool(qint64)> &progress = {});

// '[' and then a chunk's lines as the spool holds them (one compact item a
// line), made the JSON array its file holds, in place, and gzipped at level
// (libdeflate).
QByteArray encodeChunk(QByteArray json, int level);

// The SHA-256 a duplicate is found by, and the Memory's contentHash: of the
// content normalised (NFC, whitespace trimmed and runs of it made one
// space), and with ContentAndMetadata of the metadata too. The worker
// computes the same from what it stores.
QByteArray contentDigest(const QString &content, const QJsonObject &metadata, SubmitOptions::Dedup dedup);
// The content as it is hashed: NFC, simplified, in UTF-8.
QByteArray normalisedContent(const QString &content);

} // namespace InputScanner
} // namespace membatch
