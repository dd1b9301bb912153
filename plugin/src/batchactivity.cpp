#include "batchactivity.h"

#include "batchrequest.h"
#include "logging.h"

#include <membatch/batchstatus.h>
#include <membatch/job.h>
#include <membatch/memoryitem.h>

#include <QCryptographicHash>
#include <QMessageAuthenticationCode>
#include <QJsonDocument>
#include <QtConcurrent>

namespace membatch {

namespace {

constexpr int kDuplicateValue = 137; // Parse: an object with this objectId exists

// Parse's default batchRequestLimit (the master key is exempt, but stay polite).
constexpr int kMaxGroupSize = 100;

// Heartbeats go out every third of the heartbeat timeout, within these bounds
// (and every 10 s when the task has none: a cancel still gets through).
constexpr qint64 kMinHeartbeatMs = 100;
constexpr qint64 kMaxHeartbeatMs = 10000;

} // namespace

BatchActivity::BatchActivity(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ActivityTask &task,
                             const WorkerOptions &options, QObject *parent)
    : ActivityRun(nam, settings, task, options, parent)
    , m_idKey(memoryIdKey(settings.masterKey))
    , m_groupSize(std::clamp(options.progressEvery, 1, kMaxGroupSize))
{
    const qint64 timeout = m_task.heartbeatTimeoutMs > 0 ? m_task.heartbeatTimeoutMs : 3 * kMaxHeartbeatMs;
    m_heartbeatTimer.setInterval(int(std::clamp(timeout / 3, kMinHeartbeatMs, kMaxHeartbeatMs)));
    connect(&m_heartbeatTimer, &QTimer::timeout, this, &BatchActivity::heartbeat);
}

QByteArray BatchActivity::memoryIdKey(const QString &masterKey)
{
    // Not the master key itself: a key for this one purpose, made from it.
    return QMessageAuthenticationCode::hash("membatch Memory object ids v1", masterKey.toUtf8(), QCryptographicHash::Sha256);
}

QString BatchActivity::memoryObjectId(const QByteArray &idKey, const QString &requestId, qint64 index)
{
    const QByteArray item = requestId.toUtf8() + ':' + QByteArray::number(index);
    const QByteArray mac = QMessageAuthenticationCode::hash(item, idKey, QCryptographicHash::Sha256);
    return QString::fromLatin1(mac.toHex().left(24)); // 96 bits: no collisions, no guessing
}

void BatchActivity::start()
{
    if (!m_task.inputError.isEmpty()) {
        fail(tr("activity %1 cannot read its input: %2").arg(BatchRequest::ActivityType, m_task.inputError), true);
        return;
    }
    const QJsonArray &input = m_task.input;
    if (input.size() != 2 || !input.at(0).isString() || !input.at(1).isString()) {
        fail(tr("activity %1 expects [request_id, batch_id] as input").arg(BatchRequest::ActivityType), true);
        return;
    }
    m_requestId = input.at(0).toString();
    m_batchId = input.at(1).toString();
    m_lastHeartbeatMs = elapsedMs(); // the poll that handed the task over counts as one
    m_heartbeatTimer.start();
    fetchRequest();
}

void BatchActivity::halt()
{
    m_halted = true; // a heartbeat answer from now on changes nothing
    m_heartbeatTimer.stop();
    m_decodeWatcher.disconnect(this); // a decode still running is not waited for
}

void BatchActivity::emitProgress(BatchProgress::Phase phase)
{
    BatchProgress p;
    p.phase = phase;
    p.batchId = m_batchId;
    p.status = m_request.value(QStringLiteral("status")).toString();
    p.total = m_request.value(QStringLiteral("totalMemories")).toInteger();
    p.processed = m_next;
    p.succeeded = m_succeeded;
    p.failed = m_errors.size();
    Q_EMIT progressChanged(p);
}

void BatchActivity::fetchRequest()
{
    retrying([this](RestClient::Handler h) {
        m_parse.getObject(BatchRequest::ClassName, m_requestId, this, std::move(h));
    },
             [this](const ApiResult &r) {
        if (!r.ok()) {
            fail(tr("fetching %1 %2: %3").arg(BatchRequest::ClassName, m_requestId, r.message),
                 r.error == Job::NotFoundError);
            return;
        }
        m_request = r.json;
        const BatchStatus status = BatchRequest::statusFromObject(m_request);
        if (status.batchId != m_batchId) {
            m_request = {}; // not ours to mark
            fail(tr("%1 %2 belongs to batch %3, not %4").arg(BatchRequest::ClassName, m_requestId, status.batchId, m_batchId),
                 true);
            return;
        }
        if (status.isFinal()) {
            // Delivered again after it was settled: report what is recorded.
            qCInfo(lcWorker) << "batch" << m_batchId << "is already" << status.status;
            m_succeeded = status.successCount;
            m_errors = status.errors;
            m_next = status.totalMemories;
            complete();
            return;
        }
        m_startedAt = status.startedAt.isValid() ? status.startedAt : QDateTime::currentDateTimeUtc();
        markProcessing();
    });
}

void BatchActivity::markProcessing()
{
    const QJsonObject fields{{QStringLiteral("status"), QLatin1String(BatchStatus::Processing)},
                             {QStringLiteral("startedAt"), ParseClient::date(m_startedAt)}};
    retrying([this, fields](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, fields, this, std::move(h));
    },
             [this](const ApiResult &r) {
        if (!r.ok()) {
            fail(tr("marking batch %1 processing: %2").arg(m_batchId, r.message), false);
            return;
        }
        m_request.insert(QStringLiteral("status"), QLatin1String(BatchStatus::Processing));
        emitProgress(BatchProgress::Phase::Processing);
        download();
    });
}

