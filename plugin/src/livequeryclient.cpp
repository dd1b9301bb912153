#include "livequeryclient.h"

#include "logging.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QRandomGenerator>

#include <cmath>

namespace membatch {

LiveQueryClient::LiveQueryClient(QObject *parent)
    : QObject(parent)
{
    m_socket.setParent(this);
    m_socket.setMaxAllowedIncomingMessageSize(quint64(m_maxMessageBytes));
    m_socket.setMaxAllowedIncomingFrameSize(quint64(m_maxMessageBytes));
    m_reconnectTimer.setSingleShot(true);
    m_handshakeTimer.setSingleShot(true);
    m_pongTimer.setSingleShot(true);
    connect(&m_reconnectTimer, &QTimer::timeout, this, &LiveQueryClient::connectSocket);
    connect(&m_handshakeTimer, &QTimer::timeout, this, [this] { drop(tr("no answer to connect from %1").arg(m_url.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery))); });
    connect(&m_pingTimer, &QTimer::timeout, this, [this] {
        m_socket.ping();
        if (!m_pongTimer.isActive())
            m_pongTimer.start(m_pingIntervalMs);
    });
    connect(&m_pongTimer, &QTimer::timeout, this, [this] { drop(tr("no pong from %1").arg(m_url.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery))); });
    connect(&m_socket, &QWebSocket::pong, this, [this] { m_pongTimer.stop(); });
    connect(&m_socket, &QWebSocket::connected, this, &LiveQueryClient::onConnected);
    connect(&m_socket, &QWebSocket::disconnected, this, &LiveQueryClient::onDisconnected);
    connect(&m_socket, &QWebSocket::textMessageReceived, this, &LiveQueryClient::onMessage);
    // Qt 6.4 has no errorOccurred(); a refused connection ends in disconnected() too.
    connect(&m_socket, QOverload<QAbstractSocket::SocketError>::of(&QWebSocket::error), this,
            [this](QAbstractSocket::SocketError) { qCDebug(lcWatch) << "LiveQuery socket:" << m_socket.errorString(); });
}

LiveQueryClient::~LiveQueryClient()
{
    m_open = false;
    m_socket.disconnect(this);
    m_socket.abort();
}

QUrl LiveQueryClient::urlFor(const QUrl &parseUrl)
{
    QUrl url = parseUrl;
    url.setScheme(parseUrl.scheme() == QLatin1String("https") ? QStringLiteral("wss") : QStringLiteral("ws"));
    url.setUserInfo({});
    url.setQuery(QString());
    url.setFragment({});
    return url;
}

qint64 LiveQueryClient::reconnectDelayMs(int attempt, qint64 baseMs, qint64 maxMs, double random01)
{
    const int doublings = std::clamp(attempt - 1, 0, 30);
    const double cap = std::min(double(maxMs), double(baseMs) * std::pow(2.0, doublings));
    return qint64(cap * std::clamp(random01, 0.0, 1.0));
}

void LiveQueryClient::setCredentials(const QString &appId, const QString &restKey, const QString &masterKey)
{
    m_appId = appId;
    m_restKey = restKey;
    m_masterKey = masterKey;
}

void LiveQueryClient::setMaxMessageBytes(qint64 bytes)
{
    m_maxMessageBytes = std::max<qint64>(1024, bytes);
    m_socket.setMaxAllowedIncomingMessageSize(quint64(m_maxMessageBytes));
    m_socket.setMaxAllowedIncomingFrameSize(quint64(m_maxMessageBytes));
}

void LiveQueryClient::setReconnectDelays(qint64 baseMs, qint64 maxMs)
{
    m_baseDelayMs = std::max<qint64>(1, baseMs);
    m_maxDelayMs = std::max(m_baseDelayMs, maxMs);
}

void LiveQueryClient::setTimeouts(int handshakeMs, int pingIntervalMs)
{
    m_handshakeMs = std::max(10, handshakeMs);
    m_pingIntervalMs = std::max(10, pingIntervalMs);
}

int LiveQueryClient::subscribe(const Query &query)
{
    const int id = m_nextRequestId++;
    m_subscriptions.insert(id, {query, false});
    if (m_connected)
        sendSubscribe(id);
    return id;
}

void LiveQueryClient::unsubscribe(int requestId)
{
    if (m_subscriptions.remove(requestId) && m_connected)
        send({{QStringLiteral("op"), QStringLiteral("unsubscribe")}, {QStringLiteral("requestId"), requestId}});
}

bool LiveQueryClient::isSubscribed(int requestId) const
{
    return m_connected && m_subscriptions.value(requestId).active;
}

void LiveQueryClient::open()
{
    if (m_open)
        return;
    m_open = true;
    m_attempt = 0;
    connectSocket();
}

void LiveQueryClient::close()
{
    m_open = false;
    m_reconnectTimer.stop();
    m_handshakeTimer.stop();
    m_pingTimer.stop();
    m_pongTimer.stop();
    m_connected = false;
    m_socket.abort();
}

void LiveQueryClient::connectSocket()
{
    if (!m_open)
        return;
    if (!m_url.isValid() || (m_url.scheme() != QLatin1String("ws") && m_url.scheme() != QLatin1String("wss"))) {
        m_open = false;
        if (!m_saidUnavailable) {
            m_saidUnavailable = true;
            Q_EMIT unavailable(tr("no LiveQuery URL (ws:// or wss://) to connect to"));
        }
        return;
    }
    ++m_attempt;
    m_handshakeTimer.start(m_handshakeMs);
    m_socket.open(m_url);
}

