#pragma once

#include "activityrun.h"

#include <membatch/batchstatus.h>

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
// A submission of several chunks gets one message, not one a chunk: every
// chunk's workflow runs this activity when the chunk ends, and the one that
// finds all of the submission's chunks (its own user's: a chunk names its
// parent, anybody could name any) ended claims the delivery by creating a
// WebhookClaim object whose objectId is derived from the submission
// (claimId): Parse lets one create win, the others get 137 and end. The
// claim names the chunk request that made it, so an attempt of that same
// activity, after its worker died between claiming and sending, finds the
// claim its own and goes on: Temporal's retries carry the delivery. The
// message sums the chunks (aggregate) under the parent's id, its
// webhook-id is msg_ + the first chunk's request id, and the delivery is
// recorded on that first chunk.
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
    // The same for a submission's aggregated status (BatchRequest::aggregate),
    // with status.requestId the first chunk's, and "chunks" added to data.
    static QByteArray payload(const BatchStatus &status, const QString &resultsUrl, int chunks);
    // The objectId of the claim on a submission's webhook: derived from its
    // user (empty for one submitted with the master key) and parent id.
    static QString claimId(const QString &userId, const QString &parentBatchId);
    inline static const QString ClaimClassName = QStringLiteral("MembatchWebhookClaim");
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
    // From the record of the delivery on: sent already, what to sign with,
    // attempts left, then the lookup.
    void prepare(const QJsonObject &record);
    // A chunk: are all of its submission's chunks ended, and whose is the delivery?
    void findSubmission(const QJsonObject &request);
    void readSubmission(const QJsonObject &where);
    void submissionFound(const QJsonArray &chunks);
    void claim(const QJsonObject &first);
    void claimLost(const QString &claimedBy);
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
    QString m_recordId; // the request the delivery is recorded on: its own, or its submission's first chunk
    QString m_parentId; // a chunk's parent batch id
    QJsonValue m_user;  // a chunk's user pointer (none: submitted with the master key)
    QUrl m_url;
    QByteArray m_secret;
    QByteArray m_body;
    QByteArray m_messageId;
    int m_attempts = 0; // made so far, by every worker
};

} // namespace membatch
