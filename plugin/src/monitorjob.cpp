#include "monitorjob.h"

#include "batchrequest.h"
#include "livequeryclient.h"
#include "logging.h"

#include <QSet>

#include <algorithm>

namespace membatch {

namespace {

// With push on, Parse is still read this often at least: a LiveQuery server
// that accepts a subscription and then delivers nothing (a class it does not
// serve) must not freeze the view.
constexpr qint64 CatchUpEveryMs = 60000;
constexpr int DescribesInFlight = 4;
// Temporal is asked about this many workflows a second at most: a parent of
// 5000 open chunks has each described every 250 s rather than all of them
// every poll, which kept Temporal busy and held back every Parse look.
constexpr int DescribesPerSecond = 20;

// The batches as an error names them: a watch of 200 ids of 100
// characters made a 20 KB message of each failed look.
QString namesOf(const QStringList &ids)
{
    constexpr int Named = 3;
    if (ids.size() <= Named)
        return ids.join(QStringLiteral(", "));
    return MonitorJob::tr("%1 and %n more", nullptr, int(ids.size() - Named)).arg(ids.mid(0, Named).join(QStringLiteral(", ")));
}

bool isFinalParseStatus(const QString &status)
{
    return status == QLatin1String(BatchStatus::Completed) || status == QLatin1String(BatchStatus::PartialFailure)
        || status == QLatin1String(BatchStatus::Failed) || status == QLatin1String(BatchStatus::Canceled);
}

} // namespace

ParseMonitorJob::ParseMonitorJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QStringList &batchIds,
                                 const WatchOptions &options, QObject *parent)
    : ClientJobBase<MonitorJob>(nam, settings, namesOf(batchIds), parent)
    , m_options(options)
{
    m_timer.setInterval(std::max(50, options.pollIntervalMs));
    // A watch outlasts a server's restart: each look is retried for longer.
    RetryPolicy patient;
    patient.maxAttempts = 30;
    patient.budgetMs = 5 * 60 * 1000;
    m_parse.setRetryPolicy(patient);
    m_temporal.setRetryPolicy(patient);
    connect(&m_timer, &QTimer::timeout, this, &ParseMonitorJob::tick);
    for (const QString &id : batchIds)
        addBatch(id); // before start: doAddBatch only records it
}

ParseMonitorJob::~ParseMonitorJob() = default;

ParseMonitorJob *ParseMonitorJob::onSession(QNetworkAccessManager *nam, ConnectionSettings settings, const QString &sessionToken,
                                            const QStringList &batchIds, const WatchOptions &options, QObject *parent)
{
    settings.sessionToken = sessionToken;
    auto *job = new ParseMonitorJob(nam, settings, batchIds, options, parent);
    job->setAutoDelete(false);
    return job;
}

void ParseMonitorJob::setLiveQueryUrl(const QUrl &url)
{
    m_liveQueryUrl = url;
}

void ParseMonitorJob::setLiveQueryDelays(qint64 baseMs, qint64 maxMs)
{
    m_reconnectBaseMs = baseMs;
    m_reconnectMaxMs = maxMs;
}

void ParseMonitorJob::signedIn()
{
    m_signedIn = true;
    if (m_options.push && !m_options.once) {
        m_liveQuery = new LiveQueryClient(this);
        m_liveQuery->setUrl(m_liveQueryUrl.isValid() ? m_liveQueryUrl : LiveQueryClient::urlFor(m_settings.parseUrl));
        m_liveQuery->setCredentials(m_settings.appId, m_settings.restKey,
                                    m_parse.sessionToken().isEmpty() ? m_settings.masterKey : QString());
        m_liveQuery->setSessionToken(m_parse.sessionToken());
        m_liveQuery->setReconnectDelays(m_reconnectBaseMs, m_reconnectMaxMs);
        connect(m_liveQuery, &LiveQueryClient::subscribed, this, [this](int id) {
            if (id != m_subscriptionId)
                return;
            ++m_subscriptions;
            m_pushActive = true;
            qCDebug(lcWatch) << "LiveQuery subscribed: looking again at what is watched";
            refresh(); // what changed while we were not subscribed
        });
        connect(m_liveQuery, &LiveQueryClient::unavailable, this, [this](const QString &reason) {
            qCDebug(lcWatch) << "polling:" << reason;
            m_pushActive = false;
        });
        connect(m_liveQuery, &LiveQueryClient::subscriptionFailed, this, [this](int id, const QString &reason) {
            if (id != m_subscriptionId)
                return;
            qCDebug(lcWatch) << "polling: subscription refused:" << reason;
            m_pushActive = false;
        });
        connect(m_liveQuery, &LiveQueryClient::event, this, [this](int id, const QString &op, const QJsonObject &object) {
            if (id == m_subscriptionId)
                onPushEvent(op, object);
        });
        subscribe();
        m_liveQuery->open();
    }
    refresh();
    if (!m_options.once)
        m_timer.start();
}

