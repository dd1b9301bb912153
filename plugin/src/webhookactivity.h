#pragma once

#include "activityrun.h"

#include <QHostAddress>
#include <QTimer>

namespace membatch {

// deliver_batch_webhook(request_id, batch_id): what the workflow runs once a
// batch has ended, however it ended. If its submitter asked for a webhook,
// POSTs a summary of the batch to it, signed the Standard Webhooks way
// (WebhookSignature), and again with growing waits until the receiver
// answers 2xx or the attempts are spent; every attempt is recorded on the
// request (webhookAttempts, webhookLastError, then webhookSent and
// webhookSentAt), so a worker that takes over goes on counting.
//
// The url is the user's to choose: it must be http(s), is not followed on
// a redirect, and by default may not lead to loopback, link-local or
// private addresses (WorkerOptions::webhookAllowPrivate), so that a user
// cannot make the worker reach what only the worker can reach. (The host is
// resolved to check it; Qt resolves it again to connect, so a name that
// changes its answer in between is not caught: keep the worker's network
// egress filtered as well.)
class WebhookActivity : public ActivityRun
{
    Q_OBJECT
public:
    WebhookActivity(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ActivityTask &task,
                    const WorkerOptions &options, QObject *parent = nullptr);

    void start() override;
    // Stops waiting or delivering and gives the task back (another worker
    // goes on with the attempts recorded), unless this is the retry policy's
    // last attempt.
    void handBack() override;

    // The body sent for a request: {"type":"batch.<status>","timestamp",
    // "data":{batch_id, request_id, status, total, processed, successful,
    // failed, started_at, completed_at, duration_ms, results_url}}.
    static QByteArray payload(const QJsonObject &request);
    // Addresses a webhook may not go to unless allowed: loopback,
    // unspecified, link-local, private (RFC 1918, shared, unique local),
    // multicast and broadcast, in IPv4, IPv6 and IPv4-mapped IPv6.
    static bool isInternal(const QHostAddress &address);

protected:
    void halt() override;

private:
    void check(const QJsonObject &request);
    void resolved(const QList<QHostAddress> &addresses, const QString &error);
    void deliver();
    void answered(int httpStatus, const QString &error);
    // Records fields on the request, then runs then().
    void record(const QJsonObject &fields, std::function<void()> then);
    void giveUp(const QString &why);
    void heartbeat();
    qint64 waitBefore(int attempt) const;

    QNetworkAccessManager *m_nam;
    int m_maxAttempts;
    qint64 m_backoffMs;
    bool m_allowInternal;
    QTimer m_heartbeatTimer;
    QTimer m_nextAttempt;
    bool m_heartbeatInFlight = false;

    QString m_requestId;
    QString m_batchId;
    QUrl m_url;
    QByteArray m_secret;
    QByteArray m_body;
    QByteArray m_messageId;
    int m_attempts = 0; // made so far, by every worker
};

} // namespace membatch
