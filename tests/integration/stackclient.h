#pragma once

// What the integration tests share: plain HTTP to the stack's Parse Server
// and Temporal HTTP API (to look at what the code under test did, or to act
// as a foreign client would), and running a job to its end. Blocking on a
// signal spy is fine in a test; library code never does it.
#include <membatch/connectionsettings.h>
#include <membatch/job.h>

#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSignalSpy>
#include <QTest>
#include <QUrlQuery>
#include <QUuid>

struct Http
{
    int status = 0;
    QByteArray body;
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

class StackClient
{
public:
    membatch::ConnectionSettings settings = membatch::ConnectionSettings::fromEnvironment();
    static inline const QString WorkflowType = QStringLiteral("ProcessBatchMemoryFromRequestWorkflow");

    Http send(const QByteArray &verb, const QUrl &url, const QByteArray &body = {},
              const QList<QPair<QByteArray, QByteArray>> &headers = {})
    {
        QNetworkRequest req(url);
        for (const auto &h : headers)
            req.setRawHeader(h.first, h.second);
        req.setRawHeader("Accept-Encoding", "identity");
        QNetworkReply *reply = m_nam.sendCustomRequest(req, verb, body);
        QSignalSpy done(reply, &QNetworkReply::finished);
        if (!reply->isFinished())
            done.wait(30000);
        Http r{reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), reply->readAll()};
        reply->deleteLater();
        return r;
    }

    QUrl parseUrl(const QString &path, const QUrlQuery &query = {}) const
    {
        QUrl url = settings.parseUrl;
        url.setPath(url.path() + path);
        url.setQuery(query);
        return url;
    }

    Http parseAsMaster(const QByteArray &verb, const QString &path, const QUrlQuery &query = {},
                       const QByteArray &body = {}, const QByteArray &contentType = "application/json")
    {
        return send(verb, parseUrl(path, query), body,
                    {{"X-Parse-Application-Id", settings.appId.toUtf8()},
                     {"X-Parse-Master-Key", settings.masterKey.toUtf8()},
                     {"Content-Type", contentType}});
    }

    // As a signed-in user: the REST key and a session token.
    Http parseAsUser(const QByteArray &sessionToken, const QByteArray &verb, const QString &path,
                     const QByteArray &body = {}, const QByteArray &contentType = "application/json",
                     const QUrlQuery &query = {})
    {
        return send(verb, parseUrl(path, query), body,
                    {{"X-Parse-Application-Id", settings.appId.toUtf8()},
                     {"X-Parse-REST-API-Key", settings.restKey.toUtf8()},
                     {"X-Parse-Session-Token", sessionToken},
                     {"Content-Type", contentType}});
    }

    // Logs the settings' user in; its session token, or empty.
    QByteArray logIn()
    {
        const QJsonObject user{{QStringLiteral("username"), settings.username}, {QStringLiteral("password"), settings.password}};
        const Http r = send("POST", parseUrl(QStringLiteral("/login")), QJsonDocument(user).toJson(QJsonDocument::Compact),
                            {{"X-Parse-Application-Id", settings.appId.toUtf8()},
                             {"X-Parse-REST-API-Key", settings.restKey.toUtf8()},
                             {"Content-Type", "application/json"}});
        return r.json().value(QStringLiteral("sessionToken")).toString().toUtf8();
    }

    // Signs up a new user (anyone may); its session token, or empty.
    QByteArray signUp(const QString &username)
    {
        const QJsonObject user{{QStringLiteral("username"), username}, {QStringLiteral("password"), QUuid::createUuid().toString()}};
        const Http r = send("POST", parseUrl(QStringLiteral("/users")), QJsonDocument(user).toJson(QJsonDocument::Compact),
                            {{"X-Parse-Application-Id", settings.appId.toUtf8()},
                             {"X-Parse-REST-API-Key", settings.restKey.toUtf8()},
                             {"Content-Type", "application/json"}});
        return r.status == 201 ? r.json().value(QStringLiteral("sessionToken")).toString().toUtf8() : QByteArray();
    }

    // The HTTP API, under /namespaces/<ns>; a path with a query goes as it is.
    Http temporal(const QByteArray &verb, const QString &path, const QByteArray &body = {})
    {
        const QString full = settings.temporalApiPrefix + QStringLiteral("/namespaces/") + settings.temporalNamespace + path;
        QUrl url = settings.temporalUrl;
        const qsizetype q = full.indexOf(QLatin1Char('?'));
        url.setPath(q < 0 ? full : full.left(q));
        if (q >= 0)
            url.setQuery(full.mid(q + 1));
        return send(verb, url, body, {{"Content-Type", "application/json"}});
    }

    // The workflow's status enum ("WORKFLOW_EXECUTION_STATUS_RUNNING"), or "".
    QString workflowStatus(const QString &workflowId)
    {
        return temporal("GET", QStringLiteral("/workflows/") + workflowId)
            .json().value(QStringLiteral("workflowExecutionInfo")).toObject().value(QStringLiteral("status")).toString();
    }

    // Every event of the workflow's current run.
    QJsonArray history(const QString &workflowId)
    {
        return temporal("GET", QStringLiteral("/workflows/%1/history").arg(workflowId))
            .json().value(QStringLiteral("history")).toObject().value(QStringLiteral("events")).toArray();
    }

    QJsonObject request(const QString &requestId)
    {
        return parseAsMaster("GET", QStringLiteral("/classes/BatchMemoryRequest/") + requestId).json();
    }