void LiveQueryClient::onConnected()
{
    QJsonObject connectOp{{QStringLiteral("op"), QStringLiteral("connect")}, {QStringLiteral("applicationId"), m_appId}};
    if (!m_masterKey.isEmpty() && m_sessionToken.isEmpty())
        connectOp.insert(QStringLiteral("masterKey"), m_masterKey);
    else if (!m_restKey.isEmpty())
        connectOp.insert(QStringLiteral("restAPIKey"), m_restKey);
    if (!m_sessionToken.isEmpty())
        connectOp.insert(QStringLiteral("sessionToken"), m_sessionToken);
    send(connectOp);
}

void LiveQueryClient::onDisconnected()
{
    const bool wasUp = m_connected;
    m_connected = false;
    // The backoff starts over only after a connection that lasted: a server
    // that accepts and drops at once is not hammered.
    if (wasUp && m_up.isValid() && m_up.elapsed() > m_maxDelayMs)
        m_attempt = 0;
    m_handshakeTimer.stop();
    m_pingTimer.stop();
    m_pongTimer.stop();
    for (Subscription &s : m_subscriptions)
        s.active = false;
    if (!m_open)
        return;
    ++m_drops;
    const QString where = m_url.toDisplayString(QUrl::RemoveUserInfo | QUrl::RemoveQuery);
    QString reason = m_socket.closeCode() == QWebSocketProtocol::CloseCodeTooMuchData
        ? tr("LiveQuery at %1 sent a message over %2 bytes").arg(where).arg(m_maxMessageBytes)
        : wasUp ? tr("LiveQuery connection to %1 lost (%2)").arg(where, m_socket.errorString())
                : tr("cannot reach LiveQuery at %1 (%2)").arg(where, m_socket.errorString());
    scheduleReconnect(reason);
}

void LiveQueryClient::scheduleReconnect(const QString &reason)
{
    qCDebug(lcWatch) << reason;
    if (!m_saidUnavailable) {
        m_saidUnavailable = true;
        Q_EMIT unavailable(reason);
    }
    if (m_open && !m_reconnectTimer.isActive())
        m_reconnectTimer.start(int(reconnectDelayMs(m_attempt, m_baseDelayMs, m_maxDelayMs, QRandomGenerator::global()->generateDouble())));
}

void LiveQueryClient::drop(const QString &reason)
{
    qCDebug(lcWatch) << "dropping the LiveQuery connection:" << reason;
    // abort() ends in disconnected(), which schedules the reconnect.
    if (m_socket.state() == QAbstractSocket::UnconnectedState) {
        onDisconnected();
        return;
    }
    m_socket.abort();
}

void LiveQueryClient::onMessage(const QString &message)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(message.toUtf8(), &error);
    if (!doc.isObject()) {
        drop(tr("LiveQuery sent what is not a JSON object"));
        return;
    }
    const QJsonObject json = doc.object();
    const QString op = json.value(QStringLiteral("op")).toString();
    const int requestId = json.value(QStringLiteral("requestId")).toInt(-1);
    if (op == QLatin1String("connected")) {
        m_connected = true;
        m_up.start();
        m_handshakeTimer.stop();
        m_pingTimer.start(m_pingIntervalMs);
        for (auto it = m_subscriptions.cbegin(); it != m_subscriptions.cend(); ++it)
            sendSubscribe(it.key());
    } else if (op == QLatin1String("subscribed")) {
        auto it = m_subscriptions.find(requestId);
        if (it == m_subscriptions.end())
            return;
        it->active = true;
        m_saidUnavailable = false;
        Q_EMIT subscribed(requestId);
    } else if (op == QLatin1String("create") || op == QLatin1String("update") || op == QLatin1String("enter")
               || op == QLatin1String("leave") || op == QLatin1String("delete")) {
        if (!m_subscriptions.value(requestId).active)
            return;
        Q_EMIT event(requestId, op, json.value(QStringLiteral("object")).toObject());
    } else if (op == QLatin1String("error")) {
        const QString text = tr("LiveQuery error %1: %2")
                                 .arg(json.value(QStringLiteral("code")).toInt())
                                 .arg(json.value(QStringLiteral("error")).toString().left(500));
        if (requestId >= 0 && m_subscriptions.contains(requestId)) {
            m_subscriptions.remove(requestId);
            Q_EMIT subscriptionFailed(requestId, text);
        } else if (!m_connected) {
            // Refused at connect (a wrong key): retrying the same will not help soon.
            drop(text);
        }
    }
}

void LiveQueryClient::sendSubscribe(int requestId)
{
    const Subscription s = m_subscriptions.value(requestId);
    QJsonObject query{{QStringLiteral("className"), s.query.className}, {QStringLiteral("where"), s.query.where}};
    if (!s.query.keys.isEmpty())
        query.insert(QStringLiteral("keys"), QJsonArray::fromStringList(s.query.keys));
    if (!s.query.watch.isEmpty())
        query.insert(QStringLiteral("watch"), QJsonArray::fromStringList(s.query.watch));
    QJsonObject op{{QStringLiteral("op"), QStringLiteral("subscribe")}, {QStringLiteral("requestId"), requestId}, {QStringLiteral("query"), query}};
    if (!m_sessionToken.isEmpty())
        op.insert(QStringLiteral("sessionToken"), m_sessionToken);
    send(op);
}

void LiveQueryClient::send(const QJsonObject &message)
{
    m_socket.sendTextMessage(QString::fromUtf8(QJsonDocument(message).toJson(QJsonDocument::Compact)));
}

} // namespace membatch
