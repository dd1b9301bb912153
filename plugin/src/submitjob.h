#pragma once

#include "chunksubmitjob.h"
#include "inputscanner.h"
#include "parseclient.h"
#include "temporalclient.h"

#include <membatch/batchoptions.h>
#include <membatch/job.h>

#include <QFutureWatcher>
#include <QHash>
#include <QPointer>
#include <QTimer>

#include <memory>

namespace membatch {

class WatchJob;

// Submits a batch file of any size, in chunks:
// 1. a first pass on a pool thread (InputScanner) reads it as it comes,
//    checks every item, drops duplicates and cuts the chunks, while the
//    session is opened and the Temporal namespace checked;
// 2. the submission's identity (its content, or its idempotency key, with
//    the user and the options) fixes the parent id and every chunk's ids;
// 3. the chunks are gzipped on the pool (libdeflate) and sent by
//    ChunkSubmitJobs under a CompositeJob, SubmitOptions::inFlight at once,
//    each holding one chunk in memory.
// Sent again, the same submission finds its chunks and only sends what is
// missing. With waitForCompletion it then follows the batch to its end.
class SubmitJob : public BatchJob
{
    Q_OBJECT
public:
    // What Parse Server and the Cloud Code take for a webhook url.
    static constexpr qsizetype MaxWebhookUrlLength = 2048;

    // path "-" reads standard input.
    SubmitJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &path,
              const SubmitOptions &options, QObject *parent = nullptr);
    // Reads device (open, readable from a pool thread, alive until result()).
    SubmitJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, QIODevice *device, const QString &sourceName,
              const SubmitOptions &options, QObject *parent = nullptr);
    ~SubmitJob() override;

    // The submission retries the failed items of this batch (retry-failed):
    // each request records it as retryOf. Before start().
    void setRetryOf(const QString &batchId) { m_retryOf = batchId; }
    // The session to hold instead of one of the job's own; before start().
    void setSession(ParseSession *session) { m_parse.setSession(session); }
    // How much of the input (as JSON) is gzipped while it is still read;
    // the other chunks are gzipped from the spool as they are sent. Before
    // start().
    void setEncodeAheadBytes(qint64 bytes) { m_encodeAheadBytes = bytes; }

    // What a batch id may be: it names the Parse file and the workflow.
    static bool isValidBatchId(const QString &batchId);

    // The ids a submission's identity gives (public for the tests).
    static QString userPrefix(const QString &userId);
    static QString chunkBatchId(const QString &parentId, int number, int total);

protected:
    void doStart() override;
    bool doKill() override;
    bool doStop() override;

private:
    struct Shared;
    class ChunkSender;
    QString checkOptions() const;
    void scan();
    void scanned();
    void signIn();
    void checkNamespace();
    void plan();
    void findSent();
    void pump();
    void chunkEncoded(int index, const QByteArray &gzip, const QString &error);
    void send(int index, const QByteArray &gzip);
    void chunkSent(ChunkSubmitJob *job);
    void allSent();
    void dryRunDone();
    void follow();
    ChunkPlan chunkPlan(int index) const;
    void fail(int error, const QString &message);
    void fail(const ApiResult &r, const QString &what);
    void finish();
    bool enter(BatchProgress::Phase phase);
    void report();

    QNetworkAccessManager *m_nam;
    ConnectionSettings m_settings;
    QString m_source;
    SubmitOptions m_options;
    QString m_retryOf;
    qint64 m_encodeAheadBytes = InputScanner::Options().encodeAheadBytes;
    ParseClient m_parse;
    TemporalClient m_temporal;
    std::shared_ptr<Shared> m_shared;
    QFutureWatcher<InputScanner::Result> m_scanWatcher;
    QTimer m_readingTimer;
    QPointer<WatchJob> m_watch;

    InputScanner::Result m_scan;
    bool m_scanned = false;
    bool m_ready = false; // signed in and the namespace checked
    bool m_planned = false;
    bool m_stopping = false;
    bool m_signingIn = false;
    bool m_finishing = false;
    QString m_userId;
    QString m_identity; // hex
    int m_nextChunk = 0;  // the next to encode
    int m_encoding = 0;
    // The chunks encoded: queued for a send slot, or being sent.
    ChunkSender *m_chunks;
    int m_sent = 0;
    int m_resumed = 0;
    QHash<QString, QJsonObject> m_sentBefore; // objectId -> the chunk's request, sent by an earlier run
    qint64 m_compressedBytes = 0;
    qint64 m_uploadedBytes = 0;
    QString m_firstError;
    int m_firstErrorCode = 0;
    BatchStatus m_status;
    BatchProgress m_progress;
};

} // namespace membatch