bool ParseMonitorJob::doKill()
{
    m_timer.stop();
    if (m_liveQuery)
        m_liveQuery->close();
    RestClient::abortAll(this);
    return true;
}

void ParseMonitorJob::doAddBatch(const QString &batchId)
{
    m_ids.append(batchId);
    m_watched.insert(batchId, Watched());
    if (!m_signedIn)
        return; // start() looks at every batch added so far
    subscribe();
    refresh();
}

static QJsonObject whereFor(const QStringList &ids)
{
    const QJsonArray in = QJsonArray::fromStringList(ids);
    return {{QStringLiteral("$or"), QJsonArray{QJsonObject{{QStringLiteral("batchId"), QJsonObject{{QStringLiteral("$in"), in}}}},
                                               QJsonObject{{QStringLiteral("parentBatchId"), QJsonObject{{QStringLiteral("$in"), in}}}}}}};
}

void ParseMonitorJob::subscribe()
{
    if (!m_liveQuery)
        return;
    // One subscription for every batch: a new batch replaces it, and the
    // new one's "subscribed" makes us look again.
    if (m_subscriptionId >= 0)
        m_liveQuery->unsubscribe(m_subscriptionId);
    m_subscriptionId = m_liveQuery->subscribe({BatchRequest::ClassName, whereFor(m_ids), {}, {}});
}

QString ParseMonitorJob::watchedIdOf(const QJsonObject &request) const
{
    const QString own = request.value(QStringLiteral("batchId")).toString();
    return m_watched.contains(own) ? own : request.value(QStringLiteral("parentBatchId")).toString();
}

bool ParseMonitorJob::watches(const QJsonObject &request) const
{
    const QString id = watchedIdOf(request);
    if (!m_watched.contains(id))
        return false;
    // A batch id is unique per user only: once the batch's owner is known,
    // another user's request under the same id (a colleague's, seen through
    // an organization's role) is not part of it.
    const auto owner = m_owners.constFind(id);
    return owner == m_owners.cend() || *owner == BatchRequest::ownerOf(request);
}

void ParseMonitorJob::onPushEvent(const QString &op, const QJsonObject &object)
{
    if (isFinished() || m_ending || !watches(object))
        return; // a server that sends what we did not ask for is not believed
    ++m_pushedEvents;
    const QString requestBatchId = object.value(QStringLiteral("batchId")).toString();
    if (op == QLatin1String("leave") || op == QLatin1String("delete"))
        m_requests.remove(requestBatchId);
    else if (m_requests.contains(requestBatchId) || m_requests.size() < maxRequests())
        m_requests.insert(requestBatchId, object);
    else
        return; // more chunks than a submission can have: a server making them up
    if (!m_queried)
        return; // the first answer shows it all
    const QString watched = m_watched.contains(requestBatchId) ? requestBatchId : object.value(QStringLiteral("parentBatchId")).toString();
    emitBatch(watched);
    if (isFinished())
        return;
    if (m_watched.contains(requestBatchId) && m_watched.contains(object.value(QStringLiteral("parentBatchId")).toString()))
        emitBatch(object.value(QStringLiteral("parentBatchId")).toString()); // a chunk watched with its parent
    if (isFinished())
        return;
    emitSum();
    checkEnd();
}

int ParseMonitorJob::maxRequests() const
{
    // One query, one page: the chunks of one submission at most, and every id.
    return BatchRequest::MaxChunks + int(m_ids.size());
}

void ParseMonitorJob::tick()
{
    if (isFinished() || m_ending || m_querying || m_describing > 0)
        return; // the last look is still on its way
    bool confirm = false; // a workflow completed: has the request said so?
    for (auto it = m_flows.cbegin(); it != m_flows.cend(); ++it)
        confirm = confirm || it->completedLooks > 0;
    if (!m_pushActive || confirm || !m_lastQuery.isValid() || m_lastQuery.elapsed() >= CatchUpEveryMs)
        refresh();
    else
        describeWorkflows();
}