    int memoryCount(const QString &batchId)
    {
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"batchId\":\"%1\"}").arg(batchId));
        query.addQueryItem(QStringLiteral("count"), QStringLiteral("1"));
        query.addQueryItem(QStringLiteral("limit"), QStringLiteral("0"));
        return parseAsMaster("GET", QStringLiteral("/classes/Memory"), query).json().value(QStringLiteral("count")).toInt(-1);
    }

    // A JSON lines batch of count memories tagged tag.
    // Each file is new content (a submission is known by its content: the
    // same file again would resume the first).
    static QString writeBatch(const QString &path, int count, const QString &tag)
    {
        QFile file(path);
        if (!file.open(QIODevice::WriteOnly))
            return {};
        const QString fileId = QUuid::createUuid().toString(QUuid::WithoutBraces);
        for (int i = 0; i < count; ++i) {
            QJsonObject item{{QStringLiteral("content"), QStringLiteral("%1 memory #%2: the quick brown fox").arg(tag).arg(i)},
                             {QStringLiteral("metadata"), QJsonObject{{QStringLiteral("i"), i}, {QStringLiteral("file"), fileId}}},
                             {QStringLiteral("tags"), QJsonArray{tag, QStringLiteral("n%1").arg(i % 7)}},
                             {QStringLiteral("source"), QStringLiteral("membatch tests")}};
            if (i % 10 == 0)
                item.insert(QStringLiteral("embedding"), QJsonArray{0.5, -0.25, double(i)});
            file.write(QJsonDocument(item).toJson(QJsonDocument::Compact) + '\n');
        }
        return file.fileName();
    }

    // A request created by hand (as a foreign client might), to drive the
    // worker with data the submitter would refuse. Returns its objectId, or
    // an error text (with a space in it).
    QString createRequestByHand(const QString &batchId, const QByteArray &fileBytes, int totalMemories)
    {
        const Http file = parseAsMaster("POST", QStringLiteral("/files/hand_%1.json.gz").arg(batchId), {}, fileBytes,
                                        "application/gzip");
        if (file.status != 201)
            return QStringLiteral("upload failed: ") + QString::fromUtf8(file.body);
        const QJsonObject fields{
            {QStringLiteral("batchId"), batchId},
            {QStringLiteral("status"), QStringLiteral("pending")},
            {QStringLiteral("totalMemories"), totalMemories},
            {QStringLiteral("workflowId"), QStringLiteral("batch-") + batchId},
            {QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                                          {QStringLiteral("name"), file.json().value(QStringLiteral("name"))},
                                                          {QStringLiteral("url"), file.json().value(QStringLiteral("url"))}}},
            {QStringLiteral("ACL"), QJsonObject()},
        };
        const Http created = parseAsMaster("POST", QStringLiteral("/classes/BatchMemoryRequest"), {},
                                           QJsonDocument(fields).toJson(QJsonDocument::Compact));
        if (created.status != 201)
            return QStringLiteral("create failed: ") + QString::fromUtf8(created.body);
        return created.json().value(QStringLiteral("objectId")).toString();
    }

    // The StartWorkflowExecution answer for a start by hand.
    Http start(const QString &workflowId, const QJsonValue &input, const QString &requestId,
               const QString &workflowType = WorkflowType, const QString &taskQueue = {})
    {
        const QJsonObject start{
            {QStringLiteral("workflowId"), workflowId},
            {QStringLiteral("workflowType"), QJsonObject{{QStringLiteral("name"), workflowType}}},
            {QStringLiteral("taskQueue"), QJsonObject{{QStringLiteral("name"), taskQueue.isEmpty() ? settings.taskQueue : taskQueue}}},
            {QStringLiteral("input"), QJsonArray{input}},
            {QStringLiteral("requestId"), requestId},
        };
        return temporal("POST", QStringLiteral("/workflows/") + workflowId, QJsonDocument(start).toJson(QJsonDocument::Compact));
    }

    // Starts the batch's workflow by hand; empty on success, else the answer.
    QString startByHand(const QString &batchId, const QString &requestId)
    {
        const QJsonObject input{{QStringLiteral("request_id"), requestId}, {QStringLiteral("batch_id"), batchId}};
        const Http started = start(QStringLiteral("batch-") + batchId, input, QUuid::createUuid().toString(QUuid::WithoutBraces));
        return started.status == 200 ? QString() : QString::fromUtf8(started.body);
    }

    // Creates and starts a request by hand; returns its objectId.
    QString submitByHand(const QString &batchId, const QByteArray &fileBytes, int totalMemories)
    {
        const QString requestId = createRequestByHand(batchId, fileBytes, totalMemories);
        if (requestId.contains(QLatin1Char(' ')))
            return requestId;
        const QString startError = startByHand(batchId, requestId);
        return startError.isEmpty() ? requestId : QStringLiteral("start failed: ") + startError;
    }

    // Runs a job to its result; the job is kept alive for inspection.
    static bool runToEnd(membatch::Job *job, int timeoutMs = 90000)
    {
        job->setAutoDelete(false);
        QSignalSpy result(job, &membatch::Job::result);
        job->start();
        if (!result.wait(timeoutMs) || result.count() != 1) {
            qWarning("the job did not finish in time (or finished twice)");
            job->kill();
            return false;
        }
        return true;
    }

private:
    QNetworkAccessManager m_nam;
};
