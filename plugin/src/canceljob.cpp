#include "canceljob.h"

#include "batchrequest.h"
#include "logging.h"
#include "watchjob.h"

namespace membatch {

CancelJob::CancelJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
                     const WatchOptions &options, const QString &reason, QObject *parent)
    : ClientJob(nam, settings, batchId, parent)
    , m_options(options)
    , m_reason(reason.isEmpty() ? QStringLiteral("canceled with membatch") : reason)
{
    BatchStatus status;
    status.batchId = batchId;
    setBatch(status);
}

bool CancelJob::doKill()
{
    if (m_watch)
        m_watch->kill();
    RestClient::abortAll(this);
    return true;
}

void CancelJob::lookUp(bool afterCancel)
{
    findRequest([this, afterCancel](const ApiResult &r) {
        if (!r.ok()) {
            setError(r.error, tr("reading batch %1 from Parse: %2").arg(m_batchId, r.message));
            finish();
            return;
        }
        const QJsonArray results = r.json.value(QStringLiteral("results")).toArray();
        if (results.isEmpty()) {
            if (afterCancel)
                finish();
            else
                cancelParent();
            return;
        }
        const BatchStatus status = BatchRequest::statusFromObject(results.first().toObject());
        setBatch(status);
        if (status.isFinal()) {
            emitInfo(tr("batch %1 has already ended (%2): nothing to cancel").arg(m_batchId, status.status));
            finish();
            return;
        }
        if (afterCancel) {
            finish(); // Temporal says the run is over; the request says how far it got
            return;
        }
        if (status.workflowId.isEmpty()) {
            setError(InvalidInputError, tr("batch %1 was never started (no workflow): nothing to cancel").arg(m_batchId));
            finish();
            return;
        }
        requestCancel();
    });
}

void CancelJob::requestCancel()
{
    const BatchStatus status = batch();
    // One request id per batch: a second cancel is the same cancel.
    m_temporal.cancelWorkflow(status.workflowId, m_reason, QStringLiteral("membatch-cancel-") + m_batchId,
                              processIdentity(QStringLiteral("membatch")), this, [this, status](const ApiResult &r) {
        if (r.error == NotFoundError) {
            // The run ended between our look and the cancel.
            lookUp(true);
            return;
        }
        if (!r.ok()) {
            setError(r.error, tr("canceling workflow %1: %2").arg(status.workflowId, r.message));
            finish();
            return;
        }
        qCDebug(lcSubmit) << "cancel requested for" << status.workflowId;
        emitInfo(tr("batch %1: cancel requested; the worker stops at its next heartbeat").arg(m_batchId));
        if (isFinished())
            return; // killed from the message's slot
        if (m_options.waitForCompletion)
            follow();
        else
            finish();
    });
}

void CancelJob::cancelParent()
{
    findChunks(
        [this](const ApiResult &r) {
            if (!r.ok()) {
                setError(r.error, tr("reading the chunks of batch %1 from Parse: %2").arg(m_batchId, r.message));
                finish();
                return;
            }
            const QJsonArray chunks = r.json.value(QStringLiteral("results")).toArray();
            if (chunks.isEmpty()) {
                notFound(); // nobody cancels another user's batch through membatch
                return;
            }
            cancelChunks(chunks);
        });
}

void CancelJob::cancelChunks(const QJsonArray &chunks)
{
    setBatch(BatchRequest::aggregate(m_batchId, chunks));
    for (const QJsonValue &v : chunks) {
        const BatchStatus chunk = BatchRequest::statusFromObject(v.toObject());
        if (!chunk.isFinal() && !chunk.workflowId.isEmpty())
            m_toCancel << chunk.workflowId;
    }
    if (m_toCancel.isEmpty()) {
        emitInfo(tr("batch %1 has already ended (%2): nothing to cancel").arg(m_batchId, batch().status));
        finish();
        return;
    }
    nextChunk();
}

void CancelJob::nextChunk()
{
    if (m_toCancel.isEmpty()) {
        emitInfo(tr("batch %1: cancel requested for %2 chunk(s); their workers stop at their next heartbeat").arg(m_batchId).arg(m_canceled));
        if (isFinished())
            return;
        if (m_options.waitForCompletion)
            follow();
        else
            finish();
        return;
    }
    const QString workflowId = m_toCancel.takeFirst();
    m_temporal.cancelWorkflow(workflowId, m_reason, QStringLiteral("membatch-cancel-") + workflowId,
                              processIdentity(QStringLiteral("membatch")), this, [this, workflowId](const ApiResult &r) {
        if (r.ok())
            ++m_canceled;
        else if (r.error != NotFoundError) { // not found: it ended meanwhile
            setError(r.error, tr("canceling workflow %1 of batch %2: %3").arg(workflowId, m_batchId, r.message));
            finish();
            return;
        }
        nextChunk();
    });
}

void CancelJob::follow()
{
    m_watch = WatchJob::onSession(m_nam, m_settings, m_parse.sessionToken(), m_batchId, m_options, this);
    m_watch->setSession(m_parse.session());
    connect(m_watch, &Job::progressChanged, this, [this](const BatchProgress &p) { setProgress(p); });
    connect(m_watch, &Job::result, this, [this](Job *job) {
        const auto *watch = static_cast<WatchJob *>(job);
        setBatch(watch->batch());
        // Ending canceled is what was asked for; ending any other way is not.
        const bool canceled = watch->batch().outcome() == QLatin1String(BatchStatus::Canceled);
        if (watch->error() != NoError && !(watch->error() == BatchFailedError && canceled))
            setError(watch->error(), watch->errorString());
        else if (!canceled)
            setError(BatchFailedError, tr("batch %1 ended %2 before the cancel took effect").arg(m_batchId, watch->batch().outcome()));
        finish();
    });
    m_watch->start();
}

} // namespace membatch
