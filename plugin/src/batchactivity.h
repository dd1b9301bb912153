#pragma once

#include "activityrun.h"
#include "batchfilestream.h"
#include "resultsrecorder.h"

#include <QDateTime>
#include <QFutureWatcher>
#include <QJsonArray>
#include <QObject>
#include <QTimer>

#include <list>
#include <vector>

namespace membatch {

// The seeds' activity fetch_and_process_batch_memories(request_id, batch_id)
// for one task: fetch the BatchMemoryRequest, stream its file in (download,
// gunzip and cut into items as it arrives), store the memories as Memory
// objects in groups through /batch, several groups in flight, keep the
// counts on the request up to date, record per-item errors, set the final
// status, and report the outcome to Temporal. Kept apart from the polling
// (WorkerJob).
//
// Exactly once: every item has an object id of its own, the same on every
// attempt, that nobody without the worker's key can work out; the counts
// on the request always describe a prefix of the file, so a retried attempt
// resumes after it, and what it stores again is recognised as its own.
//
// It heartbeats on a timer, a third of the task's heartbeat timeout, with
// its progress as details, whatever Parse is doing; a heartbeat that finds
// a cancel requested makes it stop after the groups in flight, mark the
// request canceled with the counts so far and report the cancellation.
class BatchActivity : public ActivityRun
{
    Q_OBJECT
public:
    BatchActivity(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ActivityTask &task,
                  const WorkerOptions &options, QObject *parent = nullptr);
    ~BatchActivity() override;

    void start() override;
    // Stops after the groups in flight, records the counts (the next
    // attempt resumes after them) and fails the attempt as retryable. On the
    // last attempt it goes on instead: handing it back would fail the batch.
    void handBack() override;

    // The Memory objectId for item index of a request: the same on every
    // attempt, so a retried attempt cannot store a second copy; keyed with a
    // key only the worker has, so nobody else can work it out.
    static QString memoryObjectId(const QByteArray &idKey, const QString &requestId, qint64 index);
    // The key for memoryObjectId, derived from the master key.
    static QByteArray memoryIdKey(const QString &masterKey);

    // At most this many per-item errors are kept on the request; failCount
    // counts them all.
    static constexpr int MaxRecordedErrors = 1000;

protected:
    void halt() override;

private:
    // Items [begin, end) of the file on their way to Parse in one /batch call.
    struct Group
    {
        qint64 begin = 0;
        qint64 end = 0;
        QList<qint64> indexes;  // the items sent, in request order
        QByteArrayList requests; // their /batch sub-requests
        QList<std::pair<qint64, QString>> errors; // per-item: refused here or by Parse
        QHash<qint64, QString> customIds;         // of the items that have one
        qint64 succeeded = 0;
        quint64 id = 0;
        bool ready = false; // its sub-requests are made
        bool sent = false;
        bool done = false;
    };

    // How this request's items become /batch sub-requests: what prepare()
    // needs, as values, to run on the pool.
    struct Sender
    {
        QByteArray idKey;
        QString requestId;
        QByteArray prefix; // a sub-request up to its body
        QByteArray suffix; // what every Memory of the request carries (batchId, request, user, ACL), and the closing braces
        bool hashMetadata = false; // the submission deduplicated by content and metadata: so is contentHash
    };
    struct Prepared
    {
        QList<qint64> indexes;
        QByteArrayList requests;
        QList<std::pair<qint64, QString>> errors;
        QHash<qint64, QString> customIds;
    };
    // Parses and checks the items, and writes the sub-requests of the valid
    // ones. Pure: runs under QtConcurrent.
    static Prepared prepare(const std::vector<BatchFileStream::Item> &items, const Sender &sender);

    void fetchRequest();
    void markProcessing();
    void openFile();
    void fileFailed(const ApiResult &result, bool dataError);
    // Sends the groups made ready while there is room, makes the next ones
    // ready, folds the groups that are done into the counts, in file order,
    // and ends the batch once the file is read and stored.
    void pump();
    bool startGroup();
    void sendGroup(Group *group);
    void groupAnswered(Group *group, const ApiResult &result);
    // Parse said "duplicate id" for these items: count the ones an earlier
    // attempt of this request stored, and record any other object as a conflict.
    void verifyDuplicates(Group *group, const QList<qint64> &indexes);
    void groupDone(Group *group);
    void commitDone();
    // The results of the items of a group folded into the counts.
    QList<ItemResult> resultsOf(const Group &group) const;
    void writeProgress();
    // Writes the results not yet written and the results file, then runs
    // then() with the File for the request (empty if there is none).
    void closeResults(bool mustSucceed, std::function<void(const QJsonObject &file)> then);
    // Runs then() once no progress update is on its way (the closing update
    // must not be overtaken by an older one).
    void whenProgressWritten(std::function<void()> then);
    // Stops starting groups; once those in flight are done, runs then().
    void drain(std::function<void()> then);
    void heartbeat();
    // Gives the attempt up (abandon, finished) if no heartbeat has reached
    // Temporal for the heartbeat timeout; true if it did.
    bool lostTemporal();
    void cancelBatch();
    void recordCanceled(const QJsonObject &resultsFile);
    void endOfFile();
    void finalize();
    void recordFinal(const QJsonObject &resultsFile);
    void complete();
    // Ends the task as failed. Data problems (no request, a bad file) are
    // recorded on the request and are not retried; anything else (a server
    // down) is left to Temporal's retry policy, and recorded on the request
    // when this was the policy's last attempt.
    void fail(const QString &message, bool nonRetryable);
    void recordFailure(const QJsonObject &fields, const QString &message, const QString &type, bool nonRetryable);
    // The request's closing update: status, counts, errors and timing.
    QJsonObject closingFields(const QString &status, const QJsonObject &resultsFile = {}) const;
    QJsonObject countFields() const;
    // The activity's result for Temporal: status, total, successful, failed.
    QJsonObject outcome(const QString &status) const;
    void emitProgress(BatchProgress::Phase phase);
    qint64 total() const;

    QByteArray m_idKey;
    int m_groupSize;
    int m_groupsInFlight;
    QTimer m_heartbeatTimer;
    QTimer m_progressTimer;
    bool m_cancelRequested = false;
    qint64 m_lastHeartbeatMs = 0;

    // Everything the storing does (the file, the groups, the progress
    // updates and their retries) lives on this: deleting it stops all of it.
    QObject *m_work = nullptr;
    BatchFileStream *m_file = nullptr;
    int m_fileAttempt = 0;
    qint64 m_fileFailingSinceMs = -1;
    std::list<Group> m_groups; // in file order
    qint64 m_taken = 0;        // items handed to groups (the next group's begin)
    bool m_draining = false;
    bool m_finishing = false; // all read and stored: the closing update is on its way
    std::function<void()> m_drained;

    bool m_progressDirty = false;
    bool m_errorsDirty = false;
    bool m_progressInFlight = false;
    std::function<void()> m_progressWritten;

    QString m_requestId;
    QString m_batchId;
    QJsonObject m_request;
    Sender m_sender;
    ResultsRecorder *m_results = nullptr;
    quint64 m_lastGroupId = 0;
    // What is recorded covers items [0, m_next): stored or failed.
    qint64 m_next = 0;
    qint64 m_succeeded = 0;
    qint64 m_failed = 0;
    QJsonArray m_errors;       // the first MaxRecordedErrors of them
    QDateTime m_startedAt;
};

} // namespace membatch