void ParseMonitorJob::refresh()
{
    if (isFinished() || m_ending)
        return;
    if (m_querying) {
        m_queryAgain = true;
        return;
    }
    m_querying = true;
    ++m_parseQueries;
    m_lastQuery.start();
    m_parse.find(BatchRequest::ClassName, whereFor(m_ids), this, [this](const ApiResult &r) { readRequests(r); }, maxRequests());
}

void ParseMonitorJob::readRequests(const ApiResult &r)
{
    m_querying = false;
    if (!r.ok()) {
        lookFailed(r, tr("reading batch %1 from Parse").arg(m_batchId));
        return;
    }
    if (m_queryAgain) {
        m_queryAgain = false; // a newer look is due (a resubscribe, a batch added): take its answer
        refresh();
        return;
    }
    QHash<QString, QJsonObject> fresh;
    const QJsonArray results = r.json.value(QStringLiteral("results")).toArray();
    // Whose each watched batch is: the user's own, if it has one under the id.
    QHash<QString, QJsonArray> byWatched;
    for (const QJsonValue &v : results)
        byWatched[watchedIdOf(v.toObject())].append(v);
    m_owners.clear();
    for (auto it = byWatched.cbegin(); it != byWatched.cend(); ++it)
        if (m_watched.contains(it.key()))
            m_owners.insert(it.key(), BatchRequest::ownerOf(BatchRequest::ofOneOwner(it.value(), m_userId).first().toObject()));
    for (const QJsonValue &v : results) {
        const QJsonObject o = v.toObject();
        if (!watches(o))
            continue;
        const QString key = o.value(QStringLiteral("batchId")).toString();
        // A push that came while the answer was on its way may be newer.
        const QJsonObject known = m_requests.value(key);
        const bool pushedLater = !known.isEmpty()
            && ParseClient::dateFrom(known.value(QStringLiteral("updatedAt"))) > ParseClient::dateFrom(o.value(QStringLiteral("updatedAt")));
        fresh.insert(key, pushedLater ? known : o);
    }
    m_requests = fresh;
    QSet<QString> parents;
    for (const QJsonObject &o : std::as_const(m_requests))
        parents.insert(o.value(QStringLiteral("parentBatchId")).toString());
    for (const QString &id : std::as_const(m_ids)) {
        Watched &w = m_watched[id];
        const bool found = m_requests.contains(id) || parents.contains(id);
        if (found) {
            w.found = true;
            w.notFound = false;
            continue;
        }
        if (w.notFound)
            continue;
        const QString who = m_settings.username.isEmpty() ? tr("this key") : m_settings.username;
        if (!m_options.follow) {
            setError(NotFoundError, tr("no batch %1 in Parse (or it is not visible to %2)").arg(id, who));
            end();
            return;
        }
        w.notFound = true;
        emitInfo(tr("no batch %1 in Parse (or it is not visible to %2)").arg(id, who));
        if (isFinished())
            return;
    }
    m_queried = true;
    describeWorkflows();
}

void ParseMonitorJob::describeWorkflows()
{
    if (m_describing > 0 || !m_describeQueue.isEmpty()) {
        m_describeAgain = true;
        return;
    }
    QStringList due;
    for (auto it = m_requests.cbegin(); it != m_requests.cend(); ++it) {
        const QString workflowId = it->value(QStringLiteral("workflowId")).toString();
        if (workflowId.isEmpty())
            continue; // never started
        // Ended: Parse has the last word. A batch watched by its own id has
        // its workflow looked at once even so, to show how that ended; the
        // chunks of a parent (thousands, maybe) do not.
        if (isFinalParseStatus(it->value(QStringLiteral("status")).toString())
            && (m_flows.contains(it.key()) || !m_watched.contains(it.key())))
            continue;
        const Flow flow = m_flows.value(it.key());
        if (BatchStatus::workflowEndedBadly(flow.status) && flow.failureAsked)
            continue; // closed for good, and we know why
        due.append(it.key());
    }
    // Each workflow once a poll, or less often when there are many.
    const qint64 every = std::max<qint64>(m_timer.interval(), qint64(due.size()) * 1000 / DescribesPerSecond);
    for (const QString &key : std::as_const(due)) {
        const auto flow = m_flows.constFind(key);
        // A completed workflow is looked at again at once: has its request said so?
        if (flow != m_flows.cend() && flow->completedLooks == 0 && flow->described.isValid() && flow->described.elapsed() < every)
            continue;
        m_describeQueue.append(key);
    }
    if (m_describeQueue.isEmpty()) {
        emitAll();
        return;
    }
    for (int i = 0; i < DescribesInFlight; ++i)
        describeNext();
}

