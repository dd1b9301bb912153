#pragma once

#include <QByteArray>
#include <QHostAddress>
#include <QList>
#include <QObject>
#include <QPair>
#include <QTimer>
#include <QUrl>

class QTcpSocket;

namespace membatch {

// One webhook POST, over a socket of its own rather than the worker's
// QNetworkAccessManager: the receiver is anybody's, so it gets hard limits
// that Qt's HTTP stack does not give (it reads headers without end, and its
// transfer timeout starts again with every byte) and cannot slow the
// worker's own calls. It connects to the address it is given (the one that
// was checked: no second lookup that could answer otherwise), sends the
// request with Connection: close, and ends at the status line and headers,
// keeping what body came with them. https checks the certificate against
// the url's host.
class WebhookSender : public QObject
{
    Q_OBJECT
public:
    struct Limits
    {
        int deadlineMs = 15000;       // for the whole exchange, connecting included
        qint64 maxHeadBytes = 16 * 1024; // status line and headers
        qint64 maxBodyBytes = 64 * 1024; // what is kept of the body
    };

    WebhookSender(const QUrl &url, const QHostAddress &address, const QList<QPair<QByteArray, QByteArray>> &headers,
                  const QByteArray &body, const Limits &limits, QObject *parent = nullptr);
    ~WebhookSender() override;

    void start();

Q_SIGNALS:
    // Once: the status (0 if there was none) and, if it failed, why.
    void finished(int httpStatus, const QString &error, const QByteArray &bodyStart);

private:
    void readAnswer();
    void end(int httpStatus, const QString &error);

    QUrl m_url;
    QHostAddress m_address;
    QByteArray m_request;
    Limits m_limits;
    QTcpSocket *m_socket = nullptr;
    QTimer m_deadline;
    QByteArray m_answer;
    bool m_ended = false;
};

} // namespace membatch
