#include "watchjob.h"

#include "batchrequest.h"
#include "logging.h"

namespace membatch {

namespace {

BatchProgress::Phase phaseOf(const BatchStatus &s)
{
    if (s.isFinal())
        return BatchProgress::Phase::Done;
    if (s.status == QLatin1String(BatchStatus::Processing))
        return BatchProgress::Phase::Processing;
    return BatchProgress::Phase::Queued;
}

} // namespace

WatchJob::WatchJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
                   const WatchOptions &options, QObject *parent)
    : ClientJob(nam, settings, batchId, parent)
    , m_options(options)
{
    m_timer.setSingleShot(true);
    m_timer.setInterval(std::max(50, options.pollIntervalMs));
    // A watch outlasts a server's restart: each look is retried for longer.
    RetryPolicy patient;
    patient.maxAttempts = 30;
    patient.budgetMs = 5 * 60 * 1000;
    m_parse.setRetryPolicy(patient);
    m_temporal.setRetryPolicy(patient);
    connect(&m_timer, &QTimer::timeout, this, &WatchJob::poll);
    m_status.batchId = batchId;
}

WatchJob *WatchJob::onSession(QNetworkAccessManager *nam, ConnectionSettings settings, const QString &sessionToken,
                              const QString &batchId, const WatchOptions &options, QObject *parent)
{
    settings.sessionToken = sessionToken;
    auto *watch = new WatchJob(nam, settings, batchId, options, parent);
    watch->setAutoDelete(false);
    return watch;
}

bool WatchJob::doKill()
{
    m_timer.stop();
    RestClient::abortAll(this);
    return true;
}

void WatchJob::poll()
{
    findRequest([this](const ApiResult &r) { readRequest(r); });
}

void WatchJob::readRequest(const ApiResult &r)
{
    if (!r.ok()) {
        lookFailed(r, tr("reading batch %1 from Parse").arg(m_batchId));
        return;
    }
    const QJsonArray results = r.json.value(QStringLiteral("results")).toArray();
    if (results.isEmpty()) {
        lookAtChunks();
        return;
    }
    BatchStatus fresh = BatchRequest::statusFromObject(results.first().toObject());
    fresh.workflowStatus = m_status.workflowStatus;
    fresh.workflowFailure = m_status.workflowFailure;
    m_status = fresh;
    if (m_status.workflowId.isEmpty()) { // never started (the submit failed before)
        update();
        return;
    }
    m_temporal.describeWorkflow(m_status.workflowId, m_followLatestRun ? QString() : m_status.workflowRunId, this,
                                [this](const ApiResult &wr, const WorkflowState &state) { readWorkflow(wr, state); });
}

void WatchJob::lookAtChunks()
{
    // No request of that id: the parent of a submission of several chunks?
    findChunks(
        [this](const ApiResult &r) {
            if (!r.ok()) {
                lookFailed(r, tr("reading the chunks of batch %1 from Parse").arg(m_batchId));
                return;
            }
            const QJsonArray chunks = r.json.value(QStringLiteral("results")).toArray();
            if (chunks.isEmpty()) {
                notFound();
                return;
            }
            m_status = BatchRequest::aggregate(m_batchId, chunks);
            update();
        });
}

void WatchJob::readWorkflow(const ApiResult &r, const WorkflowState &state)
{
    if (!r.ok()) {
        if (r.error == NotFoundError && m_status.isFinal()) {
            update(); // the workflow is gone (retention), the batch result is not
            return;
        }
        lookFailed(r, tr("reading workflow %1 from Temporal").arg(m_status.workflowId));
        return;
    }
    m_status.workflowStatus = state.status;
    if (m_status.workflowRunId.isEmpty())
        m_status.workflowRunId = state.runId;
    if (state.status == QLatin1String("continued_as_new"))
        m_followLatestRun = true; // describe the run that carries on from now on
    if (state.endedBadly() && m_status.workflowFailure.isEmpty()) {
        m_temporal.closeFailure(m_status.workflowId, m_status.workflowRunId, this,
                                [this](const ApiResult &, const QString &failure) {
                                    m_status.workflowFailure = failure.isEmpty()
                                        ? tr("workflow %1 ended %2").arg(m_status.workflowId, m_status.workflowStatus)
                                        : failure;
                                    update();
                                });
        return;
    }
    update();
}

void WatchJob::update()
{
    setBatch(m_status);
    BatchProgress p;
    p.phase = phaseOf(m_status);
    p.batchId = m_status.batchId;
    p.status = m_status.outcome();
    p.total = m_status.totalMemories;
    p.processed = m_status.processedCount;
    p.succeeded = m_status.successCount;
    p.failed = m_status.failCount;
    if (m_status.isParent()) {
        p.chunks = m_status.chunkCount;
        p.chunksDone = m_status.chunksFinal;
    }
    setProgress(p);
    if (isFinished())
        return; // killed by a slot that heard the progress

    if (m_options.once || m_status.isFinal()) {
        end();
        return;
    }
    // The workflow completed, yet the request is not final: look once
    // more (the last write may be on its way), then say so.
    if (m_status.workflowStatus == QLatin1String("completed") && ++m_completedLooks > 1) {
        setError(ServerError, tr("workflow %1 completed, but request %2 still says '%3': the worker did not "
                                 "record a final status")
                                  .arg(m_status.workflowId, m_status.requestId, m_status.status));
        end();
        return;
    }
    m_timer.start();
}

void WatchJob::end()
{
    if (error() == NoError && m_status.isFinal() && !m_status.isCompleted()) {
        QString why;
        if (!m_status.workflowFailure.isEmpty() && m_status.status != QLatin1String(BatchStatus::PartialFailure))
            why = m_status.workflowFailure;
        else if (!m_status.errors.isEmpty()) {
            const QJsonObject first = m_status.errors.first().toObject();
            why = first.contains(QStringLiteral("index"))
                ? tr("first error: item %1: %2").arg(first.value(QStringLiteral("index")).toInt() + 1).arg(first.value(QStringLiteral("error")).toString())
                : first.value(QStringLiteral("error")).toString();
        }
        setError(BatchFailedError, tr("batch %1 ended %2: %3 of %4 memories stored, %5 failed%6")
                                       .arg(m_status.batchId, m_status.outcome())
                                       .arg(m_status.successCount)
                                       .arg(m_status.totalMemories)
                                       .arg(m_status.failCount)
                                       .arg(why.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(why)));
    }
    finish();
}

void WatchJob::lookFailed(const ApiResult &r, const QString &what)
{
    // Retried already, by the one policy, for as long as it allows.
    setError(r.error, QStringLiteral("%1: %2").arg(what, r.message));
    end();
}

} // namespace membatch