void ParseMonitorJob::describeNext()
{
    if (isFinished() || m_ending)
        return;
    if (m_describeQueue.isEmpty()) {
        if (m_describing > 0)
            return;
        if (m_describeAgain) {
            m_describeAgain = false;
            describeWorkflows();
            return;
        }
        emitAll();
        return;
    }
    const QString key = m_describeQueue.takeFirst();
    const QJsonObject request = m_requests.value(key);
    const QString workflowId = request.value(QStringLiteral("workflowId")).toString();
    if (workflowId.isEmpty()) { // gone from the view meanwhile
        describeNext();
        return;
    }
    Flow &flow = m_flows[key];
    flow.described.start();
    const QString runId = flow.followLatestRun ? QString() : request.value(QStringLiteral("workflowRunId")).toString();
    ++m_describing;
    m_temporal.describeWorkflow(workflowId, runId, this, [this, key](const ApiResult &r, const WorkflowState &state) {
        readWorkflow(key, r, state);
    });
}

void ParseMonitorJob::readWorkflow(const QString &key, const ApiResult &r, const WorkflowState &state)
{
    const QJsonObject request = m_requests.value(key);
    const QString workflowId = request.value(QStringLiteral("workflowId")).toString();
    auto done = [this] {
        --m_describing;
        describeNext();
    };
    if (!r.ok()) {
        if (r.error == NotFoundError && (request.isEmpty() || isFinalParseStatus(request.value(QStringLiteral("status")).toString()))) {
            m_flows[key]; // looked at: not again
            done(); // the workflow is gone (retention), the batch result is not
            return;
        }
        --m_describing;
        lookFailed(r, tr("reading workflow %1 from Temporal").arg(workflowId));
        return;
    }
    Flow &flow = m_flows[key];
    flow.status = state.status;
    flow.runId = state.runId;
    if (state.status == QLatin1String("continued_as_new"))
        flow.followLatestRun = true; // describe the run that carries on from now on
    if (state.status == QLatin1String("completed") && !isFinalParseStatus(request.value(QStringLiteral("status")).toString()))
        ++flow.completedLooks;
    else
        flow.completedLooks = 0;
    if (state.endedBadly() && !flow.failureAsked) {
        flow.failureAsked = true;
        m_temporal.closeFailure(workflowId, state.runId, this, [this, key, workflowId, done](const ApiResult &, const QString &failure) {
            Flow &f = m_flows[key];
            f.failure = failure.isEmpty() ? tr("workflow %1 ended %2").arg(workflowId, f.status) : failure;
            done();
        });
        return;
    }
    done();
}

BatchStatus ParseMonitorJob::merged(const QJsonObject &request) const
{
    BatchStatus s = BatchRequest::statusFromObject(request);
    const auto flow = m_flows.constFind(s.batchId);
    if (flow == m_flows.cend())
        return s;
    s.workflowStatus = flow->status;
    if (s.workflowRunId.isEmpty())
        s.workflowRunId = flow->runId;
    if (BatchStatus::workflowEndedBadly(flow->status))
        s.workflowFailure = flow->failure.isEmpty() ? tr("workflow %1 ended %2").arg(s.workflowId, flow->status) : flow->failure;
    return s;
}

