#pragma once

#include "activityrun.h"

#include <QHostAddress>
#include <QTimer>

namespace membatch {

// deliver_batch_webhook(request_id, batch_id): what the workflow runs once a
// batch has ended, however it ended, if its submitter asked for a webhook.
// Each attempt of the activity is one delivery: a summary of the batch
// POSTed to the url, signed the Standard Webhooks way (WebhookSignature).
// It is recorded on the request (webhookAttempts, webhookLastError, then
// webhookSent and webhookSentAt); a failed one fails the attempt with the
// wait before the next as Temporal's next retry delay, so no worker slot is
// held while waiting, and the next attempt, on any worker, goes on counting.
// When the attempts are spent the activity completes, saying it gave up.
//
// The url is the user's to choose: it must be http(s), and by default may
// not lead to loopback, link-local, private, documentation or this host's
// own addresses (WorkerOptions::webhookAllowPrivate), so that a user cannot
// make the worker reach what only the worker can reach. The host is
// resolved once and the delivery connects to the address checked
// (WebhookSender), with hard limits on time and size, no redirect followed.
class WebhookActivity : public ActivityRun
{
    Q_OBJECT
public:
    WebhookActivity(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ActivityTask &task,
                    const WorkerOptions &options, QObject *parent = nullptr);

    void start() override;

    // The body sent for a request: {"type":"batch.<status>","timestamp",
    // "data":{batch_id, request_id, status, total, processed, successful,
    // failed, started_at, completed_at, duration_ms, results_url}}.
    static QByteArray payload(const QJsonObject &request);
    // Addresses a webhook may not go to unless allowed: loopback,
    // unspecified, link-local, private (RFC 1918, shared, unique local),
    // documentation, multicast and broadcast, in IPv4, IPv6 and IPv4-mapped
    // IPv6, and every address of this host's own interfaces.
    static bool isInternal(const QHostAddress &address);
    // The wait before the next delivery after attempt n failed.
    static qint64 waitAfter(int attempt, qint64 backoffMs);

protected:
    void halt() override;

private:
    void check(const QJsonObject &request);
    void resolved(const QList<QHostAddress> &addresses, const QString &error);
    void deliver(const QHostAddress &address);
    void answered(int httpStatus, const QString &error);
    // Records fields on the request, then runs then().
    void record(const QJsonObject &fields, std::function<void()> then);
    void giveUp(const QString &why);
    void heartbeat();

    int m_maxAttempts;
    qint64 m_backoffMs;
    bool m_allowInternal;
    QTimer m_heartbeatTimer;

    QString m_requestId;
    QString m_batchId;
    QUrl m_url;
    QByteArray m_secret;
    QByteArray m_body;
    QByteArray m_messageId;
    int m_attempts = 0; // made so far, by every worker
};

} // namespace membatch
