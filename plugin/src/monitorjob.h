#pragma once

#include "clientjob.h"
#include "progressestimator.h"

#include <membatch/batchoptions.h>

#include <QElapsedTimer>
#include <QHash>
#include <QJsonObject>
#include <QPointer>
#include <QTimer>

namespace membatch {

class LiveQueryClient;

// Follows any number of batches over one Parse session and one LiveQuery
// WebSocket (MonitorJob). One Parse query covers them all (the requests of
// the ids, and the chunks whose parent they are); it runs at the start, each
// time LiveQuery (re)subscribes (events are lost while disconnected), and at
// every pollIntervalMs while push is off or unavailable. Between queries
// pushed events keep the requests current. The workflow of every request
// that has not ended is described at pollIntervalMs, and merged in: a
// request that says processing while its workflow failed, timed out, was
// terminated or canceled is reported that way, with the reason. Timing
// (rate, ETA, elapsed, stalled) comes from a ProgressEstimator per batch.
class ParseMonitorJob : public ClientJobBase<MonitorJob>
{
    Q_OBJECT
public:
    ParseMonitorJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QStringList &batchIds,
                    const WatchOptions &options, QObject *parent = nullptr);
    ~ParseMonitorJob() override;

    // On a session another job signed in, owned by parent and not deleted
    // on its result.
    static ParseMonitorJob *onSession(QNetworkAccessManager *nam, ConnectionSettings settings, const QString &sessionToken,
                                      const QStringList &batchIds, const WatchOptions &options, QObject *parent);

    // What push did (diagnostics and tests): events taken from LiveQuery,
    // times it (re)subscribed, Parse queries run.
    int pushedEvents() const { return m_pushedEvents; }
    int subscriptions() const { return m_subscriptions; }
    int parseQueries() const { return m_parseQueries; }
    bool isPushActive() const { return m_pushActive; }

    // Where LiveQuery is (default: LiveQueryClient::urlFor the Parse URL),
    // and its reconnect backoff; before start().
    void setLiveQueryUrl(const QUrl &url);
    void setLiveQueryDelays(qint64 baseMs, qint64 maxMs);

protected:
    void signedIn() override;
    QString purpose() const override { return tr("look at"); }
    bool doKill() override;
    void doAddBatch(const QString &batchId) override;

private:
    struct Flow // a request's workflow, as last described
    {
        QString status;
        QString runId;
        QString failure;
        bool followLatestRun = false;
        bool failureAsked = false;
        int completedLooks = 0; // completed while the request was not final
        QElapsedTimer described; // since the last describe was sent
    };
    struct Watched
    {
        ProgressEstimator estimator;
        QString lastState; // status + counts, to tell a move
        bool found = false;
        bool notFound = false;
    };

    void subscribe();
    void onPushEvent(const QString &op, const QJsonObject &object);
    void tick();
    int maxRequests() const;
    // Reads every watched request from Parse, then describes the workflows.
    void refresh();
    void readRequests(const ApiResult &r);
    // Describes the workflow of every request that has not ended, then done().
    void describeWorkflows();
    void describeNext();
    void readWorkflow(const QString &requestBatchId, const ApiResult &r, const WorkflowState &state);
    void emitAll();
    void emitSum();
    void emitBatch(const QString &batchId);
    BatchStatus statusOf(const QString &batchId, QDateTime *updatedAt) const;
    BatchStatus merged(const QJsonObject &request) const;
    bool watches(const QJsonObject &request) const;
    // The watched id a request is part of: its own batch id, else its parent's.
    QString watchedIdOf(const QJsonObject &request) const;
    void checkEnd();
    void end();
    void lookFailed(const ApiResult &r, const QString &what);
    static QString whyNotCompleted(const BatchStatus &s);

    WatchOptions m_options;
    QStringList m_ids;
    QHash<QString, Watched> m_watched;
    QHash<QString, QJsonObject> m_requests; // by the request's own batchId
    QHash<QString, QString> m_owners;       // watched id -> the user whose batch it is, as last read
    QHash<QString, Flow> m_flows;           // by the request's own batchId
    QPointer<LiveQueryClient> m_liveQuery;
    int m_subscriptionId = -1;
    QTimer m_timer;
    bool m_signedIn = false;
    bool m_ending = false; // end() ran: signing out, then the result
    bool m_pushActive = false;
    bool m_querying = false;
    bool m_queryAgain = false;
    bool m_queried = false;   // a first answer came
    bool m_lookedOnce = false; // ... and the workflows were looked at
    QElapsedTimer m_lastQuery;
    QUrl m_liveQueryUrl;
    qint64 m_reconnectBaseMs = 500;
    qint64 m_reconnectMaxMs = 30000;
    QStringList m_describeQueue;
    int m_describing = 0;
    bool m_describeAgain = false;
    int m_pushedEvents = 0;
    int m_subscriptions = 0;
    int m_parseQueries = 0;
};

} // namespace membatch