void BatchActivity::download()
{
    const QUrl url = QUrl(m_request.value(QStringLiteral("batchDataFile")).toObject().value(QStringLiteral("url")).toString())
                         .adjusted(QUrl::NormalizePathSegments); // no "/files/../" way out
    if (!url.isValid() || url.isEmpty()) {
        fail(tr("batch %1 has no batchDataFile to process").arg(m_batchId), true);
        return;
    }
    // Only from this Parse Server's files: a url elsewhere is not fetched.
    const QUrl files = appendPath(m_settings.parseUrl, QStringLiteral("/files/"));
    if (url.scheme() != files.scheme() || url.host() != files.host() || url.port(-1) != files.port(-1)
        || !url.path().startsWith(files.path())) {
        fail(tr("the file of batch %1 is not on this Parse Server (%2): not fetched")
                 .arg(m_batchId, files.toDisplayString(QUrl::RemoveUserInfo)),
             true);
        return;
    }
    retrying([this, url](RestClient::Handler h) {
        m_parse.download(url, this, std::move(h));
    },
             [this](const ApiResult &r) {
        if (!r.ok()) {
            fail(tr("downloading the file of batch %1: %2").arg(m_batchId, r.message), r.error == Job::NotFoundError);
            return;
        }
        decode(r.body);
    });
}

void BatchActivity::decode(const QByteArray &gzip)
{
    connect(&m_decodeWatcher, &QFutureWatcher<BatchCodec::Decoded>::finished, this, [this] {
        BatchCodec::Decoded decoded = m_decodeWatcher.result();
        if (!decoded.error.isEmpty()) {
            fail(tr("the file of batch %1: %2").arg(m_batchId, decoded.error), true);
            return;
        }
        m_items = std::move(decoded.items);
        const qint64 expected = m_request.value(QStringLiteral("totalMemories")).toInteger();
        if (m_items.size() != expected) {
            fail(tr("the file of batch %1 holds %2 memories, the request says %3").arg(m_batchId).arg(m_items.size()).arg(expected),
                 true);
            return;
        }
        qCDebug(lcWorker) << "batch" << m_batchId << ":" << m_items.size() << "memories to store";
        storeNextGroup();
    });
    // No more than the request says its JSON holds (the submitter records
    // it), and never past the codec's own limit.
    const qint64 declared = m_request.value(QStringLiteral("batchMetadata")).toObject()
                                .value(QStringLiteral("total_size_bytes")).toInteger();
    const qint64 limit = declared > 0 ? declared : BatchCodec::MaxJsonBytes;
    m_decodeWatcher.setFuture(QtConcurrent::run([gzip, limit] { return BatchCodec::decode(gzip, limit); }));
}

