#include "batchactivity.h"

#include "inputscanner.h"

#include "batchcodec.h"
#include "batchfilestream.h"
#include "batchrequest.h"
#include "logging.h"

#include <membatch/batchstatus.h>
#include <membatch/job.h>
#include <membatch/memoryitem.h>

#include <QCryptographicHash>
#include <QJsonDocument>
#include <QMessageAuthenticationCode>
#include <QtConcurrent>

namespace membatch {

namespace {

constexpr int kDuplicateValue = 137; // Parse: an object with this objectId exists

// A /batch call carries at most this much (Parse takes 20 MiB a request by
// default; well below it, a call is quick to send again).
constexpr qint64 kGroupBytes = 4 * 1024 * 1024;
// What a sub-request adds to its item: object id, pointers, ACL, path.
constexpr qint64 kEnvelopeBytes = 1024;
// Parse's default maxUploadSize: one item's /batch call must fit in it.
constexpr qint64 kParseRequestBytes = 20 * 1024 * 1024;
// Read this far ahead of the groups.
constexpr qsizetype kBacklogBytes = 4 * 1024 * 1024;
// What a file of the declared size may inflate to beyond it.
constexpr qint64 kInflateSlackBytes = 64 * 1024;

// Groups made ready before there is room to send them: the next call goes
// out the moment an answer frees a place, not after it has been prepared.
constexpr int kGroupsAhead = 1;

} // namespace

BatchActivity::BatchActivity(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ActivityTask &task,
                             const WorkerOptions &options, QObject *parent)
    : ActivityRun(nam, settings, task, options, parent)
    , m_idKey(memoryIdKey(settings.masterKey))
    , m_groupSize(std::clamp(options.groupSize, 1, 1000))
    , m_groupsInFlight(std::clamp(options.groupsInFlight, 1, 16))
    , m_work(new QObject(this))
{
    m_heartbeatTimer.setInterval(heartbeatIntervalMs());
    connect(&m_heartbeatTimer, &QTimer::timeout, this, &BatchActivity::heartbeat);
    m_progressTimer.setInterval(std::max(options.progressIntervalMs, 10));
    connect(&m_progressTimer, &QTimer::timeout, this, &BatchActivity::writeProgress);
}

BatchActivity::~BatchActivity() = default;

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

void BatchActivity::handBack()
{
    if (isHalted() || m_draining || m_finishing)
        return; // ending already
    if (isLastAttempt()) {
        qCInfo(lcWorker) << "batch" << m_batchId << ": the last attempt of its retry policy is not handed back: finishing it";
        return;
    }
    const auto handOver = [this] {
        stopWork();
        failTask(tr("batch %1: the worker is stopping; handed back after %2 of %3 memories").arg(m_batchId).arg(m_next).arg(total()),
                 QStringLiteral("WorkerShutdown"), false);
    };
    if (!m_file) {
        handOver(); // not storing yet: nothing to record
        return;
    }
    drain(handOver);
}

void BatchActivity::halt()
{
    m_heartbeatTimer.stop();
    m_progressTimer.stop();
    if (m_work) {
        // The file, the groups, their retries: nothing of it answers now.
        RestClient::abortAll(m_work);
        m_work->deleteLater();
        m_work = nullptr;
        m_file = nullptr;
    }
}

qint64 BatchActivity::total() const
{
    return m_request.value(QStringLiteral("totalMemories")).toInteger();
}

void BatchActivity::emitProgress(BatchProgress::Phase phase)
{
    BatchProgress p;
    p.phase = phase;
    p.batchId = m_batchId;
    p.status = m_request.value(QStringLiteral("status")).toString();
    p.total = total();
    p.processed = m_next;
    p.succeeded = m_succeeded;
    p.failed = m_failed;
    Q_EMIT progressChanged(p);
}

void BatchActivity::fetchRequest()
{
    retrying([this](RestClient::Handler h) {
        m_parse.getObject(BatchRequest::ClassName, m_requestId, this, std::move(h));
    },
             [this](const ApiResult &r) {
        if (isHalted())
            return; // handed back meanwhile
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
        m_succeeded = status.successCount;
        m_failed = status.failCount;
        m_errors = status.errors;
        if (status.isFinal()) {
            // Delivered again after it was settled: report what is recorded.
            qCInfo(lcWorker) << "batch" << m_batchId << "is already" << status.status;
            m_next = status.totalMemories;
            complete();
            return;
        }
        if (status.status == QLatin1String(BatchStatus::Processing) && status.processedCount > 0) {
            // An earlier attempt got this far: what it recorded stands.
            m_next = std::min(status.processedCount, status.totalMemories);
            qCInfo(lcWorker) << "batch" << m_batchId << ": attempt" << m_task.attempt << "resumes after" << m_next
                             << "of" << status.totalMemories << "memories";
        } else {
            m_succeeded = m_failed = 0;
            m_errors = {};
        }
        m_taken = m_next;
        const QJsonValue user = m_request.value(QStringLiteral("user"));
        const QJsonValue acl = m_request.value(QStringLiteral("ACL"));
        QJsonObject memoryFields{{QStringLiteral("batchId"), m_batchId},
                          {QStringLiteral("request"), ParseClient::pointer(BatchRequest::ClassName, m_requestId)},
                          {QStringLiteral("ACL"), acl.isObject() ? acl : QJsonObject()}};
        if (user.isObject())
            memoryFields.insert(QStringLiteral("user"), user);
        // The request's tenant (seed 000) goes with each of its memories.
        for (const QLatin1String key : {QLatin1String("organization"), QLatin1String("namespace"), QLatin1String("workspace")}) {
            const QJsonValue pointer = m_request.value(key);
            if (pointer.isObject())
                memoryFields.insert(key, pointer);
        }
        const QString path = m_parse.batchPath(QStringLiteral("classes/") + BatchRequest::MemoryClassName);
        m_sender.idKey = m_idKey;
        m_sender.requestId = m_requestId;
        m_sender.hashMetadata = m_request.value(QStringLiteral("batchMetadata")).toObject().value(QStringLiteral("dedup")).toString()
            == QLatin1String("content+metadata");
        m_sender.prefix = "{\"method\":\"POST\",\"path\":" + QJsonDocument(QJsonArray{path}).toJson(QJsonDocument::Compact).mid(1).chopped(1)
            + ",\"body\":";
        m_sender.suffix = ',' + compactJson(memoryFields).mid(1) + '}';
        m_startedAt = status.startedAt.isValid() ? status.startedAt : QDateTime::currentDateTimeUtc();
        ResultsRecorder::Request results{m_idKey, m_requestId, m_batchId, acl.toObject(), m_next};
        m_results = new ResultsRecorder(&m_parse, [this](const auto &send, const auto &done) { retrying(send, done); },
                                        results, this);
        markProcessing();
    });
}

void BatchActivity::markProcessing()
{
    QJsonObject fields{{QStringLiteral("status"), QLatin1String(BatchStatus::Processing)},
                       {QStringLiteral("startedAt"), ParseClient::date(m_startedAt)}};
    // The run that processes it, for cross-reference (the submitter does not
    // wait to write it).
    if (!m_task.runId.isEmpty())
        fields.insert(QStringLiteral("workflowRunId"), m_task.runId);
    retrying([this, fields](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, fields, this, std::move(h));
    },
             [this](const ApiResult &r) {
        if (isHalted())
            return;
        if (!r.ok()) {
            fail(tr("marking batch %1 processing: %2").arg(m_batchId, r.message), false);
            return;
        }
        m_request.insert(QStringLiteral("status"), QLatin1String(BatchStatus::Processing));
        emitProgress(BatchProgress::Phase::Processing);
        m_progressTimer.start();
        openFile();
    });
}

