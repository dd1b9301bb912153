#include "webhookactivity.h"

#include "batchrequest.h"
#include "logging.h"
#include "webhooksender.h"

#include <membatch/batchstatus.h>
#include <membatch/job.h>
#include <membatch/version.h>
#include <membatch/webhooksignature.h>

#include <QCryptographicHash>
#include <QHostInfo>
#include <QJsonDocument>
#include <QNetworkInterface>

namespace membatch {

namespace {
constexpr qint64 kMaxWaitMs = 3600 * 1000;
constexpr int kDuplicateValue = 137; // Parse: an object with this objectId exists
// One of this host's own addresses (a public one included): a listener on
// 0.0.0.0 beside the worker answers there.
bool isOwnAddress(const QHostAddress &address)
{
    const QList<QHostAddress> own = QNetworkInterface::allAddresses();
    return std::any_of(own.begin(), own.end(), [&address](const QHostAddress &a) { return a.isEqual(address, QHostAddress::TolerantConversion); });
}
} // namespace

WebhookActivity::WebhookActivity(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ActivityTask &task,
                                 const WorkerOptions &options, QObject *parent)
    : ActivityRun(nam, settings, task, options, parent)
    , m_maxAttempts(std::clamp(options.webhookAttempts, 1, 100))
    , m_backoffMs(std::max<qint64>(0, options.webhookBackoffMs))
    , m_allowInternal(options.webhookAllowPrivate)
{
    m_heartbeatTimer.setInterval(heartbeatIntervalMs());
    connect(&m_heartbeatTimer, &QTimer::timeout, this, &WebhookActivity::heartbeat);
}

void WebhookActivity::halt()
{
    m_heartbeatTimer.stop();
}

void WebhookActivity::start()
{
    const QJsonArray &input = m_task.input;
    if (input.size() != 2 || !input.at(0).isString() || !input.at(1).isString()) {
        failTask(tr("activity %1 expects [request_id, batch_id] as input").arg(BatchRequest::WebhookActivityType),
                 QStringLiteral("BadInput"), true);
        return;
    }
    m_requestId = input.at(0).toString();
    m_batchId = input.at(1).toString();
    m_heartbeatTimer.start();
    retrying([this](RestClient::Handler h) { m_parse.getObject(BatchRequest::ClassName, m_requestId, this, std::move(h)); },
             [this](const ApiResult &r) {
                 if (r.error == Job::NotFoundError) {
                     completeTask({{QStringLiteral("sent"), false}, {QStringLiteral("reason"), QStringLiteral("no such request")}},
                                  tr("batch %1: no request %2 to send a webhook for").arg(m_batchId, m_requestId));
                     return;
                 }
                 if (!r.ok()) {
                     failTask(tr("batch %1: reading its request for the webhook: %2").arg(m_batchId, r.message),
                              QStringLiteral("BatchTransientError"), false);
                     return;
                 }
                 check(r.json);
             });
}

void WebhookActivity::check(const QJsonObject &request)
{
    if (request.value(QStringLiteral("batchId")).toString() != m_batchId) {
        failTask(tr("%1 %2 is not batch %3's").arg(BatchRequest::ClassName, m_requestId, m_batchId), QStringLiteral("BadInput"), true);
        return;
    }
    const QString url = request.value(QStringLiteral("webhookUrl")).toString();
    if (url.isEmpty()) {
        completeTask({{QStringLiteral("sent"), false}, {QStringLiteral("reason"), QStringLiteral("no webhook asked for")}},
                     tr("batch %1: no webhook").arg(m_batchId));
        return;
    }
    m_url = QUrl(url, QUrl::StrictMode);
    m_secret = request.value(QStringLiteral("webhookSecret")).toString().toUtf8();
    m_parentId = request.value(QStringLiteral("parentBatchId")).toString();
    if (!m_parentId.isEmpty()) {
        findSubmission(request);
        return;
    }
    m_recordId = m_requestId;
    m_body = payload(request);
    m_messageId = "msg_" + m_requestId.toUtf8();
    prepare(request);
}

void WebhookActivity::prepare(const QJsonObject &record)
{
    m_attempts = int(record.value(QStringLiteral("webhookAttempts")).toInteger());
    if (record.value(QStringLiteral("webhookSent")).toBool()) {
        completeTask({{QStringLiteral("sent"), true}, {QStringLiteral("attempts"), m_attempts}},
                     tr("batch %1: its webhook was sent already").arg(m_parentId.isEmpty() ? m_batchId : m_parentId));
        return;
    }
    if (!BatchRequest::isWebhookUrl(m_url)) {
        giveUp(tr("the webhook url is not an http(s) url"));
        return;
    }
    if (WebhookSignature::keyFromSecret(m_secret).isEmpty()) {
        giveUp(tr("the webhook secret is not \"whsec_\" followed by base64: nothing to sign with"));
        return;
    }
    if (m_attempts >= m_maxAttempts) {
        giveUp(tr("all %1 attempts were made").arg(m_maxAttempts));
        return;
    }
    QHostInfo::lookupHost(m_url.host(), this, [this](const QHostInfo &info) {
        resolved(info.addresses(), info.error() == QHostInfo::NoError ? QString() : info.errorString());
    });
}

QString WebhookActivity::claimId(const QString &userId, const QString &parentBatchId)
{
    // 24 hex digits, as request ids; a user cannot create one anyway (CLP).
    const QByteArray key = "membatch-webhook-claim:" + userId.toUtf8() + '/' + parentBatchId.toUtf8();
    return QString::fromLatin1(QCryptographicHash::hash(key, QCryptographicHash::Sha256).toHex().left(24));
}

void WebhookActivity::findSubmission(const QJsonObject &request)
{
    // Only the chunks of this chunk's own user: anyone may create a request
    // naming any parent, and must not delay, spoil or read another's summary.
    m_user = request.value(QStringLiteral("user"));
    const QJsonValue user = m_user.isObject() ? m_user : QJsonValue(QJsonObject{{QStringLiteral("$exists"), false}});
    const QJsonObject where{{QStringLiteral("parentBatchId"), m_parentId}, {QStringLiteral("user"), user}};
    const int chunks = std::max(1, request.value(QStringLiteral("batchMetadata")).toObject().value(QStringLiteral("total_chunks")).toInt(1));
    const auto waiting = [this, chunks](qint64 open) {
        // Another chunk ends later: its own run of this activity sends it.
        completeTask({{QStringLiteral("sent"), false},
                      {QStringLiteral("reason"), QStringLiteral("the submission's other chunks have not all ended")},
                      {QStringLiteral("chunksOpen"), open},
                      {QStringLiteral("chunks"), chunks}},
                     tr("batch %1: %2 of the %3 chunks of %4 have not ended (or not been sent): the webhook waits for the last")
                         .arg(m_batchId).arg(open).arg(chunks).arg(m_parentId));
    };
    // Two counts first: every chunk but the last of a submission stops
    // there, rather than reading all of its chunks.
    QJsonObject open = where;
    open.insert(QStringLiteral("status"), QJsonObject{{QStringLiteral("$nin"), QJsonArray{QLatin1String(BatchStatus::Completed),
                                                                                        QLatin1String(BatchStatus::PartialFailure),
                                                                                        QLatin1String(BatchStatus::Failed),
                                                                                        QLatin1String(BatchStatus::Canceled)}}});
    const auto failed = [this](const ApiResult &r) {
        failTask(tr("batch %1: reading the chunks of %2 for its webhook: %3").arg(m_batchId, m_parentId, r.message),
                 QStringLiteral("BatchTransientError"), false);
    };
    retrying([this, open](RestClient::Handler h) { m_parse.count(BatchRequest::ClassName, open, this, std::move(h)); },
             [this, where, chunks, waiting, failed](const ApiResult &r) {
                 if (!r.ok())
                     return failed(r);
                 if (const qint64 n = r.json.value(QStringLiteral("count")).toInteger(); n > 0)
                     return waiting(n);
                 retrying([this, where](RestClient::Handler h) { m_parse.count(BatchRequest::ClassName, where, this, std::move(h)); },
                          [this, where, chunks, waiting, failed](const ApiResult &all) {
                              if (!all.ok())
                                  return failed(all);
                              if (const qint64 n = all.json.value(QStringLiteral("count")).toInteger(); n < chunks)
                                  return waiting(chunks - n);
                              readSubmission(where);
                          });
             });
}

void WebhookActivity::readSubmission(const QJsonObject &where)
{
    // Not the secret, nor the errors arrays: what the summary and the record need.
    static const QStringList keys{QStringLiteral("batchId"),        QStringLiteral("status"),
                                  QStringLiteral("totalMemories"),  QStringLiteral("processedCount"),
                                  QStringLiteral("successCount"),   QStringLiteral("failCount"),
                                  QStringLiteral("startedAt"),      QStringLiteral("completedAt"),
                                  QStringLiteral("batchMetadata"),  QStringLiteral("parentBatchId"),
                                  QStringLiteral("webhookSent"),    QStringLiteral("webhookAttempts")};
    retrying([this, where](RestClient::Handler h) {
        m_parse.findKeys(BatchRequest::ClassName, where, keys, this, std::move(h), BatchRequest::MaxChunks, QStringLiteral("batchId"));
    },
             [this](const ApiResult &r) {
                 if (!r.ok()) {
                     failTask(tr("batch %1: reading the chunks of %2 for its webhook: %3").arg(m_batchId, m_parentId, r.message),
                              QStringLiteral("BatchTransientError"), false);
                     return;
                 }
                 submissionFound(r.json.value(QStringLiteral("results")).toArray());
             });
}

void WebhookActivity::submissionFound(const QJsonArray &chunks)
{
    const bool mine = std::any_of(chunks.begin(), chunks.end(), [this](const QJsonValue &c) {
        return c.toObject().value(QStringLiteral("objectId")).toString() == m_requestId;
    });
    if (!mine) { // not the chunk of its parent it says it is
        failTask(tr("%1 %2 is not among the chunks of %3").arg(BatchRequest::ClassName, m_requestId, m_parentId),
                 QStringLiteral("BadInput"), true);
        return;
    }
    BatchStatus s = BatchRequest::aggregate(m_parentId, chunks);
    if (s.status != QLatin1String(BatchStatus::Completed) && s.status != QLatin1String(BatchStatus::PartialFailure)
        && s.status != QLatin1String(BatchStatus::Failed) && s.status != QLatin1String(BatchStatus::Canceled)) {
        // Not all ended after all (one taken up again since the counts): the last to end sends it.
        completeTask({{QStringLiteral("sent"), false},
                      {QStringLiteral("reason"), QStringLiteral("the submission's other chunks have not all ended")},
                      {QStringLiteral("chunksEnded"), s.chunksFinal},
                      {QStringLiteral("chunks"), s.chunkCount}},
                     tr("batch %1: %2 of the %3 chunks of %4 have ended: the webhook waits for the last")
                         .arg(m_batchId).arg(s.chunksFinal).arg(s.chunkCount).arg(m_parentId));
        return;
    }
    const QJsonObject first = chunks.first().toObject(); // ordered by batchId: PARENT-001 first
    m_recordId = first.value(QStringLiteral("objectId")).toString();
    s.requestId = m_recordId;
    m_messageId = "msg_" + m_recordId.toUtf8();
    m_body = payload(s, QString(), s.chunkCount);
    claim(first);
}

void WebhookActivity::claim(const QJsonObject &first)
{
    const QString userId = m_user.toObject().value(QStringLiteral("objectId")).toString();
    const QString id = claimId(userId, m_parentId);
    QJsonObject fields{{QStringLiteral("objectId"), id},
                       {QStringLiteral("parentBatchId"), m_parentId},
                       {QStringLiteral("claimedBy"), m_requestId},
                       {QStringLiteral("ACL"), QJsonObject()}}; // the master key's alone
    if (m_user.isObject())
        fields.insert(QStringLiteral("user"), m_user);
    const auto owned = [this, first] {
        // Given up before (webhookSent false): recorded once, not again.
        if (first.contains(QStringLiteral("webhookSent")) && !first.value(QStringLiteral("webhookSent")).toBool()) {
            m_attempts = int(first.value(QStringLiteral("webhookAttempts")).toInteger());
            completeTask({{QStringLiteral("sent"), false}, {QStringLiteral("attempts"), m_attempts},
                          {QStringLiteral("reason"), QStringLiteral("given up before")}},
                         tr("batch %1: the webhook of %2 was given up before").arg(m_batchId, m_parentId));
            return;
        }
        prepare(first);
    };
    retrying([this, fields](RestClient::Handler h) { m_parse.createObject(ClaimClassName, fields, this, std::move(h)); },
             [this, id, owned](const ApiResult &r) {
                 if (r.ok()) {
                     qCInfo(lcWorker) << "batch" << m_batchId << ": claimed the webhook of" << m_parentId;
                     owned();
                     return;
                 }
                 if (r.serviceCode != kDuplicateValue) {
                     failTask(tr("batch %1: claiming the webhook of %2: %3").arg(m_batchId, m_parentId, r.message),
                              QStringLiteral("BatchTransientError"), false);
                     return;
                 }
                 // Claimed already: by this very chunk (an attempt before
                 // this one, or a create whose answer was lost), or another.
                 retrying([this, id](RestClient::Handler h) { m_parse.getObject(ClaimClassName, id, this, std::move(h)); },
                          [this, owned](const ApiResult &got) {
                              if (!got.ok()) {
                                  failTask(tr("batch %1: reading the claim on the webhook of %2: %3").arg(m_batchId, m_parentId, got.message),
                                           QStringLiteral("BatchTransientError"), false);
                                  return;
                              }
                              const QString by = got.json.value(QStringLiteral("claimedBy")).toString();
                              if (by == m_requestId)
                                  owned();
                              else
                                  claimLost(by);
                          });
             });
}

void WebhookActivity::claimLost(const QString &claimedBy)
{
    completeTask({{QStringLiteral("sent"), false},
                  {QStringLiteral("reason"), QStringLiteral("another chunk of the submission delivers it")},
                  {QStringLiteral("claimedBy"), claimedBy}},
                 tr("batch %1: the webhook of %2 is request %3's to deliver").arg(m_batchId, m_parentId, claimedBy));
}

void WebhookActivity::resolved(const QList<QHostAddress> &addresses, const QString &error)
{
    if (isHalted())
        return;
    if (!error.isEmpty() || addresses.isEmpty()) {
        answered(0, tr("cannot resolve %1: %2").arg(m_url.host(), error.isEmpty() ? tr("no address") : error));
        return;
    }
    for (const QHostAddress &address : addresses) {
        if (!m_allowInternal && isInternal(address)) {
            giveUp(tr("%1 is %2, an address of the worker's own networks: not called (a worker may allow it with --webhook-allow-private)")
                       .arg(m_url.host(), address.toString()));
            return;
        }
    }
    deliver(addresses.first());
}

QByteArray WebhookActivity::payload(const QJsonObject &request)
{
    return payload(BatchRequest::statusFromObject(request),
                   request.value(QStringLiteral("resultsFile")).toObject().value(QStringLiteral("url")).toString(), 1);
}

QByteArray WebhookActivity::payload(const BatchStatus &s, const QString &resultsUrl, int chunks)
{
    QJsonObject data{{QStringLiteral("batch_id"), s.batchId},
                     {QStringLiteral("request_id"), s.requestId},
                     {QStringLiteral("status"), s.status},
                     {QStringLiteral("total"), s.totalMemories},
                     {QStringLiteral("processed"), s.processedCount},
                     {QStringLiteral("successful"), s.successCount},
                     {QStringLiteral("failed"), s.failCount}};
    const auto date = [](const QDateTime &t) { return t.isValid() ? QJsonValue(t.toUTC().toString(Qt::ISODateWithMs)) : QJsonValue(); };
    data.insert(QStringLiteral("started_at"), date(s.startedAt));
    data.insert(QStringLiteral("completed_at"), date(s.completedAt));
    data.insert(QStringLiteral("duration_ms"), s.processingDurationMs >= 0 ? QJsonValue(s.processingDurationMs) : QJsonValue());
    // A submission's results are its chunks' files: membatch results PARENT reads them all.
    data.insert(QStringLiteral("results_url"), resultsUrl.isEmpty() ? QJsonValue() : QJsonValue(resultsUrl));
    if (chunks > 1)
        data.insert(QStringLiteral("chunks"), chunks);
    const QDateTime when = s.completedAt.isValid() ? s.completedAt : QDateTime::currentDateTimeUtc();
    return compactJson({{QStringLiteral("type"), QStringLiteral("batch.") + (s.status.isEmpty() ? QStringLiteral("ended") : s.status)},
                        {QStringLiteral("timestamp"), when.toUTC().toString(Qt::ISODateWithMs)},
                        {QStringLiteral("data"), data}});
}

bool WebhookActivity::isInternal(const QHostAddress &address)
{
    bool isV4 = false;
    const quint32 v4 = address.toIPv4Address(&isV4); // also an IPv4-mapped IPv6 address
    if (isV4) {
        const QHostAddress a(v4);
        static const QList<QPair<QHostAddress, int>> internal{
            QHostAddress::parseSubnet(QStringLiteral("0.0.0.0/8")),     QHostAddress::parseSubnet(QStringLiteral("10.0.0.0/8")),
            QHostAddress::parseSubnet(QStringLiteral("100.64.0.0/10")), QHostAddress::parseSubnet(QStringLiteral("127.0.0.0/8")),
            QHostAddress::parseSubnet(QStringLiteral("169.254.0.0/16")), QHostAddress::parseSubnet(QStringLiteral("172.16.0.0/12")),
            QHostAddress::parseSubnet(QStringLiteral("192.0.0.0/24")),  QHostAddress::parseSubnet(QStringLiteral("192.168.0.0/16")),
            QHostAddress::parseSubnet(QStringLiteral("198.18.0.0/15")), QHostAddress::parseSubnet(QStringLiteral("224.0.0.0/3")),
            QHostAddress::parseSubnet(QStringLiteral("192.0.2.0/24")),  QHostAddress::parseSubnet(QStringLiteral("198.51.100.0/24")),
            QHostAddress::parseSubnet(QStringLiteral("203.0.113.0/24")),
        };
        if (std::any_of(internal.begin(), internal.end(), [&a](const auto &net) { return a.isInSubnet(net); }))
            return true;
        return isOwnAddress(a);
    }
    static const QList<QPair<QHostAddress, int>> internal6{
        QHostAddress::parseSubnet(QStringLiteral("::/128")),    QHostAddress::parseSubnet(QStringLiteral("::1/128")),
        QHostAddress::parseSubnet(QStringLiteral("fc00::/7")),  QHostAddress::parseSubnet(QStringLiteral("fe80::/10")),
        QHostAddress::parseSubnet(QStringLiteral("fec0::/10")), QHostAddress::parseSubnet(QStringLiteral("ff00::/8")),
        QHostAddress::parseSubnet(QStringLiteral("64:ff9b::/96")), // NAT64: an IPv4 address in disguise
        QHostAddress::parseSubnet(QStringLiteral("64:ff9b:1::/48")), QHostAddress::parseSubnet(QStringLiteral("2002::/16")), // 6to4
        QHostAddress::parseSubnet(QStringLiteral("2001:db8::/32")),
    };
    if (std::any_of(internal6.begin(), internal6.end(), [&address](const auto &net) { return address.isInSubnet(net); }))
        return true;
    return isOwnAddress(address);
}

void WebhookActivity::deliver(const QHostAddress &address)
{
    if (isHalted())
        return;
    ++m_attempts;
    const qint64 timestamp = QDateTime::currentSecsSinceEpoch();
    const QList<QPair<QByteArray, QByteArray>> headers{
        {"Content-Type", "application/json"},
        {"User-Agent", "membatch-worker/" MEMBATCH_API_VERSION},
        {"webhook-id", m_messageId},
        {"webhook-timestamp", QByteArray::number(timestamp)},
        {"webhook-signature", WebhookSignature::sign(m_secret, m_messageId, timestamp, m_body)},
    };
    qCInfo(lcWorker) << "batch" << m_batchId << ": webhook attempt" << m_attempts << "of" << m_maxAttempts << "to"
                     << m_url.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery);
    auto *sender = new WebhookSender(m_url, address, headers, m_body, WebhookSender::Limits(), this);
    connect(sender, &WebhookSender::finished, this, [this, sender](int status, const QString &error, const QByteArray &body) {
        sender->deleteLater();
        if (!error.isEmpty()) {
            answered(status, error);
        } else if (status >= 200 && status <= 299) {
            answered(status, {});
        } else {
            const QString says = QString::fromUtf8(body.left(200)).simplified();
            answered(status, tr("the receiver answered HTTP %1%2").arg(status).arg(says.isEmpty() ? QString() : QStringLiteral(": ") + says));
        }
    });
    sender->start();
}

