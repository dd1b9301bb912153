#include "chunksubmitjob.h"

#include "batchrequest.h"
#include "logging.h"

#include <QDateTime>


namespace membatch {

namespace {

// Parse's "a duplicate value for a field with unique values": the objectId
// is taken (by the same submission sent at the same time).
constexpr int kDuplicateValue = 137;

} // namespace

ChunkSubmitJob::ChunkSubmitJob(ParseClient *parse, TemporalClient *temporal, ChunkPlan plan, QObject *parent)
    : Job(parent)
    , m_parse(parse)
    , m_temporal(temporal)
    , m_plan(std::move(plan))
{
    m_status.batchId = m_plan.batchId;
    m_status.requestId = m_plan.objectId;
    m_status.workflowId = BatchRequest::workflowIdFor(m_plan.batchId);
    m_status.totalMemories = m_plan.count;
    m_status.rawBytes = m_plan.jsonBytes;
    m_status.compressedBytes = m_plan.gzip.size();
}

QString ChunkSubmitJob::name() const
{
    return m_plan.total > 1 ? tr("chunk %1 of %2 (batch %3)").arg(m_plan.number).arg(m_plan.total).arg(m_plan.batchId)
                            : tr("batch %1").arg(m_plan.batchId);
}

void ChunkSubmitJob::doStart()
{
    if (m_plan.existing.isEmpty()) {
        // When its send begins: it may have waited in the submission's queue.
        m_plan.batchMetadata.insert(QStringLiteral("created_at"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs));
        upload();
    } else {
        found(m_plan.existing);
    }
}

bool ChunkSubmitJob::doStop()
{
    // What it has begun it finishes (no file without its request, no
    // request without its workflow); a kill stops it dead.
    return true;
}

bool ChunkSubmitJob::doKill()
{
    RestClient::abortAll(this);
    return true;
}

void ChunkSubmitJob::lookUp()
{
    m_parse->getObject(BatchRequest::ClassName, m_plan.objectId, this, [this](const ApiResult &r) {
        if (r.ok())
            found(r.json);
        else if (r.error == NotFoundError) // taken, yet not ours to see: another user holds this id
            fail(InvalidInputError, tr("%1: request id %2 is taken by a request this user cannot see").arg(name(), m_plan.objectId));
        else
            fail(r, tr("looking for %1").arg(name()));
    });
}

void ChunkSubmitJob::found(const QJsonObject &request)
{
    const QString sha = request.value(QStringLiteral("inputSha256")).toString();
    if (sha != m_plan.inputSha256) {
        fail(InvalidInputError, tr("%1 was submitted before with another input (request %2): "
                                   "choose another batch id or idempotency key")
                                    .arg(name(), m_plan.objectId));
        return;
    }
    m_resumed = true;
    m_plan.gzip = QByteArray(); // not needed: it is on the server
    m_status = BatchRequest::statusFromObject(request);
    if (m_status.workflowRunId.isEmpty() && m_status.status == QLatin1String(BatchStatus::Pending))
        findRun(); // a run that started before a kill, or none yet
    else
        emitResult();
}

void ChunkSubmitJob::upload()
{
    const QString fileName = QStringLiteral("batch_%1.json.gz").arg(m_plan.batchId);
    m_parse->uploadFile(
        fileName, m_plan.gzip, QByteArrayLiteral("application/gzip"), this,
        [this](ApiResult r) {
            // Without a url the File cannot be referenced (a name-only File
            // would lose the data).
            if (!r.expectFields({"name", "url"})) {
                fail(r, tr("uploading the file of %1").arg(name()));
                return;
            }
            m_plan.gzip = QByteArray(); // uploaded: no need to hold it any longer
            m_status.dataFileUrl = QUrl(r.json.value(QStringLiteral("url")).toString());
            create({{QStringLiteral("__type"), QStringLiteral("File")},
                    {QStringLiteral("name"), r.json.value(QStringLiteral("name"))},
                    {QStringLiteral("url"), r.json.value(QStringLiteral("url"))}});
        },
        [this](qint64 sent, qint64 total) {
            if (onUpload && total > 0)
                onUpload(sent, total);
        });
}

void ChunkSubmitJob::create(const QJsonObject &file)
{
    QJsonObject fields{
        {QStringLiteral("objectId"), m_plan.objectId},
        {QStringLiteral("batchId"), m_plan.batchId},
        {QStringLiteral("requestId"), m_plan.requestUuid},
        {QStringLiteral("inputSha256"), m_plan.inputSha256},
        {QStringLiteral("status"), QLatin1String(BatchStatus::Pending)},
        {QStringLiteral("totalMemories"), m_plan.count},
        {QStringLiteral("processedCount"), 0},
        {QStringLiteral("successCount"), 0},
        {QStringLiteral("failCount"), 0},
        {QStringLiteral("errors"), QJsonArray()},
        {QStringLiteral("batchDataFile"), file},
        {QStringLiteral("workflowId"), m_status.workflowId},
        {QStringLiteral("batchMetadata"), m_plan.batchMetadata},
    };
    if (!m_plan.parentBatchId.isEmpty())
        fields.insert(QStringLiteral("parentBatchId"), m_plan.parentBatchId);
    if (!m_plan.retryOf.isEmpty())
        fields.insert(QStringLiteral("retryOf"), m_plan.retryOf);
    if (!m_plan.webhookUrl.isEmpty()) {
        // The secret is a protected field: no client reads it back.
        fields.insert(QStringLiteral("webhookUrl"), m_plan.webhookUrl.toString(QUrl::FullyEncoded));
        fields.insert(QStringLiteral("webhookSecret"), QString::fromLatin1(m_plan.webhookSecret));
    }
    // Seed 000: the user reads and writes its request, its organization's
    // role reads it (the worker gives each memory the same ACL).
    QJsonObject acl;
    if (!m_plan.userId.isEmpty()) {
        fields.insert(QStringLiteral("user"), ParseClient::pointer(QStringLiteral("_User"), m_plan.userId));
        acl.insert(m_plan.userId, QJsonObject{{QStringLiteral("read"), true}, {QStringLiteral("write"), true}});
    }
    if (!m_plan.organizationId.isEmpty()) {
        fields.insert(QStringLiteral("organization"), ParseClient::pointer(QStringLiteral("Organization"), m_plan.organizationId));
        acl.insert(QStringLiteral("role:org_") + m_plan.organizationId, QJsonObject{{QStringLiteral("read"), true}});
    }
    if (!m_plan.namespaceId.isEmpty())
        fields.insert(QStringLiteral("namespace"), ParseClient::pointer(QStringLiteral("Namespace"), m_plan.namespaceId));
    if (!m_plan.workspaceId.isEmpty())
        fields.insert(QStringLiteral("workspace"), ParseClient::pointer(QStringLiteral("WorkSpace"), m_plan.workspaceId));
    fields.insert(QStringLiteral("ACL"), acl); // empty (submitted with the master key): master only

    m_parse->createObject(BatchRequest::ClassName, fields, this, [this](ApiResult r) {
        if (r.serviceCode == kDuplicateValue) {
            // The same submission, sent at the same time, created it first:
            // go on with theirs. (Our upload is left to membatch gc.)
            qCDebug(lcSubmit) << name() << "was created meanwhile by another run of the same submission";
            lookUp();
            return;
        }
        if (!r.expectFields({"objectId"})) {
            fail(r, tr("creating the request of %1 (its uploaded file %2 is left for membatch gc)")
                        .arg(name(), m_status.dataFileUrl.toDisplayString(QUrl::RemoveQuery)));
            return;
        }
        m_status.status = QLatin1String(BatchStatus::Pending);
        m_status.createdAt = ParseClient::dateFrom(r.json.value(QStringLiteral("createdAt")));
        startWorkflow();
    });
}

void ChunkSubmitJob::findRun()
{
    // A run may have started before the last attempt was stopped: starting
    // again after it ended would run the batch twice.
    m_temporal->describeWorkflow(m_status.workflowId, {}, this, [this](const ApiResult &r, const WorkflowState &state) {
        if (r.ok() && !state.runId.isEmpty())
            started(state.runId);
        else if (r.error == NotFoundError)
            startWorkflow();
        else
            fail(r, tr("looking for the workflow of %1").arg(name()));
    });
}

void ChunkSubmitJob::startWorkflow()
{
    const QJsonArray input{BatchRequest::workflowInput(m_plan.objectId, m_plan.batchId)};
    m_temporal->startWorkflow(m_status.workflowId, BatchRequest::WorkflowType, input, m_plan.requestUuid,
                              processIdentity(QStringLiteral("membatch")), this, [this](ApiResult r) {
                                  if (r.expectFields({"runId"}))
                                      started(r.json.value(QStringLiteral("runId")).toString());
                                  else
                                      startFailed(r);
                              });
}

void ChunkSubmitJob::startFailed(const ApiResult &r)
{
    if (r.httpStatus == 409) { // already started (by another run of this submission)
        findRun();
        return;
    }
    // RestClient has retried what may be; a definite no marks the request.
    if (RetryPolicy::classify(r) == RetryPolicy::Failure::None) {
        markFailed(r);
        return;
    }
    // Still unknown: look before declaring the batch failed.
    m_temporal->describeWorkflow(m_status.workflowId, {}, this, [this, r](const ApiResult &described, const WorkflowState &state) {
        if (described.ok() && !state.runId.isEmpty())
            started(state.runId); // it did start
        else if (described.error == NotFoundError)
            markFailed(r);
        else
            fail(r, tr("starting workflow %1 (it may or may not have started, and request %2 stays "
                       "pending: the same submission sent again finishes it)")
                        .arg(m_status.workflowId, m_status.requestId));
    });
}

void ChunkSubmitJob::started(const QString &runId)
{
    m_status.workflowRunId = runId;
    emitResult();
}

void ChunkSubmitJob::markFailed(const ApiResult &r)
{
    const QString what = tr("starting workflow %1").arg(m_status.workflowId);
    const QJsonArray errors{BatchRequest::errorEntry(QStringLiteral("%1: %2").arg(what, r.message), -1, QStringLiteral("start"))};
    m_parse->updateObject(BatchRequest::ClassName, m_plan.objectId, BatchRequest::failedFields(errors), this,
                          [this, r, what, errors](const ApiResult &update) {
                              if (!update.ok()) {
                                  fail(r, what + tr(" (and marking request %1 failed also failed: %2)")
                                                     .arg(m_plan.objectId, update.message));
                                  return;
                              }
                              m_status.status = QLatin1String(BatchStatus::Failed);
                              m_status.errors = errors;
                              fail(r, what + tr(" (request %1 is marked failed)").arg(m_plan.objectId));
                          });
}

void ChunkSubmitJob::fail(const ApiResult &r, const QString &what)
{
    fail(r.error, QStringLiteral("%1: %2").arg(what, r.message));
}

void ChunkSubmitJob::fail(int error, const QString &message)
{
    setError(error, message);
    emitResult();
}

} // namespace membatch
