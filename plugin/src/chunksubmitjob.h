#pragma once

#include "parseclient.h"
#include "temporalclient.h"

#include <membatch/job.h>

#include <QJsonObject>
#include <QUrl>

#include <functional>

namespace membatch {

// One chunk of a submission, all decided before it is sent: ids derived
// from the submission's identity, so that sending it again (twice, at
// once, after a kill) finds the same request instead of making another.
struct ChunkPlan
{
    int number = 1; // 1-based
    int total = 1;
    QString objectId;       // the BatchMemoryRequest's
    QString batchId;        // the parent's id itself for a submission of one chunk
    QString parentBatchId;  // empty for a submission of one chunk
    QString requestUuid;    // BatchMemoryRequest.requestId, and Temporal's start requestId
    QString inputSha256;    // hex, of the whole submission: who else may claim these ids
    qint64 count = 0;
    qint64 jsonBytes = 0;
    QByteArray gzip;
    QJsonObject batchMetadata; // the seeds' fields
    // The chunk's request as the submission found it already there (a
    // resubmission); empty: not there, or not looked for.
    QJsonObject existing;
    QString userId;            // empty: submitted with the master key
    QString organizationId;    // the seeds' tenant pointers, if any
    QString namespaceId;
    QString workspaceId;
    QUrl webhookUrl;
    QByteArray webhookSecret;
    QString retryOf;           // the batch whose failed items this submission retries
};

// Sends one chunk: a request that is there already (a resubmission found
// it) only has its workflow made sure of; else it uploads the gzip file,
// creates the BatchMemoryRequest under the chunk's own id (a clash with the
// same submission sent at the same time goes on with theirs) and starts its
// workflow with only {request_id, batch_id}. The worker records the run id
// when it takes the batch. Runs on the submission's Parse session.
class ChunkSubmitJob : public Job
{
    Q_OBJECT
public:
    ChunkSubmitJob(ParseClient *parse, TemporalClient *temporal, ChunkPlan plan, QObject *parent = nullptr);

    const ChunkPlan &plan() const { return m_plan; }
    // The request as it stands once the chunk has been sent.
    BatchStatus status() const { return m_status; }
    // It was there already: an earlier run of the same submission sent it.
    bool wasResumed() const { return m_resumed; }
    std::function<void(qint64 sent, qint64 total)> onUpload;

protected:
    void doStart() override;
    bool doKill() override;
    bool doStop() override;

private:
    // The create clashed: the request is there, made by another run.
    void lookUp();
    void found(const QJsonObject &request);
    void upload();
    void create(const QJsonObject &file);
    void findRun();
    void startWorkflow();
    void startFailed(const ApiResult &r);
    void started(const QString &runId);
    void markFailed(const ApiResult &r);
    void fail(int error, const QString &message);
    void fail(const ApiResult &r, const QString &what);
    QString name() const;

    ParseClient *m_parse;
    TemporalClient *m_temporal;
    ChunkPlan m_plan;
    BatchStatus m_status;
    bool m_resumed = false;
};

} // namespace membatch