void WebhookActivity::answered(int httpStatus, const QString &error)
{
    if (isHalted())
        return;
    const QJsonObject attempts{{QStringLiteral("webhookAttempts"), m_attempts}};
    if (error.isEmpty()) {
        QJsonObject fields = attempts;
        fields.insert(QStringLiteral("webhookSent"), true);
        fields.insert(QStringLiteral("webhookSentAt"), ParseClient::date(QDateTime::currentDateTimeUtc()));
        record(fields, [this, httpStatus] {
            completeTask({{QStringLiteral("sent"), true}, {QStringLiteral("attempts"), m_attempts}, {QStringLiteral("httpStatus"), httpStatus}},
                         tr("batch %1: webhook delivered (attempt %2)").arg(m_batchId).arg(m_attempts));
        });
        return;
    }
    qCWarning(lcWorker) << "batch" << m_batchId << ": webhook attempt" << m_attempts << "failed:" << error;
    // 410 Gone: the receiver says there is nobody to tell any more.
    if (m_attempts >= m_maxAttempts || httpStatus == 410) {
        giveUp(tr("%1 (attempt %2 of %3%4)").arg(error).arg(m_attempts).arg(m_maxAttempts)
                   .arg(httpStatus == 410 ? tr(", and 410 means stop") : QString()));
        return;
    }
    // Recorded, then the wait is Temporal's: the next attempt may be anywhere.
    const qint64 wait = waitAfter(m_attempts, m_backoffMs);
    QJsonObject fields = attempts;
    fields.insert(QStringLiteral("webhookLastError"), error);
    record(fields, [this, error, wait] {
        failTask(tr("batch %1: webhook attempt %2 of %3 failed: %4").arg(m_batchId).arg(m_attempts).arg(m_maxAttempts).arg(error),
                 QStringLiteral("WebhookNotDelivered"), false, wait);
    });
}

