#pragma once

// A tiny HTTP/1.1 server on loopback for unit tests: canned answers per
// route, every request recorded. It can also cut an answer short or never
// answer, to test how clients cope.
#include <membatch/connectionsettings.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QMap>
#include <QTcpServer>
#include <QTcpSocket>
#include <QUrl>

#include <functional>

class FakeHttpServer : public QObject
{
    Q_OBJECT
public:
    struct Request
    {
        QByteArray method;
        QString path; // without the query
        QString query;
        QMap<QByteArray, QByteArray> headers; // names in lower case
        QByteArray body;
        QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
    };

    struct Response
    {
        enum class Kind { Normal, CutOff, Never };
        int status = 200;
        QByteArray body = "{}";
        QList<QPair<QByteArray, QByteArray>> headers;
        Kind kind = Kind::Normal;

        static Response json(int status, const QJsonObject &object)
        {
            return {status, QJsonDocument(object).toJson(QJsonDocument::Compact), {}, Kind::Normal};
        }
        static Response raw(int status, const QByteArray &body) { return {status, body, {}, Kind::Normal}; }
    };

    using Handler = std::function<Response(const Request &)>;

    explicit FakeHttpServer(QObject *parent = nullptr)
        : QObject(parent)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *socket = m_server.nextPendingConnection()) {
                socket->setParent(this);
                connect(socket, &QTcpSocket::readyRead, this, [this, socket] { read(socket); });
            }
        });
    }

    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    QUrl url(const QString &path = {}) const
    {
        return QUrl(QStringLiteral("http://127.0.0.1:%1%2").arg(m_server.serverPort()).arg(path));
    }

    // The handler for requests whose method matches and whose path starts
    // with pathPrefix. The longest prefix wins; of equal ones, the later.
    void on(const QByteArray &method, const QString &pathPrefix, Handler handler)
    {
        m_routes.prepend({method, pathPrefix, std::move(handler)});
    }
    void on(const QByteArray &method, const QString &pathPrefix, const Response &response)
    {
        on(method, pathPrefix, [response](const Request &) { return response; });
    }

    QList<Request> requests;

    QList<Request> requestsTo(const QByteArray &method, const QString &pathPrefix) const
    {
        QList<Request> found;
        for (const Request &r : requests)
            if (r.method == method && r.path.startsWith(pathPrefix))
                found.append(r);
        return found;
    }

Q_SIGNALS:
    void requestReceived(const FakeHttpServer::Request &request);

private:
    struct Route
    {
        QByteArray method;
        QString prefix;
        Handler handler;
    };

    void read(QTcpSocket *socket)
    {
        QByteArray &buffer = m_buffers[socket];
        buffer += socket->readAll();
        for (;;) {
            const qsizetype headerEnd = buffer.indexOf("\r\n\r\n");
            if (headerEnd < 0)
                return;
            Request request;
            const QList<QByteArray> lines = buffer.left(headerEnd).split('\n');
            const QList<QByteArray> first = lines.value(0).trimmed().split(' ');
            request.method = first.value(0);
            const QUrl target(QString::fromLatin1(first.value(1)));
            request.path = target.path();
            request.query = target.query();
            for (qsizetype i = 1; i < lines.size(); ++i) {
                const qsizetype colon = lines.at(i).indexOf(':');
                if (colon > 0)
                    request.headers.insert(lines.at(i).left(colon).trimmed().toLower(), lines.at(i).mid(colon + 1).trimmed());
            }
            const qsizetype length = request.headers.value("content-length", "0").toLongLong();
            if (buffer.size() < headerEnd + 4 + length)
                return;
            request.body = buffer.mid(headerEnd + 4, length);
            buffer.remove(0, headerEnd + 4 + length);
            answer(socket, request);
        }
    }

    void answer(QTcpSocket *socket, const Request &request)
    {
        requests.append(request);
        Response response = Response::json(404, {{QStringLiteral("error"), QStringLiteral("no fake route")}});
        // The most specific route; m_routes has the latest first.
        const Route *best = nullptr;
        for (const Route &route : std::as_const(m_routes)) {
            if (route.method == request.method && request.path.startsWith(route.prefix)
                && (!best || route.prefix.size() > best->prefix.size()))
                best = &route;
        }
        if (best)
            response = best->handler(request);
        Q_EMIT requestReceived(request);
        if (response.kind == Response::Kind::Never)
            return;
        const qsizetype announced = response.body.size() + (response.kind == Response::Kind::CutOff ? 1000 : 0);
        QByteArray head = "HTTP/1.1 " + QByteArray::number(response.status) + " Fake\r\n"
            + "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " + QByteArray::number(announced) + "\r\n";
        for (const auto &h : std::as_const(response.headers))
            head += h.first + ": " + h.second + "\r\n";
        socket->write(head + "\r\n" + response.body);
        socket->disconnectFromHost();
    }

    QTcpServer m_server;
    QList<Route> m_routes;
    QMap<QTcpSocket *, QByteArray> m_buffers;
};

// Settings that point Parse (at /parse) and Temporal (at the root) at one
// fake server, with the master key; tests add a user where they need one.
inline membatch::ConnectionSettings settingsForFake(const FakeHttpServer &server)
{
    membatch::ConnectionSettings s;
    s.parseUrl = server.url(QStringLiteral("/parse"));
    s.appId = QStringLiteral("app");
    s.restKey = QStringLiteral("rest-SECRET");
    s.masterKey = QStringLiteral("master-SECRET");
    s.temporalUrl = server.url();
    return s;
}