BatchStatus ParseMonitorJob::statusOf(const QString &batchId, QDateTime *updatedAt) const
{
    const auto own = m_requests.constFind(batchId);
    if (own != m_requests.cend()) {
        *updatedAt = ParseClient::dateFrom(own->value(QStringLiteral("updatedAt")));
        return merged(*own);
    }
    // The parent of a submission of several chunks: each chunk's workflow
    // merged into it first, so a chunk whose workflow died counts as ended.
    QStringList keys;
    for (auto it = m_requests.cbegin(); it != m_requests.cend(); ++it) {
        if (it->value(QStringLiteral("parentBatchId")).toString() == batchId)
            keys.append(it.key());
    }
    if (keys.isEmpty())
        return {};
    std::sort(keys.begin(), keys.end());
    QJsonArray chunks;
    for (const QString &key : std::as_const(keys)) {
        QJsonObject chunk = m_requests.value(key);
        const QDateTime at = ParseClient::dateFrom(chunk.value(QStringLiteral("updatedAt")));
        if (at.isValid() && (!updatedAt->isValid() || at > *updatedAt))
            *updatedAt = at;
        const BatchStatus c = merged(chunk);
        if (!isFinalParseStatus(c.status) && BatchStatus::workflowEndedBadly(c.workflowStatus)) {
            chunk.insert(QStringLiteral("status"), c.outcome());
            QJsonArray errors = chunk.value(QStringLiteral("errors")).toArray();
            errors.prepend(BatchRequest::errorEntry(c.workflowFailure, -1, QStringLiteral("workflow")));
            chunk.insert(QStringLiteral("errors"), errors);
        }
        chunks.append(chunk);
    }
    return BatchRequest::aggregate(batchId, chunks);
}

QString ParseMonitorJob::whyNotCompleted(const BatchStatus &s)
{
    if (!s.workflowFailure.isEmpty() && s.status != QLatin1String(BatchStatus::PartialFailure))
        return s.workflowFailure;
    if (s.errors.isEmpty())
        return {};
    const QJsonObject first = s.errors.first().toObject();
    return first.contains(QStringLiteral("index"))
        ? tr("first error: item %1: %2").arg(first.value(QStringLiteral("index")).toInteger()).arg(first.value(QStringLiteral("error")).toString())
        : first.value(QStringLiteral("error")).toString();
}

void ParseMonitorJob::emitAll()
{
    if (isFinished() || m_ending || !m_queried)
        return;
    for (const QString &id : std::as_const(m_ids)) {
        emitBatch(id);
        if (isFinished())
            return; // killed by a slot that heard it
    }
    emitSum();
    if (isFinished())
        return;
    m_lookedOnce = true;
    checkEnd();
}

void ParseMonitorJob::emitBatch(const QString &batchId)
{
    const auto w = m_watched.find(batchId);
    if (w == m_watched.end() || w->notFound)
        return;
    QDateTime updatedAt;
    const BatchStatus s = statusOf(batchId, &updatedAt);
    if (s.batchId.isEmpty())
        return; // nothing known of it yet
    const QDateTime now = QDateTime::currentDateTimeUtc();
    // A count is dated when Parse stored it, so that a batch first seen
    // long after it stopped moving is stalled at once.
    const QDateTime at = updatedAt.isValid() && updatedAt <= now ? updatedAt : now;
    ProgressEstimator &estimator = w->estimator;
    estimator.setOrigin(s.createdAt);
    estimator.setStart(s.startedAt);
    const QString state = QStringLiteral("%1/%2/%3").arg(s.outcome()).arg(s.processedCount).arg(s.chunksFinal);
    if (state != w->lastState) {
        estimator.addSample(at, s.processedCount);
        estimator.noteActivity(at);
        w->lastState = state;
    }
    const bool final = s.isFinal();
    if (final)
        estimator.setEnded(s.completedAt.isValid() ? s.completedAt : at);

    BatchProgress p = BatchProgress::fromStatus(s);
    p.elapsedMs = estimator.elapsedMs(now);
    if (final) {
        // The batch's own average: the window says nothing once it ended.
        p.rate = s.processingDurationMs > 0 ? double(s.processedCount) * 1000.0 / double(s.processingDurationMs) : 0;
        p.etaMs = 0;
        p.estimatedCompletion = s.completedAt.isValid() ? s.completedAt.toUTC() : at;
        if (!s.isCompleted())
            p.reason = whyNotCompleted(s);
    } else {
        p.rate = estimator.rate(now);
        p.etaMs = estimator.etaMs(s.totalMemories, now);
        p.estimatedCompletion = estimator.estimatedCompletion(s.totalMemories, now);
        p.stalled = estimator.isStalled(now, m_options.stalledAfterMs);
        if (p.stalled)
            p.reason = estimator.stalledReason();
    }
    updateBatch(s, p);
}

