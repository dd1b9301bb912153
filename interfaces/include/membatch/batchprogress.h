#pragma once

#include <membatch/membatch_export.h>

#include <QDateTime>
#include <QJsonObject>
#include <QMetaType>
#include <QObject>
#include <QString>

namespace membatch {

struct BatchStatus;

// A snapshot of where a batch is. Jobs emit it on every change; it carries
// everything a progress line, a JSON line or a table row needs.
class MEMBATCH_EXPORT BatchProgress
{
    Q_GADGET
public:
    enum class Phase {
        Idle,
        Reading,    // reading and validating the input (processed: items read)
        Encoding,   // gzipping the chunks
        Uploading,  // sending the chunks: files, requests, workflows (bytes, chunks)
        Creating,   // creating the BatchMemoryRequest object
        Starting,   // starting the Temporal workflow
        Queued,     // submitted, waiting for a worker (status pending)
        Processing, // a worker is storing memories (items)
        Done,       // final: see status
    };
    Q_ENUM(Phase)

    Phase phase = Phase::Idle;
    QString batchId;
    QString status;        // the BatchMemoryRequest status, once there is one
    qint64 total = 0;      // memories in the batch
    qint64 processed = 0;
    qint64 succeeded = 0;
    qint64 failed = 0;
    qint64 bytesDone = 0;  // Encoding/Uploading
    qint64 bytesTotal = 0;
    int chunks = 0;        // a submission of several chunks: how many
    int chunksDone = 0;    // ... sent (Uploading), or ended (Processing)

    // Timing, computed in the plugin so that every host shows the same
    // numbers. rate is in the current phase's unit a second (items while
    // reading or processing, bytes while uploading), smoothed; 0: unknown.
    double rate = 0;
    qint64 elapsedMs = -1; // since the batch was created (or the job began); -1: unknown
    qint64 etaMs = -1;     // until the current phase ends at this rate; -1: unknown
    QDateTime estimatedCompletion; // when processing should end (UTC); invalid: unknown
    // No progress for WatchOptions::stalledAfterMs while a batch is not
    // final (a worker gone, a queue nobody polls): reason says since when.
    bool stalled = false;
    // Why the batch ended badly (the workflow's failure, the first error) or
    // is stalled; empty otherwise.
    QString reason;

    static QString phaseName(Phase phase); // "uploading"
    static bool phaseFromName(const QString &name, Phase *phase);

    // What a batch's state alone says: its phase (queued, processing or
    // done), outcome, counts and chunks; no timing (that needs its history).
    static BatchProgress fromStatus(const BatchStatus &status);

    // Percent of the current phase's unit (items or bytes), -1 if unknown.
    int percent() const;

    QJsonObject toJson() const;
    static BatchProgress fromJson(const QJsonObject &json);

    friend bool operator==(const BatchProgress &a, const BatchProgress &b)
    {
        return a.phase == b.phase && a.batchId == b.batchId && a.status == b.status && a.total == b.total
            && a.processed == b.processed && a.succeeded == b.succeeded && a.failed == b.failed
            && a.bytesDone == b.bytesDone && a.bytesTotal == b.bytesTotal && a.chunks == b.chunks
            && a.chunksDone == b.chunksDone && a.rate == b.rate && a.elapsedMs == b.elapsedMs && a.etaMs == b.etaMs
            && a.estimatedCompletion == b.estimatedCompletion && a.stalled == b.stalled && a.reason == b.reason;
    }
    friend bool operator!=(const BatchProgress &a, const BatchProgress &b) { return !(a == b); }
};

} // namespace membatch

Q_DECLARE_METATYPE(membatch::BatchProgress)
