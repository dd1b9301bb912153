#pragma once

// A LiveQuery server on loopback for unit tests: answers connect and
// subscribe as Parse does, records what clients send, and pushes events,
// oversized messages or a dropped socket on demand.
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QList>
#include <QPointer>
#include <QWebSocket>
#include <QWebSocketServer>

class FakeLiveQuery : public QObject
{
    Q_OBJECT
public:
    explicit FakeLiveQuery(QObject *parent = nullptr)
        : QObject(parent)
        , m_server(QStringLiteral("fake LiveQuery"), QWebSocketServer::NonSecureMode)
    {
        connect(&m_server, &QWebSocketServer::newConnection, this, [this] {
            while (QWebSocket *socket = m_server.nextPendingConnection()) {
                socket->setParent(this);
                m_socket = socket;
                ++connections;
                connect(socket, &QWebSocket::textMessageReceived, this, [this, socket](const QString &text) {
                    const QJsonObject json = QJsonDocument::fromJson(text.toUtf8()).object();
                    received.append(json);
                    const QString op = json.value(QStringLiteral("op")).toString();
                    if (op == QLatin1String("connect") && answerConnect)
                        send(socket, {{QStringLiteral("op"), QStringLiteral("connected")}, {QStringLiteral("clientId"), connections}});
                    else if (op == QLatin1String("subscribe")) {
                        lastRequestId = json.value(QStringLiteral("requestId")).toInt();
                        if (refuseSubscribe)
                            send(socket, {{QStringLiteral("op"), QStringLiteral("error")}, {QStringLiteral("requestId"), lastRequestId},
                                          {QStringLiteral("code"), 119}, {QStringLiteral("error"), QStringLiteral("Permission denied")}});
                        else
                            send(socket, {{QStringLiteral("op"), QStringLiteral("subscribed")}, {QStringLiteral("clientId"), connections},
                                          {QStringLiteral("requestId"), lastRequestId}});
                    }
                    Q_EMIT messageReceived(json);
                });
            }
        });
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    QUrl url() const { return QUrl(QStringLiteral("ws://127.0.0.1:%1/parse").arg(m_server.serverPort())); }
    void close() { m_server.close(); }

    // An event of the last subscription.
    void push(const QString &op, const QJsonObject &object, int requestId = -1)
    {
        if (m_socket)
            send(m_socket, {{QStringLiteral("op"), op}, {QStringLiteral("clientId"), connections},
                            {QStringLiteral("requestId"), requestId < 0 ? lastRequestId : requestId}, {QStringLiteral("object"), object}});
    }
    void sendRaw(const QString &text)
    {
        if (m_socket)
            m_socket->sendTextMessage(text);
    }
    // Cuts the last connection (as a restarted server or a broken network would).
    void drop()
    {
        if (m_socket)
            m_socket->abort();
    }

    QList<QJsonObject> messages(const QString &op) const
    {
        QList<QJsonObject> found;
        for (const QJsonObject &m : received)
            if (m.value(QStringLiteral("op")).toString() == op)
                found.append(m);
        return found;
    }

    QList<QJsonObject> received;
    int connections = 0;
    int lastRequestId = -1;
    bool answerConnect = true;
    bool refuseSubscribe = false;

Q_SIGNALS:
    void messageReceived(const QJsonObject &message);

private:
    static void send(QWebSocket *socket, const QJsonObject &json)
    {
        socket->sendTextMessage(QString::fromUtf8(QJsonDocument(json).toJson(QJsonDocument::Compact)));
    }

    QWebSocketServer m_server;
    QPointer<QWebSocket> m_socket;
};
