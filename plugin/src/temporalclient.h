#pragma once

#include "restclient.h"

#include <membatch/batchstatus.h>
#include <membatch/connectionsettings.h>

#include <QJsonArray>
#include <QJsonObject>

namespace membatch {

// A workflow run as DescribeWorkflowExecution tells it.
struct WorkflowState
{
    QString runId;
    QString status;  // "running", "completed", "failed", "canceled", "terminated", "continued_as_new", "timed_out"
    bool isOpen() const { return status == QLatin1String("running"); }
    bool endedBadly() const { return BatchStatus::workflowEndedBadly(status); }
};

// An activity task handed to a worker (PollActivityTaskQueueResponse).
struct ActivityTask
{
    QByteArray taskToken; // base64, as the JSON API carries it
    QString workflowId;
    QString runId;
    QString activityId;
    QString activityType;
    QJsonArray input;     // the decoded JSON values of the input payloads
    QString inputError;   // set when a payload could not be read
    int attempt = 1;
    int maximumAttempts = 0;         // of its retry policy; 0: unlimited
    qint64 heartbeatTimeoutMs = 0;   // 0: none set
    qint64 startToCloseTimeoutMs = 0;
    bool isEmpty() const { return taskToken.isEmpty(); }
};

// Temporal's HTTP API (the server's JSON listener, 1.24+): start, describe,
// the close event, and an activity's heartbeat, completion, failure and
// cancellation by task token. Polling for tasks has no HTTP route: see
// ActivityTaskPoller.
class TemporalClient
{
public:
    TemporalClient(QNetworkAccessManager *nam, const ConnectionSettings &settings);

    using Handler = RestClient::Handler;
    // How failed calls are retried (RetryPolicy's defaults unless set).
    void setRetryPolicy(const RetryPolicy &policy) { m_rest.setRetryPolicy(policy); }

    // StartWorkflowExecution; requestId makes a retried start safe. The
    // answer carries runId.
    void startWorkflow(const QString &workflowId, const QString &workflowType, const QJsonArray &input,
                       const QString &requestId, const QString &identity, QObject *context, Handler handler);
    // RequestCancelWorkflowExecution: the workflow is asked to stop (it
    // cancels its activity and waits for the worker to report). The same
    // requestId again is the same request.
    void cancelWorkflow(const QString &workflowId, const QString &reason, const QString &requestId,
                        const QString &identity, QObject *context, Handler handler);
    // DescribeNamespace: answers 404 (NotFoundError) if there is no such namespace.
    void describeNamespace(QObject *context, Handler handler);
    void describeWorkflow(const QString &workflowId, const QString &runId, QObject *context,
                          std::function<void(const ApiResult &, const WorkflowState &)> handler);
    // The close event of a run that has ended (history with the close-event
    // filter); handler gets its failure message, if it failed.
    void closeFailure(const QString &workflowId, const QString &runId, QObject *context,
                      std::function<void(const ApiResult &, const QString &failure)> handler);

    // Answers whether a cancel was requested. timeoutMs bounds the exchange
    // (0: the client's default): a heartbeat late is a heartbeat lost.
    void heartbeat(const QByteArray &taskToken, const QJsonArray &details, const QString &identity, QObject *context,
                   std::function<void(const ApiResult &, bool cancelRequested)> handler, int timeoutMs = 0);
    void completeActivity(const QByteArray &taskToken, const QJsonArray &result, const QString &identity,
                          QObject *context, Handler handler);
    // nextRetryDelayMs >= 0: the retry policy's next attempt comes after this
    // long rather than its own back-off.
    void failActivity(const QByteArray &taskToken, const QString &message, const QString &type, bool nonRetryable,
                      const QString &identity, QObject *context, Handler handler, qint64 nextRetryDelayMs = -1);
    // RespondActivityTaskCanceled: the worker stopped because a cancel was requested.
    void cancelActivity(const QByteArray &taskToken, const QJsonArray &details, const QString &identity,
                        QObject *context, Handler handler);

    // "WORKFLOW_EXECUTION_STATUS_TIMED_OUT" -> "timed_out"
    static QString shortStatus(const QString &enumName);

private:
    QNetworkRequest request(const QString &path, const QString &prefix) const;
    QString namespacePath() const;

    RestClient m_rest;
    ConnectionSettings m_settings;
};

} // namespace membatch
