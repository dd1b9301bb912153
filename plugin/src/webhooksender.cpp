#include "webhooksender.h"

#include <QSslSocket>
#include <QTcpSocket>

namespace membatch {

WebhookSender::WebhookSender(const QUrl &url, const QHostAddress &address, const QList<QPair<QByteArray, QByteArray>> &headers,
                             const QByteArray &body, const Limits &limits, QObject *parent)
    : QObject(parent)
    , m_url(url)
    , m_address(address)
    , m_limits(limits)
{
    const bool https = url.scheme() == QLatin1String("https");
    const int port = url.port(https ? 443 : 80);
    const QByteArray target = url.path(QUrl::FullyEncoded).isEmpty() ? QByteArray("/") : url.path(QUrl::FullyEncoded).toLatin1();
    QByteArray host = url.host(QUrl::FullyEncoded).toLatin1();
    if (host.contains(':'))
        host = '[' + host + ']';
    if (port != (https ? 443 : 80))
        host += ':' + QByteArray::number(port);
    m_request = "POST " + target + (url.hasQuery() ? '?' + url.query(QUrl::FullyEncoded).toLatin1() : QByteArray()) + " HTTP/1.1\r\n"
        + "Host: " + host + "\r\n"
        + "Content-Length: " + QByteArray::number(body.size()) + "\r\n"
        + "Connection: close\r\n";
    for (const auto &[name, value] : headers)
        m_request += name + ": " + value + "\r\n";
    m_request += "\r\n" + body;
    m_deadline.setSingleShot(true);
    connect(&m_deadline, &QTimer::timeout, this, [this] {
        end(0, tr("no complete answer within %1 s").arg(m_limits.deadlineMs / 1000.0));
    });
}

WebhookSender::~WebhookSender() = default;

void WebhookSender::start()
{
    m_deadline.start(m_limits.deadlineMs);
    const bool https = m_url.scheme() == QLatin1String("https");
    const quint16 port = quint16(m_url.port(https ? 443 : 80));
    if (https) {
        auto *socket = new QSslSocket(this);
        m_socket = socket;
        connect(socket, &QSslSocket::encrypted, this, [this] { m_socket->write(m_request); });
        connect(socket, &QSslSocket::sslErrors, this, [this](const QList<QSslError> &errors) {
            end(0, tr("TLS: %1").arg(errors.isEmpty() ? QStringLiteral("?") : errors.first().errorString()));
        });
        // To the checked address; the certificate must be the url host's.
        socket->connectToHostEncrypted(m_address.toString(), port, m_url.host());
    } else {
        m_socket = new QTcpSocket(this);
        connect(m_socket, &QTcpSocket::connected, this, [this] { m_socket->write(m_request); });
        m_socket->connectToHost(m_address, port);
    }
    m_socket->setReadBufferSize(m_limits.maxHeadBytes + m_limits.maxBodyBytes);
    connect(m_socket, &QTcpSocket::readyRead, this, &WebhookSender::readAnswer);
    connect(m_socket, &QTcpSocket::errorOccurred, this, [this](QAbstractSocket::SocketError error) {
        if (error == QAbstractSocket::RemoteHostClosedError)
            readAnswer(); // what came before the close decides
        end(0, tr("the receiver could not be reached: %1").arg(m_socket->errorString()));
    });
}

void WebhookSender::readAnswer()
{
    if (m_ended)
        return;
    m_answer += m_socket->read(m_limits.maxHeadBytes + m_limits.maxBodyBytes - m_answer.size());
    const qsizetype headEnd = m_answer.indexOf("\r\n\r\n");
    if (headEnd < 0) {
        if (m_answer.size() >= m_limits.maxHeadBytes)
            end(0, tr("the receiver's answer has more than %1 KiB of headers").arg(m_limits.maxHeadBytes / 1024));
        return;
    }
    const QList<QByteArray> status = m_answer.left(m_answer.indexOf("\r\n")).split(' ');
    bool ok = false;
    const int code = status.value(1).toInt(&ok);
    if (!status.value(0).startsWith("HTTP/1.") || !ok || code < 100 || code > 599) {
        end(0, tr("the receiver's answer is not HTTP"));
        return;
    }
    if (code >= 100 && code < 200) { // 100 Continue and the like: the answer follows
        m_answer.remove(0, headEnd + 4);
        readAnswer();
        return;
    }
    end(code, {});
}

void WebhookSender::end(int httpStatus, const QString &error)
{
    if (m_ended)
        return;
    m_ended = true;
    m_deadline.stop();
    const qsizetype headEnd = m_answer.indexOf("\r\n\r\n");
    const QByteArray body = headEnd < 0 ? QByteArray() : m_answer.mid(headEnd + 4, m_limits.maxBodyBytes);
    if (m_socket) {
        m_socket->disconnect(this);
        m_socket->abort();
    }
    Q_EMIT finished(httpStatus, error, body);
}

} // namespace membatch