void BatchActivity::recordItemError(qint64 index, const QString &message)
{
    m_errors.append(BatchRequest::errorEntry(message, index));
}

void BatchActivity::storeNextGroup()
{
    const qint64 begin = m_next;
    const qint64 end = std::min<qint64>(begin + m_groupSize, m_items.size());
    if (begin >= end) {
        finalize(); // all stored: a cancel heard now is too late to matter
        return;
    }
    if (m_cancelRequested) {
        cancelBatch();
        return;
    }

    const QJsonValue acl = m_request.value(QStringLiteral("ACL"));
    const QJsonValue user = m_request.value(QStringLiteral("user"));
    QJsonArray requests;
    QList<qint64> indexes; // the item each sub-request carries; /batch answers in request order
    for (qint64 i = begin; i < end; ++i) {
        MemoryItem item;
        QString why;
        if (!m_items.at(i).isObject())
            why = tr("not a JSON object");
        else
            MemoryItem::fromJson(m_items.at(i).toObject(), &item, &why);
        if (!why.isEmpty()) {
            recordItemError(i, why);
            continue;
        }
        QJsonObject body = item.toJson();
        body.insert(QStringLiteral("objectId"), memoryObjectId(m_idKey, m_requestId, i));
        body.insert(QStringLiteral("batchId"), m_batchId);
        body.insert(QStringLiteral("index"), i);
        body.insert(QStringLiteral("request"), ParseClient::pointer(BatchRequest::ClassName, m_requestId));
        if (user.isObject())
            body.insert(QStringLiteral("user"), user);
        body.insert(QStringLiteral("ACL"), acl.isObject() ? acl : QJsonObject());
        requests.append(QJsonObject{{QStringLiteral("method"), QStringLiteral("POST")},
                                    {QStringLiteral("path"), m_parse.batchPath(QStringLiteral("classes/") + BatchRequest::MemoryClassName)},
                                    {QStringLiteral("body"), body}});
        indexes.append(i);
    }
    if (requests.isEmpty()) {
        groupStored(end);
        return;
    }

    retrying([this, requests](RestClient::Handler h) {
        m_parse.batch(requests, this, std::move(h));
    },
             [this, begin, end, indexes](const ApiResult &r) {
        if (!r.ok()) {
            fail(tr("storing memories %1-%2 of batch %3: %4").arg(begin + 1).arg(end).arg(m_batchId, r.message), false);
            return;
        }
        const QJsonArray answers = QJsonDocument::fromJson(r.body).array();
        if (answers.size() != indexes.size()) {
            fail(tr("storing memories %1-%2 of batch %3: Parse answered %4 results for %5 requests")
                     .arg(begin + 1).arg(end).arg(m_batchId).arg(answers.size()).arg(indexes.size()),
                 false);
            return;
        }
        QList<qint64> duplicates;
        for (qsizetype j = 0; j < answers.size(); ++j) {
            const QJsonObject answer = answers.at(j).toObject();
            const QJsonObject error = answer.value(QStringLiteral("error")).toObject();
            if (answer.contains(QStringLiteral("success"))) {
                ++m_succeeded;
            } else if (error.value(QStringLiteral("code")).toInt() == kDuplicateValue) {
                duplicates.append(indexes.at(j));
            } else {
                recordItemError(indexes.at(j), tr("Parse refused it: %1 (code %2)")
                                                   .arg(error.value(QStringLiteral("error")).toString())
                                                   .arg(error.value(QStringLiteral("code")).toInt()));
            }
        }
        if (duplicates.isEmpty())
            groupStored(end);
        else
            verifyDuplicates(duplicates, end);
    });
}