qint64 WebhookActivity::waitAfter(int attempt, qint64 backoffMs)
{
    // backoff, x4 each time: 5 s, 20 s, 80 s, 5.3 min, 21 min with the defaults.
    qint64 wait = std::max<qint64>(0, backoffMs);
    for (int i = 1; i < attempt && wait < kMaxWaitMs; ++i)
        wait *= 4;
    return std::min(wait, kMaxWaitMs);
}

void WebhookActivity::giveUp(const QString &why)
{
    const QJsonObject fields{{QStringLiteral("webhookSent"), false},
                             {QStringLiteral("webhookAttempts"), m_attempts},
                             {QStringLiteral("webhookLastError"), why}};
    record(fields, [this, why] {
        completeTask({{QStringLiteral("sent"), false}, {QStringLiteral("attempts"), m_attempts}, {QStringLiteral("reason"), why}},
                     tr("batch %1: webhook not delivered: %2").arg(m_batchId, why));
    });
}

void WebhookActivity::record(const QJsonObject &fields, std::function<void()> then)
{
    retrying([this, fields](RestClient::Handler h) { m_parse.updateObject(BatchRequest::ClassName, m_recordId, fields, this, std::move(h)); },
             [this, then](const ApiResult &r) {
                 if (isHalted())
                     return;
                 if (!r.ok()) {
                     // Unrecorded, the next worker would not know: let it try.
                     failTask(tr("batch %1: recording the webhook's attempt: %2").arg(m_batchId, r.message),
                              QStringLiteral("BatchTransientError"), false);
                     return;
                 }
                 then();
             });
}

void WebhookActivity::heartbeat()
{
    sendHeartbeat(QJsonArray{QJsonObject{{QStringLiteral("webhookAttempts"), m_attempts}}}, tr("batch %1").arg(m_batchId));
}

} // namespace membatch