void ParseMonitorJob::emitSum()
{
    BatchProgress sum;
    sum.phase = BatchProgress::Phase::Done;
    bool anyProcessing = false, anyOpen = false;
    int stalled = 0;
    qint64 left = 0;
    for (const QString &id : std::as_const(m_ids)) {
        if (m_watched.value(id).notFound || batch(id).batchId.isEmpty())
            continue;
        const BatchProgress p = batchProgress(id);
        sum.total += p.total;
        sum.processed += p.processed;
        sum.succeeded += p.succeeded;
        sum.failed += p.failed;
        sum.chunks += p.chunks;
        sum.chunksDone += p.chunksDone;
        sum.elapsedMs = std::max(sum.elapsedMs, p.elapsedMs);
        if (p.phase == BatchProgress::Phase::Done)
            continue;
        anyOpen = true;
        anyProcessing = anyProcessing || p.phase == BatchProgress::Phase::Processing;
        sum.rate += p.rate;
        left += std::max<qint64>(0, p.total - p.processed);
        stalled += p.stalled ? 1 : 0;
    }
    if (anyOpen) {
        sum.phase = anyProcessing ? BatchProgress::Phase::Processing : BatchProgress::Phase::Queued;
        sum.etaMs = sum.rate > 0 ? qint64(double(left) * 1000.0 / sum.rate) : -1;
        if (sum.etaMs >= 0)
            sum.estimatedCompletion = QDateTime::currentDateTimeUtc().addMSecs(sum.etaMs);
        sum.stalled = stalled > 0;
        if (stalled > 0)
            sum.reason = tr("%n batch(es) stalled", nullptr, stalled);
    } else {
        sum.etaMs = 0;
    }
    setProgress(sum);
}

void ParseMonitorJob::checkEnd()
{
    if (isFinished() || !m_lookedOnce)
        return;
    for (auto it = m_flows.cbegin(); it != m_flows.cend(); ++it) {
        // The workflow completed, yet the request is not final: looked
        // at again (the last write may have been on its way), then said.
        if (it->completedLooks > 2) {
            const QJsonObject request = m_requests.value(it.key());
            if (request.isEmpty() || isFinalParseStatus(request.value(QStringLiteral("status")).toString()))
                continue;
            setError(ServerError, tr("workflow %1 completed, but request %2 still says '%3': the worker did not "
                                     "record a final status")
                                      .arg(request.value(QStringLiteral("workflowId")).toString(),
                                           request.value(QStringLiteral("objectId")).toString(),
                                           request.value(QStringLiteral("status")).toString()));
            end();
            return;
        }
    }
    if (m_options.once) {
        end();
        return;
    }
    if (m_options.follow)
        return;
    for (const QString &id : std::as_const(m_ids)) {
        if (m_watched.value(id).notFound)
            continue;
        if (!batch(id).isFinal())
            return;
    }
    end();
}

void ParseMonitorJob::end()
{
    if (m_ending)
        return; // a look still on its way when the first end came
    m_ending = true;
    m_timer.stop();
    if (m_liveQuery)
        m_liveQuery->close();
    // Looks still in flight would only report on a job that has ended.
    RestClient::abortAll(this);
    if (error() == NoError) {
        QStringList failed;
        for (const QString &id : std::as_const(m_ids)) {
            const BatchStatus s = batch(id);
            if (s.batchId.isEmpty() || !s.isFinal() || s.isCompleted())
                continue;
            const QString why = whyNotCompleted(s);
            failed.append(tr("batch %1 ended %2: %3 of %4 memories stored, %5 failed%6")
                              .arg(s.batchId, s.outcome())
                              .arg(s.successCount)
                              .arg(s.totalMemories)
                              .arg(s.failCount)
                              .arg(why.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(why)));
        }
        if (failed.size() == 1)
            setError(BatchFailedError, failed.first());
        else if (!failed.isEmpty())
            setError(BatchFailedError, tr("%1 of %2 batches did not complete: %3").arg(failed.size()).arg(m_ids.size()).arg(failed.join(QStringLiteral("; "))));
    }
    finish();
}

void ParseMonitorJob::lookFailed(const ApiResult &r, const QString &what)
{
    // Retried already, by the one policy, for as long as it allows.
    setError(r.error, QStringLiteral("%1: %2").arg(what, r.message));
    end();
}

} // namespace membatch