void BatchActivity::verifyDuplicates(const QList<qint64> &indexes, qint64 end)
{
    QJsonArray ids;
    for (qint64 i : indexes)
        ids.append(memoryObjectId(m_idKey, m_requestId, i));
    const QJsonObject where{{QStringLiteral("objectId"), QJsonObject{{QStringLiteral("$in"), ids}}}};
    const int limit = int(indexes.size());
    retrying([this, where, limit](RestClient::Handler h) {
        m_parse.find(BatchRequest::MemoryClassName, where, this, std::move(h), limit, QString());
    },
             [this, indexes, end](const ApiResult &r) {
        if (!r.ok()) {
            fail(tr("checking memories already stored for batch %1: %2").arg(m_batchId, r.message), false);
            return;
        }
        QHash<QString, QJsonObject> found;
        for (const QJsonValue &v : r.json.value(QStringLiteral("results")).toArray())
            found.insert(v.toObject().value(QStringLiteral("objectId")).toString(), v.toObject());
        for (qint64 i : indexes) {
            const QJsonObject stored = found.value(memoryObjectId(m_idKey, m_requestId, i));
            const bool ours = stored.value(QStringLiteral("request")).toObject().value(QStringLiteral("objectId")).toString() == m_requestId
                && stored.value(QStringLiteral("index")).toInteger(-1) == i;
            if (ours)
                ++m_succeeded; // stored by an earlier attempt of this request
            else
                recordItemError(i, tr("conflict: a Memory object with this item's id exists and is not this item"));
        }
        groupStored(end);
    });
}

void BatchActivity::groupStored(qint64 end)
{
    m_next = end;
    reportProgress();
}

void BatchActivity::reportProgress()
{
    const QJsonObject fields{{QStringLiteral("processedCount"), m_next},
                             {QStringLiteral("successCount"), m_succeeded},
                             {QStringLiteral("failCount"), m_errors.size()}};
    retrying([this, fields](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, fields, this, std::move(h));
    },
             [this](const ApiResult &r) {
        if (!r.ok()) {
            fail(tr("recording the progress of batch %1: %2").arg(m_batchId, r.message), false);
            return;
        }
        emitProgress(BatchProgress::Phase::Processing);
        storeNextGroup();
    });
}

void BatchActivity::heartbeat()
{
    if (m_halted)
        return;
    if (lostTemporal())
        return;
    if (m_heartbeatInFlight)
        return; // the last one is still on its way: no pile-up behind a slow server
    m_heartbeatInFlight = true;
    const QJsonArray details{QJsonObject{{QStringLiteral("processed"), m_next}, {QStringLiteral("total"), m_items.size()}}};
    m_temporal.heartbeat(m_task.taskToken, details, m_identity, this, [this](const ApiResult &r, bool cancelRequested) {
        m_heartbeatInFlight = false;
        if (m_halted)
            return; // answered while the task is being settled: nothing left to stop
        if (r.error == Job::NotFoundError) {
            // The task is no longer ours (timed out and handed on, or the
            // workflow ended): stop without reporting anything.
            abandon();
            Q_EMIT finished(false, tr("batch %1: Temporal no longer knows this task: %2").arg(m_batchId, r.message));
            return;
        }
        if (!r.ok()) {
            qCWarning(lcWorker) << "heartbeat failed, going on:" << r.message;
            lostTemporal();
            return;
        }
        m_lastHeartbeatMs = elapsedMs();
        if (cancelRequested && !m_cancelRequested) {
            qCInfo(lcWorker) << "batch" << m_batchId << ": cancel requested; stopping after the group in flight";
            m_cancelRequested = true;
        }
    }, m_heartbeatTimer.interval());
}

bool BatchActivity::lostTemporal()
{
    // No heartbeat has reached Temporal for a whole heartbeat timeout: it has
    // handed this attempt on (or will before anything reaches it), and what
    // this one wrote from now on could undo what the next one records.
    if (m_task.heartbeatTimeoutMs <= 0 || elapsedMs() - m_lastHeartbeatMs <= m_task.heartbeatTimeoutMs)
        return false;
    abandon();
    Q_EMIT finished(false, tr("batch %1: no heartbeat reached Temporal for %2 s: the attempt is given up")
                               .arg(m_batchId).arg(m_task.heartbeatTimeoutMs / 1000.0));
    return true;
}

