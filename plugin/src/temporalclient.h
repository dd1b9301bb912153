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
    QJsonArray input;     // payload shorthand: the decoded JSON values
    int attempt = 1;
    bool isEmpty() const { return taskToken.isEmpty(); }
};

// Temporal's HTTP API (the server's JSON listener, 1.24+): start, describe,
// activity heartbeat/complete/fail by task token, and the emulator-only
// task poll (no Temporal server has an HTTP route for polling).
class TemporalClient
{
public:
    TemporalClient(QNetworkAccessManager *nam, const ConnectionSettings &settings);

    using Handler = RestClient::Handler;

    // StartWorkflowExecution; requestId makes a retried start safe. The
    // answer carries runId.
    void startWorkflow(const QString &workflowId, const QString &workflowType, const QJsonArray &input,
                       const QString &requestId, const QString &identity, QObject *context, Handler handler);
    void describeWorkflow(const QString &workflowId, const QString &runId, QObject *context,
                          std::function<void(const ApiResult &, const WorkflowState &)> handler);
    // The close event of a run that has ended (history with the close-event
    // filter); handler gets its failure message, if it failed.
    void closeFailure(const QString &workflowId, const QString &runId, QObject *context,
                      std::function<void(const ApiResult &, const QString &failure)> handler);

    void pollActivityTask(const QString &identity, QObject *context,
                          std::function<void(const ApiResult &, const ActivityTask &)> handler);
    // Answers whether a cancel was requested.
    void heartbeat(const QByteArray &taskToken, const QJsonArray &details, const QString &identity, QObject *context,
                   std::function<void(const ApiResult &, bool cancelRequested)> handler);
    void completeActivity(const QByteArray &taskToken, const QJsonArray &result, const QString &identity,
                          QObject *context, Handler handler);
    void failActivity(const QByteArray &taskToken, const QString &message, const QString &type, bool nonRetryable,
                      const QString &identity, QObject *context, Handler handler);

    // "WORKFLOW_EXECUTION_STATUS_TIMED_OUT" -> "timed_out"
    static QString shortStatus(const QString &enumName);

    static constexpr int PollTimeoutMs = 70000; // over a server's long-poll

private:
    QNetworkRequest request(const QString &path, const QString &prefix) const;
    QString namespacePath() const;

    RestClient m_rest;
    ConnectionSettings m_settings;
};

} // namespace membatch
