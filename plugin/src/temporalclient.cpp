#include "temporalclient.h"

#include "logging.h"

#include <QJsonDocument>
#include <QUrlQuery>

namespace membatch {

namespace {

// google.rpc.Status: {"code": N, "message": "...", "details": [...]}.
void readTemporalError(ApiResult &r, QString *says)
{
    r.serviceCode = r.json.value(QStringLiteral("code")).toInt();
    const QString message = r.json.value(QStringLiteral("message")).toString();
    if (!message.isEmpty())
        *says = r.serviceCode ? QStringLiteral("%1 (code %2)").arg(message).arg(r.serviceCode) : message;
}

QString pathSegment(const QString &value)
{
    return QString::fromUtf8(QUrl::toPercentEncoding(value));
}

} // namespace

TemporalClient::TemporalClient(QNetworkAccessManager *nam, const ConnectionSettings &settings)
    : m_rest(nam, QStringLiteral("Temporal"), readTemporalError)
    , m_settings(settings)
{
}

QString TemporalClient::namespacePath() const
{
    return QStringLiteral("/namespaces/") + pathSegment(m_settings.temporalNamespace);
}

QNetworkRequest TemporalClient::request(const QString &path, const QString &prefix) const
{
    QNetworkRequest req(appendPath(m_settings.temporalUrl, prefix + path));
    req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    return req;
}

void TemporalClient::startWorkflow(const QString &workflowId, const QString &workflowType, const QJsonArray &input,
                                   const QString &requestId, const QString &identity, QObject *context,
                                   Handler handler)
{
    const QJsonObject body{
        {QStringLiteral("namespace"), m_settings.temporalNamespace},
        {QStringLiteral("workflowId"), workflowId},
        {QStringLiteral("workflowType"), QJsonObject{{QStringLiteral("name"), workflowType}}},
        {QStringLiteral("taskQueue"), QJsonObject{{QStringLiteral("name"), m_settings.taskQueue}}},
        {QStringLiteral("input"), input}, // payload shorthand: one json/plain payload per value
        {QStringLiteral("identity"), identity},
        {QStringLiteral("requestId"), requestId},
    };
    qCDebug(lcTemporal) << "starting" << workflowType << workflowId;
    QNetworkRequest req = request(namespacePath() + QStringLiteral("/workflows/") + pathSegment(workflowId), m_settings.temporalApiPrefix);
    req.setAttribute(RestClient::IdempotentAttribute, true); // the requestId makes a second start the first
    m_rest.send("POST", req, compactJson(body), context, std::move(handler));
}

void TemporalClient::cancelWorkflow(const QString &workflowId, const QString &reason, const QString &requestId,
                                    const QString &identity, QObject *context, Handler handler)
{
    const QJsonObject body{{QStringLiteral("reason"), reason},
                           {QStringLiteral("requestId"), requestId},
                           {QStringLiteral("identity"), identity}};
    QNetworkRequest req = request(namespacePath() + QStringLiteral("/workflows/") + pathSegment(workflowId) + QStringLiteral("/cancel"),
                                  m_settings.temporalApiPrefix);
    req.setAttribute(RestClient::IdempotentAttribute, true); // the same requestId is the same request
    m_rest.send("POST", req, compactJson(body), context, std::move(handler));
}

void TemporalClient::describeNamespace(QObject *context, Handler handler)
{
    m_rest.send("GET", request(namespacePath(), m_settings.temporalApiPrefix), {}, context, std::move(handler));
}

void TemporalClient::describeWorkflow(const QString &workflowId, const QString &runId, QObject *context,
                                      std::function<void(const ApiResult &, const WorkflowState &)> handler)
{
    QNetworkRequest req =
        request(namespacePath() + QStringLiteral("/workflows/") + pathSegment(workflowId), m_settings.temporalApiPrefix);
    if (!runId.isEmpty()) {
        QUrl url = req.url();
        url.setQuery(QUrlQuery{{QStringLiteral("execution.runId"), runId}});
        req.setUrl(url);
    }
    m_rest.send("GET", req, {}, context, [handler](const ApiResult &r) {
        WorkflowState state;
        const QJsonObject info = r.json.value(QStringLiteral("workflowExecutionInfo")).toObject();
        state.runId = info.value(QStringLiteral("execution")).toObject().value(QStringLiteral("runId")).toString();
        state.status = shortStatus(info.value(QStringLiteral("status")).toString());
        handler(r, state);
    });
}

void TemporalClient::closeFailure(const QString &workflowId, const QString &runId, QObject *context,
                                  std::function<void(const ApiResult &, const QString &)> handler)
{
    QNetworkRequest req = request(namespacePath() + QStringLiteral("/workflows/") + pathSegment(workflowId)
                                      + QStringLiteral("/history"),
                                  m_settings.temporalApiPrefix);
    QUrlQuery query;
    if (!runId.isEmpty())
        query.addQueryItem(QStringLiteral("execution.runId"), runId);
    // The number, not the enum name: names work only from server 1.23 on.
    query.addQueryItem(QStringLiteral("historyEventFilterType"), QStringLiteral("2"));
    QUrl url = req.url();
    setEncodedQuery(url, query);
    req.setUrl(url);
    m_rest.send("GET", req, {}, context, [handler](const ApiResult &r) {
        const QJsonArray events = r.json.value(QStringLiteral("history")).toObject().value(QStringLiteral("events")).toArray();
        QStringList messages;
        for (const QJsonValue &event : events) {
            // Whichever ...EventAttributes the close event carries, read its failure chain.
            const QJsonObject attributes = event.toObject();
            for (auto it = attributes.begin(); it != attributes.end(); ++it) {
                QJsonObject failure = it.value().toObject().value(QStringLiteral("failure")).toObject();
                while (!failure.isEmpty()) {
                    messages << failure.value(QStringLiteral("message")).toString();
                    failure = failure.value(QStringLiteral("cause")).toObject();
                }
            }
        }
        messages.removeAll(QString());
        handler(r, messages.join(QStringLiteral(": ")));
    });
}

void TemporalClient::heartbeat(const QByteArray &taskToken, const QJsonArray &details, const QString &identity,
                               QObject *context, std::function<void(const ApiResult &, bool)> handler, int timeoutMs)
{
    const QJsonObject body{{QStringLiteral("taskToken"), QString::fromLatin1(taskToken)},
                           {QStringLiteral("details"), details},
                           {QStringLiteral("identity"), identity}};
    QNetworkRequest req = request(namespacePath() + QStringLiteral("/activity-heartbeat"), m_settings.temporalApiPrefix);
    if (timeoutMs > 0)
        req.setTransferTimeout(timeoutMs);
    m_rest.send("POST", req, compactJson(body), context, [handler](const ApiResult &r) {
        handler(r, r.json.value(QStringLiteral("cancelRequested")).toBool());
    });
}

void TemporalClient::completeActivity(const QByteArray &taskToken, const QJsonArray &result, const QString &identity,
                                      QObject *context, Handler handler)
{
    const QJsonObject body{{QStringLiteral("taskToken"), QString::fromLatin1(taskToken)},
                           {QStringLiteral("result"), result},
                           {QStringLiteral("identity"), identity}};
    m_rest.send("POST", request(namespacePath() + QStringLiteral("/activity-complete"), m_settings.temporalApiPrefix),
                compactJson(body), context, std::move(handler));
}

void TemporalClient::failActivity(const QByteArray &taskToken, const QString &message, const QString &type,
                                  bool nonRetryable, const QString &identity, QObject *context, Handler handler,
                                  qint64 nextRetryDelayMs)
{
    QJsonObject appInfo{{QStringLiteral("type"), type}};
    if (nonRetryable)
        appInfo.insert(QStringLiteral("nonRetryable"), true);
    if (nextRetryDelayMs >= 0) // a Duration in protobuf's JSON: "1.500s"
        appInfo.insert(QStringLiteral("nextRetryDelay"), QStringLiteral("%1s").arg(nextRetryDelayMs / 1000.0, 0, 'f', 3));
    const QJsonObject failure{{QStringLiteral("message"), message},
                              {QStringLiteral("source"), QStringLiteral("membatch")},
                              {QStringLiteral("applicationFailureInfo"), appInfo}};
    const QJsonObject body{{QStringLiteral("taskToken"), QString::fromLatin1(taskToken)},
                           {QStringLiteral("failure"), failure},
                           {QStringLiteral("identity"), identity}};
    m_rest.send("POST", request(namespacePath() + QStringLiteral("/activity-fail"), m_settings.temporalApiPrefix),
                compactJson(body), context, std::move(handler));
}

void TemporalClient::cancelActivity(const QByteArray &taskToken, const QJsonArray &details, const QString &identity,
                                    QObject *context, Handler handler)
{
    const QJsonObject body{{QStringLiteral("taskToken"), QString::fromLatin1(taskToken)},
                           {QStringLiteral("details"), details},
                           {QStringLiteral("identity"), identity}};
    m_rest.send("POST",
                request(namespacePath() + QStringLiteral("/activity-resolve-as-canceled"), m_settings.temporalApiPrefix),
                compactJson(body), context, std::move(handler));
}

QString TemporalClient::shortStatus(const QString &enumName)
{
    static const QLatin1String prefix("WORKFLOW_EXECUTION_STATUS_");
    if (!enumName.startsWith(prefix))
        return enumName.toLower();
    return enumName.mid(prefix.size()).toLower();
}

} // namespace membatch
