#include "webhookactivity.h"

#include "batchrequest.h"
#include "logging.h"
#include "webhooksender.h"

#include <membatch/batchstatus.h>
#include <membatch/job.h>
#include <membatch/version.h>
#include <membatch/webhooksignature.h>

#include <QHostInfo>
#include <QJsonDocument>
#include <QNetworkInterface>

namespace membatch {

namespace {
constexpr qint64 kMaxWaitMs = 3600 * 1000;
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
    m_attempts = int(request.value(QStringLiteral("webhookAttempts")).toInteger());
    if (request.value(QStringLiteral("webhookSent")).toBool()) {
        completeTask({{QStringLiteral("sent"), true}, {QStringLiteral("attempts"), m_attempts}},
                     tr("batch %1: its webhook was sent already").arg(m_batchId));
        return;
    }
    m_url = QUrl(url, QUrl::StrictMode);
    m_secret = request.value(QStringLiteral("webhookSecret")).toString().toUtf8();
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
    m_body = payload(request);
    m_messageId = "msg_" + m_requestId.toUtf8();
    QHostInfo::lookupHost(m_url.host(), this, [this](const QHostInfo &info) {
        resolved(info.addresses(), info.error() == QHostInfo::NoError ? QString() : info.errorString());
    });
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
    const BatchStatus s = BatchRequest::statusFromObject(request);
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
    const QString results = request.value(QStringLiteral("resultsFile")).toObject().value(QStringLiteral("url")).toString();
    data.insert(QStringLiteral("results_url"), results.isEmpty() ? QJsonValue() : QJsonValue(results));
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
    retrying([this, fields](RestClient::Handler h) { m_parse.updateObject(BatchRequest::ClassName, m_requestId, fields, this, std::move(h)); },
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