void BatchActivity::openFile()
{
    if (isHalted())
        return;
    const QUrl url = QUrl(m_request.value(QStringLiteral("batchDataFile")).toObject().value(QStringLiteral("url")).toString());
    if (!url.isValid() || url.isEmpty()) {
        fail(tr("batch %1 has no batchDataFile to process").arg(m_batchId), true);
        return;
    }
    if (!m_parse.isFileUrl(url)) {
        fail(tr("the file of batch %1 is not on this Parse Server (%2): not fetched")
                 .arg(m_batchId, m_settings.parseUrl.toDisplayString(QUrl::RemoveUserInfo)),
             true);
        return;
    }
    // No more than the request says its JSON holds (the submitter records
    // it), and never past the codec's own limit; the gzip of it is smaller.
    const qint64 declared = m_request.value(QStringLiteral("batchMetadata")).toObject()
                                .value(QStringLiteral("total_size_bytes")).toInteger();
    BatchFileStream::Limits limits;
    limits.maxJsonBytes = declared > 0 ? std::min(declared + kInflateSlackBytes, BatchCodec::MaxJsonBytes) : BatchCodec::MaxJsonBytes;
    limits.maxFileBytes = limits.maxJsonBytes + kInflateSlackBytes;
    limits.maxItemBytes = kParseRequestBytes - kEnvelopeBytes;
    limits.backlogBytes = kBacklogBytes;
    if (m_file)
        m_file->deleteLater();
    m_file = new BatchFileStream(&m_parse, url, limits, m_taken, m_work);
    connect(m_file, &BatchFileStream::readyRead, this, &BatchActivity::pump);
    connect(m_file, &BatchFileStream::failed, this, &BatchActivity::fileFailed);
    m_file->start();
}

