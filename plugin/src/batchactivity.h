#pragma once

#include "activityrun.h"
#include "batchcodec.h"

#include <QDateTime>
#include <QFutureWatcher>
#include <QJsonArray>
#include <QObject>
#include <QTimer>

namespace membatch {

// The seeds' activity fetch_and_process_batch_memories(request_id, batch_id)
// for one task: fetch the BatchMemoryRequest, download and gunzip its file,
// store each memory as a Memory object, keep the counts on the request up to
// date, record per-item errors, set the final status, and report the
// outcome to Temporal. Kept apart from the polling (WorkerJob).
//
// It heartbeats on a timer, a third of the task's heartbeat timeout, with
// its progress as details, whatever Parse is doing; a heartbeat that finds
// a cancel requested makes it stop after the group in flight, mark the
// request canceled with the counts so far and report the cancellation.
class BatchActivity : public ActivityRun
{
    Q_OBJECT
public:
    BatchActivity(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ActivityTask &task,
                  const WorkerOptions &options, QObject *parent = nullptr);

    void start() override;

    // The Memory objectId for item index of a request: the same on every
    // attempt, so a retried attempt cannot store a second copy; keyed with a
    // key only the worker has, so nobody else can work it out.
    static QString memoryObjectId(const QByteArray &idKey, const QString &requestId, qint64 index);
    // The key for memoryObjectId, derived from the master key.
    static QByteArray memoryIdKey(const QString &masterKey);

protected:
    void halt() override;

private:
    void fetchRequest();
    void markProcessing();
    void download();
    void decode(const QByteArray &gzip);
    void heartbeat();
    // Gives the attempt up (abandon, finished) if no heartbeat has reached
    // Temporal for the heartbeat timeout; true if it did.
    bool lostTemporal();
    void storeNextGroup();
    void cancelBatch();
    // Parse said "duplicate id" for these items: count the ones an earlier
    // attempt of this request stored, and record any other object as a conflict.
    void verifyDuplicates(const QList<qint64> &indexes, qint64 end);
    void groupStored(qint64 end);
    void reportProgress();
    void finalize();
    void complete();
    // Ends the task as failed. Data problems (no request, a bad file) are
    // recorded on the request and are not retried; anything else (a server
    // down) is left to Temporal's retry policy, and recorded on the request
    // when this was the policy's last attempt.
    void fail(const QString &message, bool nonRetryable);
    // The request's closing update: status, counts, errors and timing.
    QJsonObject closingFields(const QString &status) const;
    // The activity's result for Temporal: status, total, successful, failed.
    QJsonObject outcome(const QString &status) const;
    void recordItemError(qint64 index, const QString &message);
    void emitProgress(BatchProgress::Phase phase);

    QByteArray m_idKey;
    int m_groupSize;
    QFutureWatcher<BatchCodec::Decoded> m_decodeWatcher;
    QTimer m_heartbeatTimer;
    bool m_heartbeatInFlight = false;
    bool m_cancelRequested = false;
    bool m_halted = false;
    qint64 m_lastHeartbeatMs = 0;

    QString m_requestId;
    QString m_batchId;
    QJsonObject m_request;
    QJsonArray m_items;
    QJsonArray m_errors;
    qint64 m_next = 0;
    qint64 m_succeeded = 0;
    QDateTime m_startedAt;
};

} // namespace membatch
