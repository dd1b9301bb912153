#pragma once

#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QObject>
#include <QStringList>
#include <QTimer>
#include <QUrl>
#include <QWebSocket>

namespace membatch {

// One WebSocket to Parse LiveQuery, for any number of subscriptions.
//
// It sends the connect op with the application id (and the REST key, or the
// master key for a client without a user), then a subscribe op per query
// with the session token IN the subscribe message: on a class that requires
// authentication a token only in connect gets "subscribed" and then nothing
// but errors. Events arrive as event(). When the connection drops it
// reconnects with backoff (full jitter) and subscribes again; each time a
// subscription is (re)established, subscribed() says so, and the owner looks
// again at what it watches, since events are lost while disconnected. When
// LiveQuery cannot be reached, or the connection is lost, unavailable() says
// so (once per outage), and the owner polls until the next subscribed().
//
// A server that sends more than maxMessageBytes in one message is cut off
// (and reconnected to, after the backoff): nothing it sends grows memory
// without end.
class LiveQueryClient : public QObject
{
    Q_OBJECT
public:
    struct Query
    {
        QString className;
        QJsonObject where;
        QStringList keys;  // only these fields in events; empty: all
        QStringList watch; // updates only when these fields change; empty: any
    };

    explicit LiveQueryClient(QObject *parent = nullptr);
    ~LiveQueryClient() override;

    // The stack's LiveQuery server shares Parse's HTTP server: the same
    // host, port and path, as ws:// (or wss:// for https).
    static QUrl urlFor(const QUrl &parseUrl);
    // The wait before reconnect attempt `attempt` (1: the first): uniform
    // in [0, min(maxMs, baseMs * 2^(attempt-1))), random01 in [0, 1).
    static qint64 reconnectDelayMs(int attempt, qint64 baseMs, qint64 maxMs, double random01);

    void setUrl(const QUrl &url) { m_url = url; }
    // Who the client is: the application id, and a key. masterKey only for a
    // client with no user (it then sees every object).
    void setCredentials(const QString &appId, const QString &restKey, const QString &masterKey = {});
    void setSessionToken(const QString &token) { m_sessionToken = token; }
    void setMaxMessageBytes(qint64 bytes);
    void setReconnectDelays(qint64 baseMs, qint64 maxMs);
    // How long connecting (up to "connected") may take, and how often the
    // connection is pinged (no pong within the same time: it is dropped).
    void setTimeouts(int handshakeMs, int pingIntervalMs);

    // Subscribes (now, or when connected); the id names it in the signals.
    int subscribe(const Query &query);
    void unsubscribe(int requestId);
    bool isSubscribed(int requestId) const;

    // Connects (and keeps reconnecting until close()).
    void open();
    void close();
    bool isConnected() const { return m_connected; }
    // Connections that ended (dropped, refused, cut off) since open().
    int drops() const { return m_drops; }

Q_SIGNALS:
    void subscribed(int requestId);
    // op: create, update, enter, leave or delete; object as Parse sends it
    // (original, for update/enter/leave, is not passed on).
    void event(int requestId, const QString &op, const QJsonObject &object);
    void unavailable(const QString &reason);
    // The server refused a subscription (it is not retried).
    void subscriptionFailed(int requestId, const QString &reason);

private:
    void connectSocket();
    void onConnected();
    void onDisconnected();
    void onMessage(const QString &message);
    void drop(const QString &reason);
    void scheduleReconnect(const QString &reason);
    void sendSubscribe(int requestId);
    void send(const QJsonObject &message);

    struct Subscription
    {
        Query query;
        bool active = false;
    };

    QWebSocket m_socket;
    QUrl m_url;
    QString m_appId;
    QString m_restKey;
    QString m_masterKey;
    QString m_sessionToken;
    qint64 m_maxMessageBytes = 4 * 1024 * 1024;
    qint64 m_baseDelayMs = 500;
    qint64 m_maxDelayMs = 30000;
    int m_handshakeMs = 10000;
    int m_pingIntervalMs = 30000;
    QHash<int, Subscription> m_subscriptions;
    int m_nextRequestId = 1;
    int m_attempt = 0;
    int m_drops = 0;
    bool m_open = false;
    bool m_connected = false; // "connected" received
    bool m_saidUnavailable = false;
    QElapsedTimer m_up; // since the last "connected"
    QTimer m_reconnectTimer;
    QTimer m_handshakeTimer;
    QTimer m_pingTimer;
    QTimer m_pongTimer;
};

} // namespace membatch