void BatchActivity::fileFailed(const ApiResult &result, bool dataError)
{
    if (isHalted())
        return;
    const QString message = tr("the file of batch %1: %2").arg(m_batchId, result.message);
    if (dataError) {
        // Nothing will mend the file: end with what the groups in flight store.
        drain([this, message] { fail(message, true); });
        return;
    }
    // Cut off (Parse restarting, a stall): read it again, from where the
    // groups have got to, for as long as any request would be retried.
    if (m_fileFailingSinceMs < 0)
        m_fileFailingSinceMs = elapsedMs();
    if (!retryLater(result, m_fileAttempt++, m_fileFailingSinceMs, m_work, [this] { openFile(); }))
        fail(message, false);
}

void BatchActivity::pump()
{
    for (;;) {
        if (isHalted())
            return;
        if (m_draining) {
            commitDone();
            if (m_groups.empty()) {
                m_draining = false;
                std::exchange(m_drained, {})(); // once
            }
            return; // the groups in flight end first
        }
        // Sent in file order: a group made ready before the one ahead of it
        // waits for it (the counts could not move past the one held back).
        // Sent first, and what was answered taken in after: Parse is not
        // kept waiting for the results of the call that freed the place.
        int inFlight = 0;
        for (Group &group : m_groups) {
            if (group.done)
                continue;
            if (group.sent) {
                ++inFlight;
                continue;
            }
            if (!group.ready || inFlight >= m_groupsInFlight)
                break;
            sendGroup(&group);
            ++inFlight;
        }
        commitDone();
        if (!m_file || int(m_groups.size()) >= m_groupsInFlight + kGroupsAhead || !m_file->hasItem())
            break;
        if (!startGroup())
            return;
    }
    if (m_file && m_file->atEnd() && m_groups.empty())
        endOfFile();
}

BatchActivity::Prepared BatchActivity::prepare(const std::vector<BatchFileStream::Item> &items, const Sender &sender)
{
    Prepared prepared;
    for (const BatchFileStream::Item &item : items) {
        QString why;
        MemoryItem memory;
        QJsonDocument doc;
        if (item.json.isEmpty()) {
            why = tr("%1 bytes: more than Parse takes in one request (%2 MiB)").arg(item.bytes).arg(kParseRequestBytes >> 20);
        } else {
            QJsonParseError parseError;
            doc = QJsonDocument::fromJson(item.json, &parseError);
            if (parseError.error != QJsonParseError::NoError)
                why = tr("not valid JSON: %1 at byte %2").arg(parseError.errorString()).arg(parseError.offset);
            else if (!doc.isObject())
                why = tr("not a JSON object");
            else
                MemoryItem::fromJson(doc.object(), &memory, &why);
            const QString customId = doc.object().value(QStringLiteral("customId")).toString();
            if (!customId.isEmpty() && customId.size() <= MemoryItem::MaxCustomIdLength)
                prepared.customIds.insert(item.index, customId);
        }
        if (!why.isEmpty()) {
            prepared.errors.append({item.index, why});
            continue;
        }
        // The sub-request as text: the item (valid, so only a memory's own
        // fields) with its contentHash (computed here: no client's is
        // trusted), its id and index, then what every item of the request
        // carries, written once.
        QJsonObject object = doc.object();
        object.insert(QStringLiteral("contentHash"),
                      QString::fromLatin1(InputScanner::contentDigest(memory.content, memory.metadata,
                                                                      sender.hashMetadata ? SubmitOptions::Dedup::ContentAndMetadata
                                                                                          : SubmitOptions::Dedup::Content)
                                              .toHex()));
        const QByteArray itemJson = QJsonDocument(object).toJson(QJsonDocument::Compact);
        QByteArray request;
        request.reserve(sender.prefix.size() + itemJson.size() + 64 + sender.suffix.size());
        request.append(sender.prefix)
            .append(QByteArrayView(itemJson).chopped(1))
            .append(",\"objectId\":\"")
            .append(memoryObjectId(sender.idKey, sender.requestId, item.index).toLatin1())
            .append("\",\"index\":")
            .append(QByteArray::number(item.index))
            .append(sender.suffix);
        prepared.indexes.append(item.index);
        prepared.requests.append(request);
    }
    return prepared;
}