QJsonObject BatchActivity::closingFields(const QString &status) const
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    return {{QStringLiteral("status"), status},
            {QStringLiteral("processedCount"), m_next},
            {QStringLiteral("successCount"), m_succeeded},
            {QStringLiteral("failCount"), m_errors.size()},
            {QStringLiteral("errors"), m_errors},
            {QStringLiteral("completedAt"), ParseClient::date(now)},
            {QStringLiteral("processingDurationMs"), m_startedAt.msecsTo(now)}};
}

QJsonObject BatchActivity::outcome(const QString &status) const
{
    return {{QStringLiteral("status"), status},
            {QStringLiteral("total"), m_request.value(QStringLiteral("totalMemories")).toInteger()},
            {QStringLiteral("successful"), m_succeeded},
            {QStringLiteral("failed"), m_errors.size()}};
}

void BatchActivity::cancelBatch()
{
    const QString canceled = QLatin1String(BatchStatus::Canceled);
    retrying([this, canceled](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, closingFields(canceled), this, std::move(h));
    },
             [this, canceled](const ApiResult &r) {
        if (!r.ok())
            qCWarning(lcWorker) << "could not mark batch" << m_batchId << "canceled:" << r.message;
        else
            m_request.insert(QStringLiteral("status"), canceled);
        emitProgress(BatchProgress::Phase::Done);
        QJsonObject stopped = outcome(canceled);
        stopped.insert(QStringLiteral("processed"), m_next);
        const QJsonArray details{stopped};
        const QString message = tr("batch %1: canceled after %2 of %3 memories").arg(m_batchId).arg(m_next).arg(m_items.size());
        report([this, details](RestClient::Handler h) { m_temporal.cancelActivity(m_task.taskToken, details, m_identity, this, std::move(h)); },
               [this, message](const ApiResult &rr) {
                   settle(false, rr.ok() ? message : tr("%1, but telling Temporal failed: %2").arg(message, rr.message));
               });
    });
}

void BatchActivity::finalize()
{
    const qint64 failed = m_errors.size();
    const QString status = failed == 0 ? QLatin1String(BatchStatus::Completed)
        : m_succeeded > 0              ? QLatin1String(BatchStatus::PartialFailure)
                                       : QLatin1String(BatchStatus::Failed);
    retrying([this, status](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, closingFields(status), this, std::move(h));
    },
             [this, status](const ApiResult &r) {
        if (!r.ok()) {
            fail(tr("recording the result of batch %1: %2").arg(m_batchId, r.message), false);
            return;
        }
        m_request.insert(QStringLiteral("status"), status);
        emitProgress(BatchProgress::Phase::Done);
        complete();
    });
}

void BatchActivity::complete()
{
    const QString status = m_request.value(QStringLiteral("status")).toString();
    completeTask(outcome(status), tr("batch %1: %2").arg(m_batchId, status));
}

void BatchActivity::fail(const QString &message, bool nonRetryable)
{
    const QString type = nonRetryable ? QStringLiteral("BatchDataError") : QStringLiteral("BatchTransientError");
    // A data problem will not mend itself, and a last attempt has no next
    // one: record it where users look. (Another attempt may yet succeed.)
    if ((!nonRetryable && !isLastAttempt()) || m_request.isEmpty()) {
        failTask(message, type, nonRetryable);
        return;
    }
    QJsonArray errors = m_errors;
    errors.append(BatchRequest::errorEntry(message, -1, QStringLiteral("process")));
    retrying([this, errors](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, BatchRequest::failedFields(errors, m_startedAt), this, std::move(h));
    },
             [this, message, type, nonRetryable](const ApiResult &r) {
                 if (!r.ok())
                     qCWarning(lcWorker) << "could not mark the batch failed:" << r.message;
                 failTask(message, type, nonRetryable);
             });
}

} // namespace membatch