bool BatchActivity::startGroup()
{
    m_fileAttempt = 0; // the file is coming again
    m_fileFailingSinceMs = -1;
    if (m_taken >= total()) {
        const QString message = tr("the file of batch %1 holds more than the %2 memories its request says").arg(m_batchId).arg(total());
        drain([this, message] { fail(message, true); });
        return false;
    }
    Group &group = m_groups.emplace_back();
    group.id = ++m_lastGroupId;
    group.begin = group.end = m_taken;
    std::vector<BatchFileStream::Item> items;
    qint64 bytes = 0;
    while (m_file->hasItem() && m_taken < total() && group.end - group.begin < m_groupSize
           && (items.empty() || bytes + m_file->peekBytes() + kEnvelopeBytes <= kGroupBytes)) {
        items.push_back(m_file->take());
        Q_ASSERT(items.back().index == m_taken);
        bytes += items.back().bytes + kEnvelopeBytes;
        m_taken = group.end = items.back().index + 1;
    }
    // Made ready on the pool: the event loop stays free to send the calls
    // in flight (Qt hands a request's body to its network thread piece by
    // piece from here) and to read their answers.
    auto *watcher = new QFutureWatcher<Prepared>(m_work);
    connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, id = group.id] {
        watcher->deleteLater();
        if (isHalted())
            return;
        const auto it = std::find_if(m_groups.begin(), m_groups.end(), [id](const Group &g) { return g.id == id; });
        if (it == m_groups.end())
            return; // dropped (a cancel, a hand-back) while it was being made
        Prepared prepared = watcher->result();
        it->indexes = std::move(prepared.indexes);
        it->requests = std::move(prepared.requests);
        it->errors = std::move(prepared.errors);
        it->customIds = std::move(prepared.customIds);
        it->ready = true;
        it->done = it->requests.isEmpty(); // nothing in it Parse could take
        pump();
    });
    watcher->setFuture(QtConcurrent::run(&BatchActivity::prepare, std::move(items), m_sender));
    return true;
}

void BatchActivity::sendGroup(Group *group)
{
    group->sent = true;
    const QByteArrayList requests = group->requests;
    retrying([this, requests, work = m_work](RestClient::Handler h) { m_parse.batch(requests, work, std::move(h)); },
             [this, group](const ApiResult &r) {
                 if (!isHalted())
                     groupAnswered(group, r);
             },
             m_work);
}

void BatchActivity::groupAnswered(Group *group, const ApiResult &r)
{
    const QString what = tr("storing memories %1-%2 of batch %3").arg(group->begin + 1).arg(group->end).arg(m_batchId);
    if (r.httpStatus == 413) {
        // Too large for this server's limit: halves, down to the one item
        // that is too large by itself, which is refused alone.
        if (group->indexes.size() == 1) {
            group->errors.append({group->indexes.first(), tr("Parse refused it as too large (HTTP 413)")});
            group->requests.clear();
            groupDone(group);
            return;
        }
        const qsizetype half = group->indexes.size() / 2;
        auto second = m_groups.insert(std::next(std::find_if(m_groups.begin(), m_groups.end(),
                                                             [group](const Group &g) { return &g == group; })),
                                      Group());
        second->id = ++m_lastGroupId;
        second->ready = true;
        second->begin = group->indexes.at(half);
        second->end = group->end;
        second->indexes = group->indexes.mid(half);
        second->requests = group->requests.mid(half);
        second->customIds = group->customIds;
        for (const auto &error : std::as_const(group->errors))
            if (error.first >= second->begin)
                second->errors.append(error);
        group->errors.removeIf([&](const auto &error) { return error.first >= second->begin; });
        group->end = second->begin;
        group->indexes.resize(half);
        group->requests.resize(half);
        sendGroup(group);
        sendGroup(&*second);
        return;
    }
    if (!r.ok()) {
        fail(tr("%1: %2").arg(what, r.message), false);
        return;
    }
    const QJsonArray answers = QJsonDocument::fromJson(r.body).array();
    if (answers.size() != group->indexes.size()) {
        fail(tr("%1: Parse answered %2 results for %3 requests").arg(what).arg(answers.size()).arg(group->indexes.size()),
             false);
        return;
    }
    group->requests.clear(); // answered: never sent again
    QList<qint64> duplicates;
    for (qsizetype j = 0; j < answers.size(); ++j) {
        const QJsonObject answer = answers.at(j).toObject();
        const QJsonObject error = answer.value(QStringLiteral("error")).toObject();
        if (answer.contains(QStringLiteral("success"))) {
            ++group->succeeded;
        } else if (error.value(QStringLiteral("code")).toInt() == kDuplicateValue) {
            duplicates.append(group->indexes.at(j));
        } else {
            group->errors.append({group->indexes.at(j), tr("Parse refused it: %1 (code %2)")
                                                            .arg(error.value(QStringLiteral("error")).toString())
                                                            .arg(error.value(QStringLiteral("code")).toInt())});
        }
    }
    if (duplicates.isEmpty())
        groupDone(group);
    else
        verifyDuplicates(group, duplicates);
}

void BatchActivity::verifyDuplicates(Group *group, const QList<qint64> &indexes)
{
    QJsonArray ids;
    for (qint64 i : indexes)
        ids.append(memoryObjectId(m_idKey, m_requestId, i));
    const QJsonObject where{{QStringLiteral("objectId"), QJsonObject{{QStringLiteral("$in"), ids}}}};
    const int limit = int(indexes.size());
    retrying([this, where, limit, work = m_work](RestClient::Handler h) {
        m_parse.find(BatchRequest::MemoryClassName, where, work, std::move(h), limit, QString());
    },
             [this, group, indexes](const ApiResult &r) {
        if (isHalted())
            return;
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
                ++group->succeeded; // stored by an earlier attempt of this request
            else
                group->errors.append({i, tr("conflict: a Memory object with this item's id exists and is not this item")});
        }
        groupDone(group);
    }, m_work);
}

void BatchActivity::groupDone(Group *group)
{
    group->done = true;
    pump();
}

void BatchActivity::commitDone()
{
    // Only a prefix of the file counts: what is recorded must hold for a
    // retried attempt that starts after it.
    while (!m_groups.empty() && m_groups.front().done) {
        Group &group = m_groups.front();
        std::sort(group.errors.begin(), group.errors.end());
        for (const auto &[index, message] : std::as_const(group.errors)) {
            ++m_failed;
            if (m_errors.size() < MaxRecordedErrors) {
                m_errors.append(BatchRequest::errorEntry(message, index));
                m_errorsDirty = true;
            }
        }
        m_succeeded += group.succeeded;
        m_next = group.end;
        m_results->add(resultsOf(group));
        m_progressDirty = true;
        m_groups.pop_front();
    }
}

QList<ItemResult> BatchActivity::resultsOf(const Group &group) const
{
    // Every item of the group was sent, or refused before it could be; an
    // item Parse refused is among the errors too. (The errors are sorted.)
    QList<ItemResult> results;
    results.reserve(group.end - group.begin);
    auto error = group.errors.cbegin();
    for (qint64 i = group.begin; i < group.end; ++i) {
        ItemResult r;
        r.index = i;
        r.customId = group.customIds.value(i);
        while (error != group.errors.cend() && error->first < i)
            ++error;
        if (error != group.errors.cend() && error->first == i)
            r.error = error->second;
        else
            r.memoryId = memoryObjectId(m_idKey, m_requestId, i);
        results.append(std::move(r));
    }
    return results;
}

QJsonObject BatchActivity::countFields() const
{
    return {{QStringLiteral("processedCount"), m_next},
            {QStringLiteral("successCount"), m_succeeded},
            {QStringLiteral("failCount"), m_failed}};
}

void BatchActivity::writeProgress()
{
    if (isHalted() || m_progressInFlight || !m_progressDirty)
        return;
    QJsonObject fields = countFields();
    if (m_errorsDirty)
        fields.insert(QStringLiteral("errors"), m_errors);
    m_progressDirty = m_errorsDirty = false;
    m_progressInFlight = true;
    const auto failed = [this](const ApiResult &r) {
        m_progressInFlight = false;
        fail(tr("recording the progress of batch %1: %2").arg(m_batchId, r.message), false);
    };
    // The results first: what the counts say is done can then be looked up.
    m_results->writePages([this, fields, failed](const ApiResult &pages) {
        if (isHalted())
            return;
        if (!pages.ok()) {
            failed(pages);
            return;
        }
        retrying([this, fields, work = m_work](RestClient::Handler h) {
            m_parse.updateObject(BatchRequest::ClassName, m_requestId, fields, work, std::move(h));
        },
                 [this, failed](const ApiResult &r) {
            if (isHalted())
                return;
            if (!r.ok()) {
                failed(r);
                return;
            }
            m_progressInFlight = false;
            emitProgress(BatchProgress::Phase::Processing);
            if (m_progressWritten)
                std::exchange(m_progressWritten, {})();
        }, m_work);
    });
}

void BatchActivity::closeResults(bool mustSucceed, std::function<void(const QJsonObject &file)> then)
{
    m_results->writePages([this, mustSucceed, then](const ApiResult &pages) {
        if (!pages.ok() && mustSucceed) {
            fail(tr("recording the results of batch %1: %2").arg(m_batchId, pages.message), false);
            return;
        }
        if (!pages.ok()) {
            qCWarning(lcWorker) << "batch" << m_batchId << ": results not all recorded:" << pages.message;
            then({});
            return;
        }
        m_results->writeFile([this, mustSucceed, then](const ApiResult &r, const QJsonObject &file) {
            if (r.ok()) {
                then(file);
                return;
            }
            // Too large for one file: the pages keep them; a server that
            // is down: another attempt makes it.
            if (mustSucceed && r.error != Job::InvalidInputError) {
                fail(tr("writing the results file of batch %1: %2").arg(m_batchId, r.message), false);
                return;
            }
            qCWarning(lcWorker) << "batch" << m_batchId << ": no results file:" << r.message;
            m_errors.append(BatchRequest::errorEntry(r.message, -1, QStringLiteral("results")));
            then({});
        });
    });
}

void BatchActivity::whenProgressWritten(std::function<void()> then)
{
    m_progressTimer.stop();
    if (m_progressInFlight)
        m_progressWritten = std::move(then);
    else
        then();
}

void BatchActivity::drain(std::function<void()> then)
{
    if (m_draining || isHalted())
        return;
    m_draining = true;
    m_drained = [this, then = std::move(then)] { whenProgressWritten(then); };
    // Groups made ready but not sent are dropped, and what comes after them:
    // the counts stop where the groups sent end.
    const auto unsent = std::find_if(m_groups.begin(), m_groups.end(), [](const Group &g) { return !g.sent && !g.done; });
    if (unsent != m_groups.end()) {
        m_taken = unsent->begin;
        m_groups.erase(unsent, m_groups.end());
    }
    if (m_file) {
        m_file->disconnect(this); // nothing more is read
        m_file->deleteLater();
        m_file = nullptr;
    }
    pump();
}

void BatchActivity::heartbeat()
{
    if (isHalted() || lostTemporal())
        return;
    const QJsonArray details{QJsonObject{{QStringLiteral("processed"), m_next}, {QStringLiteral("total"), total()}}};
    sendHeartbeat(details, tr("batch %1").arg(m_batchId), [this](const ApiResult &r, bool cancelRequested) {
        if (!r.ok()) {
            qCWarning(lcWorker) << "heartbeat failed, going on:" << r.message;
            lostTemporal();
            return;
        }
        m_lastHeartbeatMs = elapsedMs();
        if (cancelRequested && !m_cancelRequested && m_file) {
            qCInfo(lcWorker) << "batch" << m_batchId << ": cancel requested; stopping after the groups in flight";
            m_cancelRequested = true;
            drain([this] { cancelBatch(); });
        }
    });
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

QJsonObject BatchActivity::closingFields(const QString &status, const QJsonObject &resultsFile) const
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QJsonObject fields = countFields();
    if (!resultsFile.isEmpty())
        fields.insert(QStringLiteral("resultsFile"), resultsFile);
    fields.insert(QStringLiteral("status"), status);
    fields.insert(QStringLiteral("errors"), m_errors);
    fields.insert(QStringLiteral("completedAt"), ParseClient::date(now));
    fields.insert(QStringLiteral("processingDurationMs"), m_startedAt.msecsTo(now));
    return fields;
}

QJsonObject BatchActivity::outcome(const QString &status) const
{
    return {{QStringLiteral("status"), status},
            {QStringLiteral("total"), total()},
            {QStringLiteral("successful"), m_succeeded},
            {QStringLiteral("failed"), m_failed},
            // The workflow runs deliver_batch_webhook only when there is one.
            {QStringLiteral("webhook"), BatchRequest::wantsWebhook(m_request)}};
}

void BatchActivity::cancelBatch()
{
    closeResults(false, [this](const QJsonObject &file) { recordCanceled(file); });
}

void BatchActivity::recordCanceled(const QJsonObject &resultsFile)
{
    const QString canceled = QLatin1String(BatchStatus::Canceled);
    retrying([this, canceled, resultsFile](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, closingFields(canceled, resultsFile), this, std::move(h));
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
        const QString message = tr("batch %1: canceled after %2 of %3 memories").arg(m_batchId).arg(m_next).arg(total());
        report([this, details](RestClient::Handler h) { m_temporal.cancelActivity(m_task.taskToken, details, m_identity, this, std::move(h)); },
               [this, message](const ApiResult &rr) {
                   settle(false, rr.ok() ? message : tr("%1, but telling Temporal failed: %2").arg(message, rr.message));
               });
    });
}

void BatchActivity::endOfFile()
{
    m_finishing = true;
    const qint64 held = m_file->itemCount();
    m_file->deleteLater();
    m_file = nullptr;
    if (held != total()) {
        fail(tr("the file of batch %1 holds %2 memories, the request says %3").arg(m_batchId).arg(held).arg(total()), true);
        return;
    }
    qCDebug(lcWorker) << "batch" << m_batchId << ":" << held << "memories stored or refused";
    whenProgressWritten([this] { finalize(); }); // all stored: a cancel heard now is too late to matter
}

void BatchActivity::finalize()
{
    closeResults(true, [this](const QJsonObject &file) { recordFinal(file); });
}

void BatchActivity::recordFinal(const QJsonObject &resultsFile)
{
    const QString status = m_failed == 0 ? QLatin1String(BatchStatus::Completed)
        : m_succeeded > 0                ? QLatin1String(BatchStatus::PartialFailure)
                                         : QLatin1String(BatchStatus::Failed);
    retrying([this, status, resultsFile](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, closingFields(status, resultsFile), this, std::move(h));
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
    if (isHalted())
        return;
    stopWork(); // nothing more is stored, read or recorded by this attempt but what follows
    const QString type = nonRetryable ? QStringLiteral("BatchDataError") : QStringLiteral("BatchTransientError");
    // A data problem will not mend itself, and a last attempt has no next
    // one: record it where users look. (Another attempt may yet succeed.)
    if ((!nonRetryable && !isLastAttempt()) || m_request.isEmpty()) {
        failTask(message, type, nonRetryable);
        return;
    }
    const auto recordFailed = [this, message, type, nonRetryable](const QJsonObject &resultsFile) {
        QJsonArray errors = m_errors;
        errors.append(BatchRequest::errorEntry(message, -1, QStringLiteral("process")));
        QJsonObject fields = countFields();
        const QJsonObject failed = BatchRequest::failedFields(errors, m_startedAt);
        for (auto it = failed.begin(); it != failed.end(); ++it)
            fields.insert(it.key(), it.value());
        if (!resultsFile.isEmpty())
            fields.insert(QStringLiteral("resultsFile"), resultsFile);
        recordFailure(fields, message, type, nonRetryable);
    };
    // What was done before it failed can be looked up too (as far as Parse
    // lets it be written).
    if (m_results && !m_results->isWriting())
        closeResults(false, recordFailed);
    else
        recordFailed({});
}

void BatchActivity::recordFailure(const QJsonObject &fields, const QString &message, const QString &type, bool nonRetryable)
{
    retrying([this, fields](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, fields, this, std::move(h));
    },
             [this, message, type, nonRetryable](const ApiResult &r) {
                 if (!r.ok())
                     qCWarning(lcWorker) << "could not mark the batch failed:" << r.message;
                 failTask(message, type, nonRetryable);
             });
}

} // namespace membatch
