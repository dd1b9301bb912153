// The reference worker (WorkerJob + BatchActivity) against a fake Parse +
// Temporal: tasks come from a fake gRPC frontend (FakeGrpcServer), Parse and
// Temporal's HTTP API (heartbeat, complete, fail, cancel) from one fake HTTP
// server. What it writes, in what order, and how it fails.
#include "batchactivity.h"
#include "fakegrpcserver.h"
#include "fakehttpserver.h"
#include "gzipcodec.h"
#include "parseclient.h"
#include "resultsrecorder.h"
#include "webhookactivity.h"
#include "webhooksender.h"
#include "workerjob.h"

#include <membatch/webhooksignature.h>

#include <QAtomicInt>
#include <QJsonArray>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSet>
#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>
#include <QUrlQuery>
#include <QThreadPool>

#include <future>

using namespace membatch;
using Request = FakeHttpServer::Request;
using Response = FakeHttpServer::Response;
using PollResponse = FakeGrpcServer::PollResponse;

namespace {
const QString kRequest = QStringLiteral("/parse/classes/BatchMemoryRequest/req1");
const QString kBatch = QStringLiteral("/parse/batch");
const QString kMemories = QStringLiteral("/parse/classes/Memory");
const QString kPages = QStringLiteral("/parse/classes/BatchResultPage");
const QString kResultsFile = QStringLiteral("/parse/files/results.jsonl.gz");
// The worker's id key, from the fakes' master key ("master-SECRET").
const QByteArray kIdKey = membatch::BatchActivity::memoryIdKey(QStringLiteral("master-SECRET"));
const QString kHeartbeat = QStringLiteral("/api/v1/namespaces/default/activity-heartbeat");
const QString kComplete = QStringLiteral("/api/v1/namespaces/default/activity-complete");
const QString kFail = QStringLiteral("/api/v1/namespaces/default/activity-fail");
const QString kCancel = QStringLiteral("/api/v1/namespaces/default/activity-resolve-as-canceled");
const QString kToken = QStringLiteral("dG9rZW4="); // base64 of the task token "token"
const QString kActivity = QStringLiteral("fetch_and_process_batch_memories");

// An activity task as Temporal's frontend hands it out: input [requestId,
// batchId] as two json/plain payloads, and a short heartbeat timeout so that
// the worker's heartbeat timer (a third of it) ticks every 100 ms.
PollResponse activityTask(const std::string &token = "token", const QString &requestId = QStringLiteral("req1"),
                          const QString &batchId = QStringLiteral("b1"), const QString &activityType = kActivity)
{
    PollResponse task;
    task.set_task_token(token);
    task.mutable_workflow_execution()->set_workflow_id("batch-" + batchId.toStdString());
    task.mutable_workflow_execution()->set_run_id("r1");
    task.set_activity_id("1");
    task.mutable_activity_type()->set_name(activityType.toStdString());
    task.set_attempt(1);
    task.mutable_heartbeat_timeout()->set_nanos(300 * 1000 * 1000);
    task.mutable_start_to_close_timeout()->set_seconds(60);
    for (const QString &id : {requestId, batchId}) {
        auto *payload = task.mutable_input()->add_payloads();
        (*payload->mutable_metadata())["encoding"] = "json/plain";
        payload->set_data('"' + id.toStdString() + '"');
    }
    return task;
}

// The settle_batch_request task the workflow schedules: the two ids, then
// the status to settle with and the reason.
PollResponse settleTask(const QString &status, const QString &reason)
{
    PollResponse task = activityTask("token", QStringLiteral("req1"), QStringLiteral("b1"), QStringLiteral("settle_batch_request"));
    for (const QString &value : {status, reason}) {
        auto *payload = task.mutable_input()->add_payloads();
        (*payload->mutable_metadata())["encoding"] = "json/plain";
        payload->set_data(QJsonDocument(QJsonArray{value}).toJson(QJsonDocument::Compact).mid(1).chopped(1).toStdString());
    }
    return task;
}

// The failure of the worker's first activity-fail call, and what it says
// of retrying.
QJsonObject reportedFailure(const FakeHttpServer &server)
{
    const QList<FakeHttpServer::Request> fails = server.requestsTo("POST", kFail);
    return fails.isEmpty() ? QJsonObject() : fails.first().json().value(QStringLiteral("failure")).toObject();
}

bool saysNonRetryable(const QJsonObject &failure)
{
    return failure.value(QStringLiteral("applicationFailureInfo")).toObject().value(QStringLiteral("nonRetryable")).toBool();
}

// A submission's chunk requests and the claims on its webhook, as a fake Parse keeps them.
struct Submission
{
    std::shared_ptr<QMap<QString, QJsonObject>> requests = std::make_shared<QMap<QString, QJsonObject>>();
    std::shared_ptr<QMap<QString, QJsonObject>> claims = std::make_shared<QMap<QString, QJsonObject>>();
};

// Parse and Temporal's HTTP API on one fake HTTP server, Temporal's gRPC
// frontend on a fake gRPC server.
struct Fakes
{
    FakeHttpServer http;
    FakeGrpcServer grpc;

    bool listen() { return http.listen() && grpc.start(); }
    ConnectionSettings settings() const
    {
        ConnectionSettings s = settingsForFake(http);
        s.temporalAddress = grpc.address();
        return s;
    }
};

// Request requestId of batch batchId in Parse, whose file holds these items.
// extra: more fields of the request.
// /batch's answer when it stores every sub-request of the call.
Response storedAll(const Request &call)
{
    QJsonArray answers;
    for (qsizetype i = 0; i < call.json().value(QStringLiteral("requests")).toArray().size(); ++i)
        answers.append(QJsonObject{{QStringLiteral("success"), QJsonObject()}});
    return Response::raw(200, QJsonDocument(answers).toJson(QJsonDocument::Compact));
}

// Result pages as Parse keeps them (by objectId: a second create of one is
// 137), and the results file the worker uploads, which the server then serves.
void serveResults(FakeHttpServer &server, const QList<QJsonObject> &initialPages = {})
{
    auto pages = std::make_shared<QMap<QString, QJsonObject>>();
    for (const QJsonObject &page : initialPages)
        pages->insert(page.value(QStringLiteral("objectId")).toString(), page);
    server.on("POST", kPages, [pages](const Request &r) {
        const QString id = r.json().value(QStringLiteral("objectId")).toString();
        if (pages->contains(id))
            return Response::json(400, {{QStringLiteral("code"), 137}, {QStringLiteral("error"), QStringLiteral("A duplicate value for a field with unique values was provided")}});
        pages->insert(id, r.json());
        return Response::json(201, {{QStringLiteral("objectId"), id}});
    });
    server.on("PUT", kPages + QLatin1Char('/'), [pages](const Request &r) {
        const QString id = r.path.section(QLatin1Char('/'), -1);
        if (!pages->contains(id))
            return Response::json(404, {{QStringLiteral("code"), 101}, {QStringLiteral("error"), QStringLiteral("Object not found.")}});
        QJsonObject page = r.json();
        page.insert(QStringLiteral("objectId"), id);
        pages->insert(id, page);
        return Response::json(200, {});
    });
    server.on("GET", kPages, [pages](const Request &r) {
        const QUrlQuery query(r.query);
        const QJsonObject where = QJsonDocument::fromJson(query.queryItemValue(QStringLiteral("where"), QUrl::FullyDecoded).toUtf8()).object();
        const qint64 after = where.value(QStringLiteral("first")).toObject().value(QStringLiteral("$gt")).toInteger(-1);
        const int limit = query.queryItemValue(QStringLiteral("limit")).toInt();
        QMap<qint64, QJsonObject> ordered;
        for (const QJsonObject &page : std::as_const(*pages))
            if (page.value(QStringLiteral("first")).toInteger() > after)
                ordered.insert(page.value(QStringLiteral("first")).toInteger(), page);
        QJsonArray results;
        for (const QJsonObject &page : std::as_const(ordered))
            if (results.size() < limit)
                results.append(page);
        return Response::json(200, {{QStringLiteral("results"), results}});
    });
    auto file = std::make_shared<QByteArray>();
    const QString stored = QStringLiteral("/parse/files/app/0123_results.jsonl.gz");
    server.on("POST", kResultsFile, [&server, file, stored](const Request &r) {
        *file = r.body;
        return Response::json(201, {{QStringLiteral("name"), stored.mid(17)}, {QStringLiteral("url"), server.url(stored).toString()}});
    });
    server.on("GET", stored, [file](const Request &) { return Response::raw(200, *file); });
}

void serveRequest(FakeHttpServer &server, const QByteArray &file, int totalMemories,
                  const QString &requestId = QStringLiteral("req1"), const QString &batchId = QStringLiteral("b1"),
                  const QJsonObject &extra = {})
{
    const QString fileName = QStringLiteral("/parse/files/app/%1.gz").arg(batchId);
    QJsonObject request{
        {QStringLiteral("objectId"), requestId},
        {QStringLiteral("batchId"), batchId},
        {QStringLiteral("status"), QStringLiteral("pending")},
        {QStringLiteral("totalMemories"), totalMemories},
        {QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                                      {QStringLiteral("name"), fileName.mid(7)},
                                                      {QStringLiteral("url"), server.url(fileName).toString()}}},
        {QStringLiteral("user"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("Pointer")},
                                             {QStringLiteral("className"), QStringLiteral("_User")},
                                             {QStringLiteral("objectId"), QStringLiteral("u1")}}},
        {QStringLiteral("ACL"), QJsonObject{{QStringLiteral("u1"), QJsonObject{{QStringLiteral("read"), true}}}}},
    };
    for (auto it = extra.begin(); it != extra.end(); ++it)
        request.insert(it.key(), it.value());
    const QString path = QStringLiteral("/parse/classes/BatchMemoryRequest/") + requestId;
    server.on("GET", path, Response::json(200, request));
    server.on("PUT", path, Response::json(200, {}));
    server.on("GET", fileName, Response::raw(200, file));
    // /batch stores whatever it is given (tests that need more say so).
    server.on("POST", kBatch, &storedAll);
    serveResults(server);
}

// Temporal's HTTP API: every report accepted.
void serveTemporalHttp(FakeHttpServer &server)
{
    server.on("POST", kHeartbeat, Response::json(200, {}));
    server.on("POST", kComplete, Response::json(200, {}));
    server.on("POST", kFail, Response::json(200, {}));
    server.on("POST", kCancel, Response::json(200, {}));
}

// One task for request req1 of batch b1, whose file holds these items.
void serve(Fakes &fakes, const QByteArray &file, int totalMemories, const QString &activityType = kActivity)
{
    serveRequest(fakes.http, file, totalMemories);
    serveTemporalHttp(fakes.http);
    fakes.grpc.queue(activityTask("token", QStringLiteral("req1"), QStringLiteral("b1"), activityType));
}

// A route handler that answers only once ready() holds, running the event
// loop meanwhile so that the worker's other requests (its heartbeats, other
// tasks) go on: how a test holds Parse up until something has happened,
// without sleeping. *cameTrue says whether ready() held within 10 s.
FakeHttpServer::Handler answerWhen(std::function<bool()> ready, const Response &response, bool *cameTrue)
{
    return [ready = std::move(ready), response, cameTrue](const Request &) {
        *cameTrue = QTest::qWaitFor(ready, 10000);
        return response;
    };
}

QJsonObject heartbeatDetails(const Request &heartbeat)
{
    return heartbeat.json().value(QStringLiteral("details")).toArray().first().toObject();
}

// Counts the worker's "poll failed" warnings (a poll it will retry), and
// passes every message on to QTest's handler.
QAtomicInt s_pollFailures;
QtMessageHandler s_previousHandler = nullptr;
void countPollFailures(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    if (type == QtWarningMsg && message.contains(QLatin1String("poll failed")))
        s_pollFailures.ref();
    s_previousHandler(type, context, message);
}

} // namespace

class tst_WorkerJob : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;

    bool runOneTask(WorkerJob &worker)
    {
        worker.setAutoDelete(false);
        QSignalSpy result(&worker, &Job::result);
        worker.start();
        return result.wait(20000) && result.count() == 1;
    }

    // One task, groupSize memories a /batch call, one call in flight unless
    // inFlight says more, and the counts written only at the end (unless a
    // test sets progressIntervalMs).
    static WorkerOptions oneTask(int groupSize, int inFlight = 1)
    {
        WorkerOptions options;
        options.maxTasks = 1;
        options.groupSize = groupSize;
        options.groupsInFlight = inFlight;
        options.progressIntervalMs = 600000;
        options.identity = QStringLiteral("tester");
        options.retryForMs = 2000; // a server that stays down fails the attempt within the test
        return options;
    }

    // Lets everything already posted run (queued handlers, deferred deletes).
    void drain()
    {
        bool drained = false;
        QMetaObject::invokeMethod(this, [&drained] { drained = true; }, Qt::QueuedConnection);
        QTRY_VERIFY(drained);
    }

private Q_SLOTS:

    void storesTheBatchAndReportsIt()
    {
        const QByteArray items = R"([{"content":"zero"},{"content":""},{"content":"two","tags":["t"]},{"content":"three"}])";
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(items), 4);
        FakeHttpServer &server = fakes.http;
        // Heartbeats go by timer: the second group is held up until one has
        // come in during it, so that there is one with the counts so far.
        auto heartbeatDuringSecondGroup = [&server] {
            for (const Request &hb : server.requestsTo("POST", kHeartbeat))
                if (heartbeatDetails(hb) == QJsonObject{{QStringLiteral("processed"), 2}, {QStringLiteral("total"), 4}})
                    return true;
            return false;
        };
        bool heartbeatCame = false;
        int batches = 0;
        server.on("POST", kBatch, [&](const Request &) {
            // Item 3 was stored by an earlier attempt: Parse says 137.
            if (++batches == 1)
                return Response::raw(200, R"([{"success":{"objectId":"x"}}])");
            heartbeatCame = QTest::qWaitFor(heartbeatDuringSecondGroup, 10000);
            return Response::raw(200, R"([{"success":{"objectId":"y"}},{"error":{"code":137,"error":"A duplicate value"}}])");
        });
        // ...and it is this request's item 3: the worker looks before counting it.
        const QString id3 = BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), 3);
        server.on("GET", kMemories, Response::json(200, {{QStringLiteral("results"), QJsonArray{QJsonObject{
            {QStringLiteral("objectId"), id3}, {QStringLiteral("index"), 3},
            {QStringLiteral("request"), ParseClient::pointer(QStringLiteral("BatchMemoryRequest"), QStringLiteral("req1"))}}}}}));

        WorkerJob worker(&m_nam, fakes.settings(), oneTask(2));
        QStringList infos;
        connect(&worker, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QVERIFY(runOneTask(worker));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));
        QCOMPARE(infos.last(), QStringLiteral("batch b1: partial_failure"));

        // Memories go in groups through /batch, with fixed ids, the request's user and ACL.
        const QList<Request> batchCalls = server.requestsTo("POST", kBatch);
        QCOMPARE(batchCalls.size(), 2);
        QList<qint64> stored;
        for (const Request &call : batchCalls) {
            QCOMPARE(call.headers.value("x-parse-master-key"), QByteArray("master-SECRET"));
            const QJsonArray requests = call.json().value(QStringLiteral("requests")).toArray();
            for (const QJsonValue &v : requests) {
                const QJsonObject sub = v.toObject();
                QCOMPARE(sub.value(QStringLiteral("method")).toString(), QStringLiteral("POST"));
                QCOMPARE(sub.value(QStringLiteral("path")).toString(), QStringLiteral("/parse/classes/Memory"));
                const QJsonObject body = sub.value(QStringLiteral("body")).toObject();
                const qint64 index = body.value(QStringLiteral("index")).toInteger();
                stored << index;
                QCOMPARE(body.value(QStringLiteral("objectId")).toString(), BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), index));
                QCOMPARE(body.value(QStringLiteral("batchId")).toString(), QStringLiteral("b1"));
                QCOMPARE(body.value(QStringLiteral("request")).toObject().value(QStringLiteral("objectId")).toString(), QStringLiteral("req1"));
                QCOMPARE(body.value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString(), QStringLiteral("u1"));
                QCOMPARE(body.value(QStringLiteral("ACL")).toObject().keys(), QStringList{QStringLiteral("u1")});
            }
        }
        QCOMPARE(stored, (QList<qint64>{0, 2, 3})); // item 1 is invalid and never sent
        const QList<Request> looks = server.requestsTo("GET", kMemories);
        QCOMPARE(looks.size(), 1);
        QVERIFY2(QUrlQuery(looks.first().query).queryItemValue(QStringLiteral("where"), QUrl::FullyDecoded)
                     == QStringLiteral(R"({"objectId":{"$in":["%1"]}})").arg(id3),
                 qPrintable(looks.first().query));

        // The request: processing, then the final word (counts in between
        // only as often as progressIntervalMs allows: see below).
        const QList<Request> puts = server.requestsTo("PUT", kRequest);
        QCOMPARE(puts.size(), 2);
        QCOMPARE(puts.at(0).json().value(QStringLiteral("status")).toString(), QStringLiteral("processing"));
        QVERIFY(puts.at(0).json().contains(QStringLiteral("startedAt")));
        const QJsonObject final = puts.at(1).json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("partial_failure"));
        QCOMPARE(final.value(QStringLiteral("processedCount")).toInt(), 4);
        QCOMPARE(final.value(QStringLiteral("successCount")).toInt(), 3);
        QCOMPARE(final.value(QStringLiteral("failCount")).toInt(), 1);
        QVERIFY(final.contains(QStringLiteral("completedAt")) && final.contains(QStringLiteral("processingDurationMs")));
        const QJsonObject error = final.value(QStringLiteral("errors")).toArray().first().toObject();
        QCOMPARE(error.value(QStringLiteral("index")).toInt(), 1);
        QVERIFY(error.value(QStringLiteral("error")).toString().contains(QStringLiteral("'content'")));

        // Temporal: heartbeats (by timer) with the token and the progress so
        // far, then the result.
        QVERIFY(heartbeatCame);
        const QList<Request> heartbeats = server.requestsTo("POST", kHeartbeat);
        QVERIFY(!heartbeats.isEmpty());
        for (const Request &hb : heartbeats) {
            QCOMPARE(hb.json().value(QStringLiteral("taskToken")).toString(), kToken);
            QCOMPARE(hb.json().value(QStringLiteral("identity")).toString(), QStringLiteral("tester"));
            const QJsonObject details = heartbeatDetails(hb);
            QVERIFY(details.contains(QStringLiteral("processed")) && details.contains(QStringLiteral("total")));
        }
        QCOMPARE(server.requestsTo("POST", kComplete).size(), 1);
        const QJsonObject complete = server.requestsTo("POST", kComplete).first().json();
        QCOMPARE(complete.value(QStringLiteral("taskToken")).toString(), kToken);
        QCOMPARE(complete.value(QStringLiteral("result")).toArray().first().toObject(),
                 QJsonObject({{QStringLiteral("status"), QStringLiteral("partial_failure")}, {QStringLiteral("total"), 4},
                              {QStringLiteral("successful"), 3}, {QStringLiteral("failed"), 1},
                              {QStringLiteral("webhook"), false}}));
        QVERIFY(server.requestsTo("POST", kFail).isEmpty());

        // The poll asked for the settings' namespace and task queue, as us.
        QCOMPARE(fakes.grpc.pollCount(), 1);
        QCOMPARE(fakes.grpc.polls().front().ns, QStringLiteral("default"));
        QCOMPARE(fakes.grpc.polls().front().taskQueue, QStringLiteral("membatch-batches"));
        QCOMPARE(fakes.grpc.polls().front().identity, QStringLiteral("tester"));
    }

    void aBadFileFailsTheBatchWithoutRetry_data()
    {
        QTest::addColumn<QByteArray>("file");
        QTest::addColumn<int>("total");
        QTest::addColumn<QString>("reason");
        QTest::newRow("not gzip") << QByteArray("[{\"content\":\"plain json\"}] and then some") << 1 << QStringLiteral("not gzip data");
        QByteArray many = "[";
        for (int i = 0; i < 2000; ++i)
            many += "{\"content\":\"memory " + QByteArray::number(i * 7919) + "\"},";
        many.back() = ']';
        const QByteArray gz = GzipCodec::compress(many);
        QTest::newRow("truncated") << gz.left(gz.size() / 2) << 2000 << QStringLiteral("truncated");
        QTest::newRow("not an array") << GzipCodec::compress(R"({"content":"x"})") << 1 << QStringLiteral("not a JSON array");
        QTest::newRow("count mismatch") << GzipCodec::compress(R"([{"content":"x"}])") << 2 << QStringLiteral("holds 1 memories, the request says 2");
    }

    void aBadFileFailsTheBatchWithoutRetry()
    {
        QFETCH(QByteArray, file);
        QFETCH(int, total);
        QFETCH(QString, reason);
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, file, total);
        const FakeHttpServer &server = fakes.http;
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QVERIFY(runOneTask(worker));

        const QJsonObject final = server.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("failed"));
        const QJsonObject error = final.value(QStringLiteral("errors")).toArray().last().toObject();
        QCOMPARE(error.value(QStringLiteral("stage")).toString(), QStringLiteral("process"));
        QVERIFY2(error.value(QStringLiteral("error")).toString().contains(reason), qPrintable(error.value(QStringLiteral("error")).toString()));
        const QJsonObject fail = server.requestsTo("POST", kFail).first().json();
        QCOMPARE(fail.value(QStringLiteral("taskToken")).toString(), kToken);
        const QJsonObject failure = fail.value(QStringLiteral("failure")).toObject();
        QVERIFY(failure.value(QStringLiteral("message")).toString().contains(reason));
        QVERIFY(saysNonRetryable(failure));
        QVERIFY(server.requestsTo("POST", kComplete).isEmpty());
        // What was stored before the fault was found (groups already on
        // their way) is what the counts say: no more, no less.
        qint64 sent = 0;
        for (const Request &call : server.requestsTo("POST", kBatch))
            sent += call.json().value(QStringLiteral("requests")).toArray().size();
        QCOMPARE(final.value(QStringLiteral("successCount")).toInteger(), sent);
        QCOMPARE(final.value(QStringLiteral("processedCount")).toInteger(), sent);
        QVERIFY(sent < total);
    }

    void aServerErrorIsLeftToTemporalsRetry()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(R"([{"content":"x"}])"), 1);
        FakeHttpServer &server = fakes.http;
        server.on("POST", kBatch, Response::json(500, {{QStringLiteral("code"), 1}, {QStringLiteral("message"), QStringLiteral("Internal server error.")}}));
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QVERIFY(runOneTask(worker));
        const QJsonObject failure = reportedFailure(server);
        QVERIFY(failure.value(QStringLiteral("message")).toString().contains(QStringLiteral("Internal server error.")));
        QVERIFY(!saysNonRetryable(failure));
        // Asked again within the attempt before it gave up (retryForMs).
        QVERIFY(server.requestsTo("POST", kBatch).size() > 1);
        // The request stays processing for the next attempt: never marked failed.
        for (const Request &put : server.requestsTo("PUT", kRequest))
            QVERIFY(put.json().value(QStringLiteral("status")).toString() != QLatin1String("failed"));
    }

    void aServerErrorOnTheLastAttemptMarksTheRequestFailed()
    {
        // No attempt comes after the policy's last: the request must not be
        // left saying processing.
        Fakes fakes;
        QVERIFY(fakes.listen());
        serveRequest(fakes.http, GzipCodec::compress(R"([{"content":"x"}])"), 1);
        serveTemporalHttp(fakes.http);
        PollResponse last = activityTask();
        last.set_attempt(3);
        last.mutable_retry_policy()->set_maximum_attempts(3);
        fakes.grpc.queue(last);
        FakeHttpServer &server = fakes.http;
        server.on("POST", kBatch, Response::json(503, {{QStringLiteral("code"), 1}, {QStringLiteral("message"), QStringLiteral("Service Unavailable")}}));
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QVERIFY(runOneTask(worker));
        const QJsonObject final = server.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("failed"));
        const QJsonObject error = final.value(QStringLiteral("errors")).toArray().last().toObject();
        QCOMPARE(error.value(QStringLiteral("stage")).toString(), QStringLiteral("process"));
        QVERIFY2(error.value(QStringLiteral("error")).toString().contains(QStringLiteral("Service Unavailable")),
                 qPrintable(error.value(QStringLiteral("error")).toString()));
        QCOMPARE(server.requestsTo("POST", kFail).size(), 1);
    }

    void settlingMarksAnOpenRequestAndLeavesTheRestAlone_data()
    {
        QTest::addColumn<QString>("statusBefore"); // "" : no such request
        QTest::addColumn<QString>("asked");
        QTest::addColumn<bool>("changed");
        QTest::newRow("pending, canceled") << "pending" << "canceled" << true;
        QTest::newRow("processing, failed") << "processing" << "failed" << true;
        QTest::newRow("already completed") << "completed" << "failed" << false;
        QTest::newRow("already canceled by the worker") << "canceled" << "canceled" << false;
        QTest::newRow("no such request") << "" << "failed" << false;
    }

    void settlingMarksAnOpenRequestAndLeavesTheRestAlone()
    {
        QFETCH(QString, statusBefore);
        QFETCH(QString, asked);
        QFETCH(bool, changed);
        Fakes fakes;
        QVERIFY(fakes.listen());
        FakeHttpServer &server = fakes.http;
        serveTemporalHttp(server);
        if (statusBefore.isEmpty())
            server.on("GET", kRequest, Response::json(404, {{QStringLiteral("code"), 101}, {QStringLiteral("error"), QStringLiteral("Object not found.")}}));
        else
            serveRequest(server, {}, 1, QStringLiteral("req1"), QStringLiteral("b1"),
                         {{QStringLiteral("status"), statusBefore},
                          {QStringLiteral("errors"), QJsonArray{QJsonObject{{QStringLiteral("error"), QStringLiteral("earlier")}}}}});
        fakes.grpc.queue(settleTask(asked, QStringLiteral("the reason")));
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QVERIFY(runOneTask(worker));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));

        const QList<Request> puts = server.requestsTo("PUT", kRequest);
        QCOMPARE(puts.size(), changed ? 1 : 0);
        if (changed) {
            const QJsonObject fields = puts.first().json();
            QCOMPARE(fields.value(QStringLiteral("status")).toString(), asked);
            const QJsonArray errors = fields.value(QStringLiteral("errors")).toArray();
            QCOMPARE(errors.size(), 2); // the earlier ones are kept
            QCOMPARE(errors.last().toObject().value(QStringLiteral("stage")).toString(), QStringLiteral("workflow"));
            QCOMPARE(errors.last().toObject().value(QStringLiteral("error")).toString(), QStringLiteral("the reason"));
            QVERIFY(fields.contains(QStringLiteral("completedAt")));
        }
        const QJsonObject result = server.requestsTo("POST", kComplete).first().json().value(QStringLiteral("result")).toArray().first().toObject();
        QCOMPARE(result.value(QStringLiteral("changed")).toBool(), changed);
        QVERIFY(server.requestsTo("POST", kBatch).isEmpty());
    }

    void settlingRefusesAnythingButFailedOrCanceled()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serveRequest(fakes.http, {}, 1);
        serveTemporalHttp(fakes.http);
        fakes.grpc.queue(settleTask(QStringLiteral("completed"), QStringLiteral("forged")));
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QVERIFY(runOneTask(worker));
        QVERIFY(fakes.http.requestsTo("PUT", kRequest).isEmpty());
        const QJsonObject failure = reportedFailure(fakes.http);
        QVERIFY(saysNonRetryable(failure));
    }

    void aLostTaskStopsWithoutReporting()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(R"([{"content":"a"},{"content":"b"}])"), 2);
        FakeHttpServer &server = fakes.http;
        // Parse never answers the first group: only the heartbeat's 404 can
        // end the task. Temporal forgets the task once the group is on its
        // way, so that the 404 comes in the middle, not before the start.
        server.on("POST", kBatch, Response{200, "[]", {}, Response::Kind::Never});
        server.on("POST", kHeartbeat, [&server](const Request &) {
            if (server.requestsTo("POST", kBatch).isEmpty())
                return Response::json(200, {});
            return Response::json(404, {{QStringLiteral("code"), 5}, {QStringLiteral("message"), QStringLiteral("workflow execution already completed")}});
        });
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(1));
        QStringList infos;
        connect(&worker, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QVERIFY(runOneTask(worker));
        QCOMPARE(worker.error(), int(Job::NoError)); // the task is lost, the worker is fine
        QVERIFY2(infos.last().contains(QStringLiteral("no longer knows this task")), qPrintable(infos.last()));
        QCOMPARE(server.requestsTo("POST", kBatch).size(), 1); // stopped in the first group
        QVERIFY(server.requestsTo("POST", kComplete).isEmpty());
        QVERIFY(server.requestsTo("POST", kFail).isEmpty());
        QVERIFY(server.requestsTo("POST", kCancel).isEmpty());
        for (const Request &put : server.requestsTo("PUT", kRequest)) // no final word on the request either
            QVERIFY(!put.json().contains(QStringLiteral("completedAt")));
    }

    void refusesAnUnknownActivity()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, {}, 0, QStringLiteral("something_else"));
        const FakeHttpServer &server = fakes.http;
        WorkerOptions options = oneTask(10);
        options.maxTasks = 0;
        WorkerJob worker(&m_nam, fakes.settings(), options);
        worker.setAutoDelete(false);
        worker.start();
        QTRY_VERIFY(!server.requestsTo("POST", kFail).isEmpty());
        const QJsonObject fail = server.requestsTo("POST", kFail).first().json();
        QCOMPARE(fail.value(QStringLiteral("taskToken")).toString(), kToken);
        const QJsonObject failure = fail.value(QStringLiteral("failure")).toObject();
        QCOMPARE(failure.value(QStringLiteral("applicationFailureInfo")).toObject().value(QStringLiteral("type")).toString(), QStringLiteral("UnknownActivity"));
        QVERIFY(server.requestsTo("GET", kRequest).isEmpty());
        worker.kill();
    }

    void killFromAnInfoSlotStopsTheTask()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(R"([{"content":"a"}])"), 1);
        const FakeHttpServer &server = fakes.http;
        WorkerOptions options = oneTask(10);
        options.maxTasks = 0;
        options.concurrency = 1; // one poll at a time, so that there is exactly one before the kill
        WorkerJob worker(&m_nam, fakes.settings(), options);
        worker.setAutoDelete(false);
        connect(&worker, &Job::infoMessage, &worker, [&worker] { worker.kill(); });
        QSignalSpy result(&worker, &Job::result);
        worker.start();
        QTRY_COMPARE(result.count(), 1);
        QCOMPARE(worker.error(), int(Job::KilledError));
        QThreadPool::globalInstance()->waitForDone();
        drain();
        QCOMPARE(fakes.grpc.pollCount(), 1);
        QVERIFY(server.requestsTo("PUT", kRequest).isEmpty());
        QVERIFY(server.requestsTo("POST", kBatch).isEmpty());
        QCOMPARE(result.count(), 1);
    }

    void memoryIdsAreStable()
    {
        const QString a = BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), 7);
        QCOMPARE(a, BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), 7));
        QVERIFY(a != BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), 8));
        QVERIFY(a != BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req2"), 7));
        // Without the master key nobody works it out: another key, another id.
        QVERIFY(a != BatchActivity::memoryObjectId(BatchActivity::memoryIdKey(QStringLiteral("guess")), QStringLiteral("req1"), 7));
        QCOMPARE(a.size(), 24);
        QVERIFY(QRegularExpression(QStringLiteral("^[0-9a-f]{24}$")).match(a).hasMatch());
    }

    // The indexes of the items in every /batch call so far, in order.
    static QList<qint64> sentIndexes(const FakeHttpServer &server)
    {
        QList<qint64> sent;
        for (const Request &call : server.requestsTo("POST", kBatch))
            for (const QJsonValue &v : call.json().value(QStringLiteral("requests")).toArray())
                sent << v.toObject().value(QStringLiteral("body")).toObject().value(QStringLiteral("index")).toInteger();
        return sent;
    }

    // Checks the result pages written, in order: they begin where the last
    // ended, carry the request's ids and ACL, and cover every count written
    // after them. How far they got, or -1 if they do not hold.
    static qint64 resultsCoverTheCounts(const FakeHttpServer &server)
    {
        qint64 covered = 0;
        for (const Request &r : std::as_const(server.requests)) {
            const QJsonObject json = r.json();
            if (r.path.startsWith(kPages) && r.method != "GET") {
                if (json.value(QStringLiteral("first")).toInteger() != covered
                    || json.value(QStringLiteral("batchId")).toString() != QStringLiteral("b1")
                    || json.value(QStringLiteral("request")).toObject().value(QStringLiteral("objectId")).toString() != QStringLiteral("req1")
                    || json.value(QStringLiteral("ACL")).toObject().keys() != QStringList{QStringLiteral("u1")}
                    || json.value(QStringLiteral("items")).toArray().size() != json.value(QStringLiteral("end")).toInteger() - covered) {
                    qWarning() << "unexpected page after" << covered << ":" << r.body;
                    return -1;
                }
                covered = json.value(QStringLiteral("end")).toInteger();
            } else if (r.method == "PUT" && r.path == kRequest && json.value(QStringLiteral("processedCount")).toInteger() > covered) {
                qWarning() << "counts beyond the results written (" << covered << "):" << r.body;
                return -1;
            }
        }
        return covered;
    }

    // The results file the worker uploaded, read as a client would.
    static QList<ItemResult> resultsFile(const FakeHttpServer &server)
    {
        const QList<Request> uploads = server.requestsTo("POST", kResultsFile);
        if (uploads.size() != 1)
            return {};
        QByteArray text;
        QString error;
        if (!GzipCodec::decompress(uploads.first().body, &text, &error))
            return {};
        QList<ItemResult> results;
        for (const QByteArray &line : text.split('\n')) {
            ItemResult r;
            if (!line.isEmpty() && ItemResult::fromJson(QJsonDocument::fromJson(line).object(), &r))
                results.append(r);
        }
        return results;
    }

    static QByteArray numberedItems(int count)
    {
        QByteArray items = "[";
        for (int i = 0; i < count; ++i)
            items += (i ? "," : "") + QByteArray("{\"content\":\"memory ") + QByteArray::number(i) + "\"}";
        return items + "]";
    }

    void aRetriedAttemptResumesAfterTheRecordedProgress()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        // Attempt 1 recorded items 0 and 1 (1 stored, 1 refused) before it died.
        const QJsonArray errors{QJsonObject{{QStringLiteral("index"), 1}, {QStringLiteral("error"), QStringLiteral("refused")}}};
        serveRequest(fakes.http, GzipCodec::compress(numberedItems(5)), 5, QStringLiteral("req1"), QStringLiteral("b1"),
                     {{QStringLiteral("status"), QStringLiteral("processing")}, {QStringLiteral("processedCount"), 2},
                      {QStringLiteral("successCount"), 1}, {QStringLiteral("failCount"), 1}, {QStringLiteral("errors"), errors}});
        // ...and the page of their results, before the counts; it had begun
        // another page, beyond the counts, that this attempt writes again.
        const auto page = [](qint64 first, const QJsonArray &items) {
            return QJsonObject{{QStringLiteral("objectId"), ResultsRecorder::pageObjectId(kIdKey, QStringLiteral("req1"), first)},
                               {QStringLiteral("first"), first}, {QStringLiteral("end"), first + items.size()}, {QStringLiteral("items"), items}};
        };
        const QString id0 = BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), 0);
        serveResults(fakes.http, {page(0, {QJsonObject{{QStringLiteral("index"), 0}, {QStringLiteral("memoryId"), id0}},
                                           QJsonObject{{QStringLiteral("index"), 1}, {QStringLiteral("error"), QStringLiteral("refused")}}}),
                                  page(2, {QJsonObject{{QStringLiteral("index"), 2}, {QStringLiteral("error"), QStringLiteral("stale")}}})});
        serveTemporalHttp(fakes.http);
        PollResponse task = activityTask();
        task.set_attempt(2);
        fakes.grpc.queue(task);
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(2));
        QVERIFY(runOneTask(worker));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));

        QCOMPARE(sentIndexes(fakes.http), (QList<qint64>{2, 3, 4}));
        // The results file holds attempt 1's results (read back from its
        // pages), then this one's.
        QVERIFY(!fakes.http.requestsTo("GET", kPages).isEmpty());
        const QList<ItemResult> results = resultsFile(fakes.http);
        QCOMPARE(results.size(), 5);
        QCOMPARE(results.at(0).memoryId, id0);
        QCOMPARE(results.at(1).error, QStringLiteral("refused"));
        for (qint64 i = 2; i < 5; ++i)
            QCOMPARE(results.at(i).memoryId, BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), i));
        const QJsonObject final = fakes.http.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("partial_failure"));
        QCOMPARE(final.value(QStringLiteral("processedCount")).toInt(), 5);
        QCOMPARE(final.value(QStringLiteral("successCount")).toInt(), 4);
        QCOMPARE(final.value(QStringLiteral("failCount")).toInt(), 1);
        QCOMPARE(final.value(QStringLiteral("errors")).toArray(), errors);
    }

    void recordsEachItemsResultBeforeTheCountsThatCoverIt()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        const QByteArray items = "[{\"content\":\"a\",\"customId\":\"c0\"},{\"content\":\"\",\"customId\":\"c1\"},"
                                 "{\"content\":\"b\"},{\"content\":\"c\",\"customId\":\"c3\"}]";
        serve(fakes, GzipCodec::compress(items), 4);
        FakeHttpServer &server = fakes.http;
        // Parse refuses item 3 (say, a validation of its own).
        server.on("POST", kBatch, [](const Request &r) {
            const QJsonObject body = r.json().value(QStringLiteral("requests")).toArray().first().toObject().value(QStringLiteral("body")).toObject();
            if (body.value(QStringLiteral("index")).toInteger() == 3)
                return Response::raw(200, "[{\"error\":{\"code\":142,\"error\":\"no c\"}}]");
            return storedAll(r);
        });
        WorkerOptions options = oneTask(1);
        options.progressIntervalMs = 20;
        WorkerJob worker(&m_nam, fakes.settings(), options);
        QVERIFY(runOneTask(worker));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));

        // Whenever counts are written, the results they cover are already there.
        QCOMPARE(resultsCoverTheCounts(server), 4);

        // When it ends, all of them in one file, named on the request: made
        // from what this attempt recorded, without reading its pages back.
        QVERIFY(server.requestsTo("GET", kPages).isEmpty());
        const QJsonObject final = server.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("partial_failure"));
        const QJsonObject file = final.value(QStringLiteral("resultsFile")).toObject();
        QCOMPARE(file.value(QStringLiteral("__type")).toString(), QStringLiteral("File"));
        QVERIFY(file.value(QStringLiteral("url")).toString().endsWith(QStringLiteral("_results.jsonl.gz")));
        const QList<ItemResult> results = resultsFile(server);
        QCOMPARE(results.size(), 4);
        QCOMPARE(results.at(0), (ItemResult{0, QStringLiteral("c0"), BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), 0), {}}));
        QCOMPARE(results.at(1).customId, QStringLiteral("c1"));
        QVERIFY2(results.at(1).error.contains(QStringLiteral("'content'")), qPrintable(results.at(1).error));
        QCOMPARE(results.at(2), (ItemResult{2, {}, BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), 2), {}}));
        QCOMPARE(results.at(3).customId, QStringLiteral("c3"));
        QVERIFY2(results.at(3).error.contains(QStringLiteral("no c (code 142)")), qPrintable(results.at(3).error));
    }

    // A request that has ended, with a webhook to the fake server's /hook,
    // kept as Parse would (a PUT changes what the next GET sees), and one
    // deliver_batch_webhook task for each attempt Temporal would make.
    static void serveEndedRequestWithWebhook(Fakes &fakes, const QString &hookUrl, const QByteArray &secret, int tasks = 1)
    {
        serveRequest(fakes.http, {}, 3, QStringLiteral("req1"), QStringLiteral("b1"));
        auto request = std::make_shared<QJsonObject>(QJsonObject{
            {QStringLiteral("objectId"), QStringLiteral("req1")}, {QStringLiteral("batchId"), QStringLiteral("b1")},
            {QStringLiteral("status"), QStringLiteral("partial_failure")}, {QStringLiteral("totalMemories"), 3},
            {QStringLiteral("processedCount"), 3}, {QStringLiteral("successCount"), 2}, {QStringLiteral("failCount"), 1},
            {QStringLiteral("completedAt"), ParseClient::date(QDateTime::fromSecsSinceEpoch(1764590400, Qt::UTC))},
            {QStringLiteral("webhookUrl"), hookUrl}, {QStringLiteral("webhookSecret"), QString::fromLatin1(secret)}});
        fakes.http.on("GET", kRequest, [request](const Request &) { return Response::json(200, *request); });
        fakes.http.on("PUT", kRequest, [request](const Request &r) {
            const QJsonObject fields = r.json();
            for (auto it = fields.begin(); it != fields.end(); ++it)
                request->insert(it.key(), it.value());
            return Response::json(200, {});
        });
        serveTemporalHttp(fakes.http);
        for (int attempt = 1; attempt <= tasks; ++attempt) {
            PollResponse task = activityTask("token", QStringLiteral("req1"), QStringLiteral("b1"), QStringLiteral("deliver_batch_webhook"));
            task.set_attempt(attempt);
            fakes.grpc.queue(task);
        }
    }

    static WorkerOptions webhookOptions(int attempts, int tasks, bool allowPrivate = true)
    {
        WorkerOptions options = oneTask(1);
        options.maxTasks = tasks;
        options.concurrency = 1;
        options.pollers = 1;
        options.webhookAttempts = attempts;
        options.webhookBackoffMs = 10;
        options.webhookAllowPrivate = allowPrivate;
        return options;
    }

    static QJsonObject applicationFailure(const Request &fail)
    {
        return fail.json().value(QStringLiteral("failure")).toObject().value(QStringLiteral("applicationFailureInfo")).toObject();
    }

    void deliversASignedWebhookUntilTheReceiverTakesIt()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        const QByteArray secret = WebhookSignature::generateSecret();
        serveEndedRequestWithWebhook(fakes, fakes.http.url(QStringLiteral("/hook")).toString(), secret, 3);
        int calls = 0;
        fakes.http.on("POST", QStringLiteral("/hook"), [&calls](const Request &) {
            return ++calls < 3 ? Response::raw(500, "down for a moment") : Response::raw(204, {});
        });
        WorkerJob worker(&m_nam, fakes.settings(), webhookOptions(5, 3));
        QVERIFY(runOneTask(worker));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));

        // Three deliveries of one message, one an attempt, each signed over
        // its exact bytes with its own timestamp.
        const QList<Request> hooks = fakes.http.requestsTo("POST", QStringLiteral("/hook"));
        QCOMPARE(hooks.size(), 3);
        for (const Request &hook : hooks) {
            QCOMPARE(hook.headers.value("webhook-id"), QByteArray("msg_req1"));
            QCOMPARE(hook.headers.value("content-type"), QByteArray("application/json"));
            QCOMPARE(hook.headers.value("host"), fakes.http.url().authority().toLatin1());
            QCOMPARE(hook.body, hooks.first().body);
            const auto verdict = WebhookSignature::verify(secret, hook.headers.value("webhook-id"), hook.headers.value("webhook-timestamp"),
                                                          hook.headers.value("webhook-signature"), hook.body);
            QVERIFY2(verdict == WebhookSignature::Verdict::Valid, qPrintable(WebhookSignature::describe(verdict)));
            QVERIFY(!hook.body.contains(secret.mid(6)));
        }
        const QJsonObject body = hooks.first().json();
        QCOMPARE(body.value(QStringLiteral("type")).toString(), QStringLiteral("batch.partial_failure"));
        QCOMPARE(body.value(QStringLiteral("timestamp")).toString(), QStringLiteral("2025-12-01T12:00:00.000Z"));
        const QJsonObject data = body.value(QStringLiteral("data")).toObject();
        QCOMPARE(data.value(QStringLiteral("batch_id")).toString(), QStringLiteral("b1"));
        QCOMPARE(data.value(QStringLiteral("total")).toInt(), 3);
        QCOMPARE(data.value(QStringLiteral("successful")).toInt(), 2);
        QCOMPARE(data.value(QStringLiteral("failed")).toInt(), 1);

        // The two failures go back to Temporal with the wait before the
        // next (10 ms, then 4 times that): no slot is held meanwhile.
        const QList<Request> fails = fakes.http.requestsTo("POST", kFail);
        QCOMPARE(fails.size(), 2);
        QCOMPARE(applicationFailure(fails.at(0)).value(QStringLiteral("type")).toString(), QStringLiteral("WebhookNotDelivered"));
        QCOMPARE(applicationFailure(fails.at(0)).value(QStringLiteral("nextRetryDelay")).toString(), QStringLiteral("0.010s"));
        QCOMPARE(applicationFailure(fails.at(1)).value(QStringLiteral("nextRetryDelay")).toString(), QStringLiteral("0.040s"));
        QVERIFY(!saysNonRetryable(fails.at(0).json().value(QStringLiteral("failure")).toObject()));

        // Every attempt recorded on the request, then that it went out.
        const QList<Request> puts = fakes.http.requestsTo("PUT", kRequest);
        QCOMPARE(puts.size(), 3);
        QCOMPARE(puts.at(0).json().value(QStringLiteral("webhookAttempts")).toInt(), 1);
        QVERIFY(puts.at(0).json().value(QStringLiteral("webhookLastError")).toString().contains(QStringLiteral("HTTP 500: down for a moment")));
        QCOMPARE(puts.at(1).json().value(QStringLiteral("webhookAttempts")).toInt(), 2);
        const QJsonObject sent = puts.at(2).json();
        QCOMPARE(sent.value(QStringLiteral("webhookSent")).toBool(), true);
        QCOMPARE(sent.value(QStringLiteral("webhookAttempts")).toInt(), 3);
        QVERIFY(sent.value(QStringLiteral("webhookSentAt")).toObject().contains(QStringLiteral("iso")));
        const QJsonObject result = fakes.http.requestsTo("POST", kComplete).first().json().value(QStringLiteral("result")).toArray().first().toObject();
        QCOMPARE(result.value(QStringLiteral("sent")).toBool(), true);
        // Nothing of the secret in what Temporal sees.
        for (const Request &r : std::as_const(fakes.http.requests))
            if (r.path.startsWith(QStringLiteral("/api/")))
                QVERIFY(!r.body.contains(secret.mid(6)));
    }

    void aWebhookThatKeepsFailingIsGivenUpAndSaysWhy()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serveEndedRequestWithWebhook(fakes, fakes.http.url(QStringLiteral("/hook")).toString(), WebhookSignature::generateSecret(), 3);
        fakes.http.on("POST", QStringLiteral("/hook"), Response::raw(503, "no"));
        WorkerJob worker(&m_nam, fakes.settings(), webhookOptions(3, 3));
        QVERIFY(runOneTask(worker));
        QCOMPARE(fakes.http.requestsTo("POST", QStringLiteral("/hook")).size(), 3);
        QCOMPARE(fakes.http.requestsTo("POST", kFail).size(), 2);
        const QJsonObject last = fakes.http.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(last.value(QStringLiteral("webhookSent")).toBool(true), false);
        QCOMPARE(last.value(QStringLiteral("webhookAttempts")).toInt(), 3);
        QVERIFY2(last.value(QStringLiteral("webhookLastError")).toString().contains(QStringLiteral("HTTP 503")),
                 qPrintable(last.value(QStringLiteral("webhookLastError")).toString()));
        // The batch's run is not failed for it: the last attempt completes, saying so.
        const QJsonObject result = fakes.http.requestsTo("POST", kComplete).first().json().value(QStringLiteral("result")).toArray().first().toObject();
        QCOMPARE(result.value(QStringLiteral("sent")).toBool(true), false);
    }

    // A submission of three chunks (p-001 to p-003, requests req1 to req3)
    // of user alice, kept as Parse would: the chunks' requests, the query
    // for a parent's chunks (by parentBatchId and user, as asked), and the
    // claim class, where a second create of one objectId is 137.
    static QJsonObject chunkRequest(const QString &id, int number, const QString &status, int total, int success, int fail,
                                    const QString &user, const QString &hookUrl, const QByteArray &secret)
    {
        return {{QStringLiteral("objectId"), id},
                {QStringLiteral("batchId"), QStringLiteral("p-%1").arg(number, 3, 10, QLatin1Char('0'))},
                {QStringLiteral("parentBatchId"), QStringLiteral("p")},
                {QStringLiteral("status"), status},
                {QStringLiteral("totalMemories"), total},
                {QStringLiteral("processedCount"), success + fail},
                {QStringLiteral("successCount"), success},
                {QStringLiteral("failCount"), fail},
                {QStringLiteral("user"), ParseClient::pointer(QStringLiteral("_User"), user)},
                {QStringLiteral("batchMetadata"), QJsonObject{{QStringLiteral("chunk_num"), number}, {QStringLiteral("total_chunks"), 3},
                                                              {QStringLiteral("submission_memory_count"), 25}}},
                {QStringLiteral("startedAt"), ParseClient::date(QDateTime::fromSecsSinceEpoch(1764590000 + number, Qt::UTC))},
                {QStringLiteral("completedAt"), ParseClient::date(QDateTime::fromSecsSinceEpoch(1764590400 + number, Qt::UTC))},
                {QStringLiteral("webhookUrl"), hookUrl},
                {QStringLiteral("webhookSecret"), QString::fromLatin1(secret)}};
    }
    static Submission serveSubmission(Fakes &fakes, const QString &hookUrl, const QByteArray &secret, const QString &lastStatus)
    {
        Submission sub;
        auto &requests = *sub.requests;
        requests.insert(QStringLiteral("req1"), chunkRequest(QStringLiteral("req1"), 1, QStringLiteral("completed"), 10, 10, 0, QStringLiteral("alice"), hookUrl, secret));
        requests.insert(QStringLiteral("req2"), chunkRequest(QStringLiteral("req2"), 2, QStringLiteral("partial_failure"), 10, 8, 2, QStringLiteral("alice"), hookUrl, secret));
        requests.insert(QStringLiteral("req3"), chunkRequest(QStringLiteral("req3"), 3, lastStatus, 5, 5, 0, QStringLiteral("alice"), hookUrl, secret));
        const QString cls = QStringLiteral("/parse/classes/BatchMemoryRequest");
        auto store = sub.requests;
        fakes.http.on("GET", cls + QLatin1Char('/'), [store, cls](const Request &r) {
            const QString id = r.path.mid(cls.size() + 1);
            return store->contains(id) ? Response::json(200, store->value(id))
                                       : Response::json(404, {{QStringLiteral("code"), 101}, {QStringLiteral("error"), QStringLiteral("Object not found.")}});
        });
        fakes.http.on("PUT", cls + QLatin1Char('/'), [store, cls](const Request &r) {
            QJsonObject &o = (*store)[r.path.mid(cls.size() + 1)];
            const QJsonObject fields = r.json();
            for (auto it = fields.begin(); it != fields.end(); ++it)
                o.insert(it.key(), it.value());
            return Response::json(200, {});
        });
        fakes.http.on("GET", cls, [store](const Request &r) {
            const QUrlQuery query(r.query);
            const QJsonObject where = QJsonDocument::fromJson(query.queryItemValue(QStringLiteral("where"), QUrl::FullyDecoded).toUtf8()).object();
            const QJsonArray notIn = where.value(QStringLiteral("status")).toObject().value(QStringLiteral("$nin")).toArray();
            QJsonArray results;
            for (const QJsonObject &o : std::as_const(*store)) {
                if (o.value(QStringLiteral("parentBatchId")) != where.value(QStringLiteral("parentBatchId"))
                    || o.value(QStringLiteral("user")) != where.value(QStringLiteral("user")) || notIn.contains(o.value(QStringLiteral("status"))))
                    continue;
                QJsonObject shown = o;
                shown.remove(QStringLiteral("webhookSecret")); // not asked for (keys)
                results.append(shown);
            }
            if (query.queryItemValue(QStringLiteral("count")) == QLatin1String("1"))
                return Response::json(200, {{QStringLiteral("results"), QJsonArray()}, {QStringLiteral("count"), results.size()}});
            return Response::json(200, {{QStringLiteral("results"), results}});
        });
        const QString claims = QStringLiteral("/parse/classes/MembatchWebhookClaim");
        auto held = sub.claims;
        fakes.http.on("POST", claims, [held](const Request &r) {
            const QString id = r.json().value(QStringLiteral("objectId")).toString();
            if (held->contains(id))
                return Response::json(400, {{QStringLiteral("code"), 137}, {QStringLiteral("error"), QStringLiteral("A duplicate value for a field with unique values was provided")}});
            held->insert(id, r.json());
            return Response::json(201, {{QStringLiteral("objectId"), id}});
        });
        fakes.http.on("GET", claims + QLatin1Char('/'), [held, claims](const Request &r) {
            const QString id = r.path.mid(claims.size() + 1);
            return held->contains(id) ? Response::json(200, held->value(id))
                                      : Response::json(404, {{QStringLiteral("code"), 101}, {QStringLiteral("error"), QStringLiteral("Object not found.")}});
        });
        serveTemporalHttp(fakes.http);
        return sub;
    }

    void aSubmissionOfChunksGetsOneWebhook_data()
    {
        QTest::addColumn<QStringList>("tasks");      // the chunk requests whose webhook activity runs, at once
        QTest::addColumn<QString>("lastStatus");     // the status of p-003
        QTest::addColumn<QString>("claimedBy");      // a claim made before (empty: none)
        QTest::addColumn<bool>("otherUsersChunk");   // eve's request naming the same parent, still pending
        QTest::addColumn<int>("deliveries");
        QTest::newRow("the last chunk to end sends it") << QStringList{QStringLiteral("req3")} << QStringLiteral("completed") << QString() << false << 1;
        QTest::newRow("a chunk before the last sends nothing") << QStringList{QStringLiteral("req1")} << QStringLiteral("processing") << QString() << false << 0;
        QTest::newRow("the chunks sent so far have ended, one is yet to come") << QStringList{QStringLiteral("req2")} << QString() << QString() << false << 0;
        QTest::newRow("two chunks ending at once send one") << QStringList{QStringLiteral("req2"), QStringLiteral("req3")} << QStringLiteral("canceled") << QString() << false << 1;
        QTest::newRow("claimed by another chunk") << QStringList{QStringLiteral("req3")} << QStringLiteral("completed") << QStringLiteral("req2") << false << 0;
        QTest::newRow("claimed by this chunk before its worker died") << QStringList{QStringLiteral("req3")} << QStringLiteral("failed") << QStringLiteral("req3") << false << 1;
        QTest::newRow("another user's chunk under the same parent id counts for nothing") << QStringList{QStringLiteral("req3")} << QStringLiteral("completed") << QString() << true << 1;
    }

    void aSubmissionOfChunksGetsOneWebhook()
    {
        QFETCH(QStringList, tasks);
        QFETCH(QString, lastStatus);
        QFETCH(QString, claimedBy);
        QFETCH(bool, otherUsersChunk);
        QFETCH(int, deliveries);
        Fakes fakes;
        QVERIFY(fakes.listen());
        const QByteArray secret = WebhookSignature::generateSecret();
        const QString hookUrl = fakes.http.url(QStringLiteral("/hook")).toString();
        Submission sub = serveSubmission(fakes, hookUrl, secret, lastStatus);
        if (lastStatus.isEmpty())
            sub.requests->remove(QStringLiteral("req3"));
        const QString claimId = WebhookActivity::claimId(QStringLiteral("alice"), QStringLiteral("p"));
        if (!claimedBy.isEmpty())
            sub.claims->insert(claimId, {{QStringLiteral("objectId"), claimId}, {QStringLiteral("claimedBy"), claimedBy}});
        if (otherUsersChunk)
            sub.requests->insert(QStringLiteral("eve1"), chunkRequest(QStringLiteral("eve1"), 4, QStringLiteral("pending"), 1000, 0, 0,
                                                                      QStringLiteral("eve"), QStringLiteral("http://eve.example/"), secret));
        fakes.http.on("POST", QStringLiteral("/hook"), Response::raw(204, {}));
        for (const QString &id : std::as_const(tasks))
            fakes.grpc.queue(activityTask("token", id, sub.requests->value(id).value(QStringLiteral("batchId")).toString(),
                                          QStringLiteral("deliver_batch_webhook")));
        WorkerOptions options = webhookOptions(3, int(tasks.size()));
        options.concurrency = 2;
        WorkerJob worker(&m_nam, fakes.settings(), options);
        worker.setAutoDelete(false);
        QSignalSpy result(&worker, &Job::result);
        worker.start();
        QVERIFY(result.wait(20000));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));
        QCOMPARE(fakes.http.requestsTo("POST", kComplete).size(), tasks.size()); // every run of the activity completes

        const QList<Request> hooks = fakes.http.requestsTo("POST", QStringLiteral("/hook"));
        QCOMPARE(hooks.size(), deliveries);
        // Nothing ever recorded on the chunks but the first.
        for (const QString &id : {QStringLiteral("req2"), QStringLiteral("req3")})
            QVERIFY(!sub.requests->value(id).contains(QStringLiteral("webhookAttempts")));
        if (!deliveries) {
            QVERIFY(!sub.requests->value(QStringLiteral("req1")).contains(QStringLiteral("webhookSent")));
            // A chunk that is not the last counts; it does not read them all.
            if (claimedBy.isEmpty()) {
                for (const Request &r : fakes.http.requestsTo("GET", QStringLiteral("/parse/classes/BatchMemoryRequest")))
                    if (r.path == QLatin1String("/parse/classes/BatchMemoryRequest"))
                        QCOMPARE(QUrlQuery(r.query).queryItemValue(QStringLiteral("count")), QStringLiteral("1"));
            }
            QCOMPARE(sub.claims->size(), claimedBy.isEmpty() ? 0 : 1);
            return;
        }
        QCOMPARE(sub.claims->size(), 1);
        QCOMPARE(sub.claims->value(claimId).value(QStringLiteral("claimedBy")).toString().isEmpty(), false);
        const Request &hook = hooks.first();
        QCOMPARE(hook.headers.value("webhook-id"), QByteArray("msg_req1"));
        const auto verdict = WebhookSignature::verify(secret, hook.headers.value("webhook-id"), hook.headers.value("webhook-timestamp"),
                                                      hook.headers.value("webhook-signature"), hook.body);
        QVERIFY2(verdict == WebhookSignature::Verdict::Valid, qPrintable(WebhookSignature::describe(verdict)));
        const QJsonObject body = hook.json();
        // One chunk partly failed (and p-003 ended however it did): the submission partly failed.
        QCOMPARE(body.value(QStringLiteral("type")).toString(), QStringLiteral("batch.partial_failure"));
        QCOMPARE(body.value(QStringLiteral("timestamp")).toString(), QStringLiteral("2025-12-01T12:00:03.000Z")); // the last chunk's end
        const QJsonObject data = body.value(QStringLiteral("data")).toObject();
        QCOMPARE(data.value(QStringLiteral("status")).toString(), QStringLiteral("partial_failure"));
        QCOMPARE(data.value(QStringLiteral("batch_id")).toString(), QStringLiteral("p"));
        QCOMPARE(data.value(QStringLiteral("request_id")).toString(), QStringLiteral("req1"));
        QCOMPARE(data.value(QStringLiteral("chunks")).toInt(), 3);
        QCOMPARE(data.value(QStringLiteral("total")).toInt(), 25);
        QCOMPARE(data.value(QStringLiteral("processed")).toInt(), 25);
        QCOMPARE(data.value(QStringLiteral("successful")).toInt(), 23);
        QCOMPARE(data.value(QStringLiteral("failed")).toInt(), 2);
        QCOMPARE(data.value(QStringLiteral("started_at")).toString(), QStringLiteral("2025-12-01T11:53:21.000Z"));
        QCOMPARE(data.value(QStringLiteral("duration_ms")).toInteger(), 402000); // from the first start to the last end
        QVERIFY(!hook.body.contains(secret.mid(6)));
        // Recorded once, on the submission's first chunk.
        const QJsonObject first = sub.requests->value(QStringLiteral("req1"));
        QCOMPARE(first.value(QStringLiteral("webhookSent")).toBool(), true);
        QCOMPARE(first.value(QStringLiteral("webhookAttempts")).toInt(), 1);
        QVERIFY(first.value(QStringLiteral("webhookSentAt")).toObject().contains(QStringLiteral("iso")));
        // The secret went to no Temporal call.
        for (const Request &r : std::as_const(fakes.http.requests))
            if (r.path.startsWith(QStringLiteral("/api/")))
                QVERIFY(!r.body.contains(secret.mid(6)));
    }

    // The message is retried by the chunk that claimed it, recorded on the
    // first chunk, and given up once.
    void aSubmissionsFailingReceiverIsGivenUpOnce()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        const QByteArray secret = WebhookSignature::generateSecret();
        Submission sub = serveSubmission(fakes, fakes.http.url(QStringLiteral("/hook")).toString(), secret, QStringLiteral("completed"));
        fakes.http.on("POST", QStringLiteral("/hook"), Response::raw(503, "no"));
        for (int attempt = 1; attempt <= 3; ++attempt) {
            PollResponse task = activityTask("token", QStringLiteral("req3"), QStringLiteral("p-003"), QStringLiteral("deliver_batch_webhook"));
            task.set_attempt(attempt);
            fakes.grpc.queue(task);
        }
        // And later another chunk's run (a retried chunk, say): nothing more.
        fakes.grpc.queue(activityTask("token", QStringLiteral("req2"), QStringLiteral("p-002"), QStringLiteral("deliver_batch_webhook")));
        WorkerJob worker(&m_nam, fakes.settings(), webhookOptions(3, 4));
        QVERIFY(runOneTask(worker));
        const QList<Request> hooks = fakes.http.requestsTo("POST", QStringLiteral("/hook"));
        QCOMPARE(hooks.size(), 3);
        for (const Request &hook : hooks) {
            QCOMPARE(hook.headers.value("webhook-id"), QByteArray("msg_req1"));
            QCOMPARE(hook.body, hooks.first().body);
        }
        QCOMPARE(fakes.http.requestsTo("POST", kFail).size(), 2);
        const QList<Request> puts = fakes.http.requestsTo("PUT", QStringLiteral("/parse/classes/BatchMemoryRequest/"));
        QCOMPARE(puts.size(), 3);
        for (const Request &put : puts)
            QCOMPARE(put.path, QStringLiteral("/parse/classes/BatchMemoryRequest/req1"));
        const QJsonObject first = sub.requests->value(QStringLiteral("req1"));
        QCOMPARE(first.value(QStringLiteral("webhookSent")).toBool(true), false);
        QCOMPARE(first.value(QStringLiteral("webhookAttempts")).toInt(), 3);
        QVERIFY2(first.value(QStringLiteral("webhookLastError")).toString().contains(QStringLiteral("HTTP 503")),
                 qPrintable(first.value(QStringLiteral("webhookLastError")).toString()));
        const QList<Request> completes = fakes.http.requestsTo("POST", kComplete);
        QCOMPARE(completes.size(), 2);
        QCOMPARE(completes.last().json().value(QStringLiteral("result")).toArray().first().toObject().value(QStringLiteral("reason")).toString(),
                 QStringLiteral("another chunk of the submission delivers it"));
    }

    void aWebhookIntoTheWorkersOwnNetworksIsNotCalled()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serveEndedRequestWithWebhook(fakes, fakes.http.url(QStringLiteral("/hook")).toString(), WebhookSignature::generateSecret());
        WorkerJob worker(&m_nam, fakes.settings(), webhookOptions(3, 1, false));
        QVERIFY(runOneTask(worker));
        QVERIFY(fakes.http.requestsTo("POST", QStringLiteral("/hook")).isEmpty());
        const QJsonObject last = fakes.http.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(last.value(QStringLiteral("webhookSent")).toBool(true), false);
        QVERIFY2(last.value(QStringLiteral("webhookLastError")).toString().contains(QStringLiteral("an address of the worker's own networks")),
                 qPrintable(last.value(QStringLiteral("webhookLastError")).toString()));
    }

    // A receiver is anybody's: it gets a deadline for the whole exchange and
    // a bound on its headers, which Qt's HTTP stack does not give.
    void aReceiverIsHeldToItsLimits_data()
    {
        QTest::addColumn<QByteArray>("answer"); // empty: never answers
        QTest::addColumn<int>("status");
        QTest::addColumn<QString>("error");
        QTest::newRow("silent") << QByteArray() << 0 << QStringLiteral("no complete answer within 0.3 s");
        QTest::newRow("endless headers") << QByteArray("HTTP/1.1 200 OK\r\nX-Junk: ") + QByteArray(40000, 'a') << 0
                                         << QStringLiteral("more than 16 KiB of headers");
        QTest::newRow("not HTTP") << QByteArray("SSH-2.0-OpenSSH\r\n\r\n") << 0 << QStringLiteral("not HTTP");
        QTest::newRow("an answer") << QByteArray("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy") << 503 << QString();
        QTest::newRow("continue, then the answer") << QByteArray("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n") << 204 << QString();
    }

    void aReceiverIsHeldToItsLimits()
    {
        QFETCH(QByteArray, answer);
        QFETCH(int, status);
        QFETCH(QString, error);
        QTcpServer receiver;
        QVERIFY(receiver.listen(QHostAddress::LocalHost));
        QByteArray received;
        connect(&receiver, &QTcpServer::newConnection, this, [&] {
            QTcpSocket *socket = receiver.nextPendingConnection();
            connect(socket, &QTcpSocket::readyRead, socket, [socket, &received, answer] {
                received += socket->readAll();
                if (received.contains("\r\n\r\n{}") && !answer.isEmpty())
                    socket->write(answer);
            });
        });
        const QUrl url(QStringLiteral("http://127.0.0.1:%1/hook?x=1").arg(receiver.serverPort()));
        WebhookSender::Limits limits;
        limits.deadlineMs = 300;
        WebhookSender sender(url, QHostAddress::LocalHost, {{"webhook-id", "msg_1"}}, "{}", limits);
        QSignalSpy finished(&sender, &WebhookSender::finished);
        sender.start();
        QVERIFY(finished.wait(5000));
        QCOMPARE(finished.first().at(0).toInt(), status);
        QVERIFY2(finished.first().at(1).toString().contains(error), qPrintable(finished.first().at(1).toString()));
        QVERIFY2(received.startsWith("POST /hook?x=1 HTTP/1.1\r\nHost: 127.0.0.1:"), received.constData());
        QVERIFY(received.contains("webhook-id: msg_1\r\n"));
        QVERIFY(received.contains("Connection: close\r\n"));
    }

    void internalAddresses_data()
    {
        QTest::addColumn<QString>("address");
        QTest::addColumn<bool>("internal");
        for (const char *a : {"127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                              "224.0.0.1", "255.255.255.255", "::1", "::", "fd00::1", "fe80::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1",
                              "64:ff9b::a00:1"})
            QTest::newRow(a) << QString::fromLatin1(a) << true;
        for (const char *a : {"8.8.8.8", "172.32.0.1", "192.169.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"})
            QTest::newRow(a) << QString::fromLatin1(a) << false;
    }

    void internalAddresses()
    {
        QFETCH(QString, address);
        QFETCH(bool, internal);
        QCOMPARE(WebhookActivity::isInternal(QHostAddress(address)), internal);
    }

    void keepsSeveralGroupsInFlight()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(numberedItems(10)), 10);
        FakeHttpServer &server = fakes.http;
        // No call is answered before three are on their way at once.
        bool together = true;
        server.on("POST", kBatch, [&server, &together](const Request &r) {
            together = together && QTest::qWaitFor([&server] { return server.requestsTo("POST", kBatch).size() >= 3; }, 10000);
            return storedAll(r);
        });
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(2, 3));
        QVERIFY(runOneTask(worker));
        QVERIFY(together);
        QList<qint64> sent = sentIndexes(server);
        std::sort(sent.begin(), sent.end());
        QCOMPARE(sent, (QList<qint64>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})); // each once
        QCOMPARE(server.requestsTo("POST", kBatch).size(), 5);
        const QJsonObject final = server.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("completed"));
        QCOMPARE(final.value(QStringLiteral("successCount")).toInt(), 10);
    }

    void countsAreWrittenOnATimerAndDescribeAPrefix()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(numberedItems(4)), 4);
        FakeHttpServer &server = fakes.http;
        // Call k (k > 1) waits for the counts of the k-1 items before it.
        bool written = true;
        server.on("POST", kBatch, [&server, &written](const Request &) {
            const qsizetype before = server.requestsTo("POST", kBatch).size() - 1;
            if (before > 0)
                written = written && QTest::qWaitFor([&server, before] {
                    for (const Request &put : server.requestsTo("PUT", kRequest))
                        if (put.json().value(QStringLiteral("processedCount")).toInteger() == before)
                            return true;
                    return false;
                }, 10000);
            return Response::raw(200, R"([{"success":{}}])");
        });
        WorkerOptions options = oneTask(1);
        options.progressIntervalMs = 20;
        WorkerJob worker(&m_nam, fakes.settings(), options);
        QVERIFY(runOneTask(worker));
        QVERIFY(written);
        qint64 last = 0;
        for (const Request &put : server.requestsTo("PUT", kRequest)) {
            const QJsonObject fields = put.json();
            if (!fields.contains(QStringLiteral("processedCount")))
                continue;
            const qint64 processed = fields.value(QStringLiteral("processedCount")).toInteger();
            QVERIFY(processed > last || fields.contains(QStringLiteral("status")));
            QCOMPARE(processed, fields.value(QStringLiteral("successCount")).toInteger() + fields.value(QStringLiteral("failCount")).toInteger());
            last = processed;
        }
        QCOMPARE(last, 4);
        QCOMPARE(resultsCoverTheCounts(server), 4);
        QVERIFY(server.requestsTo("POST", kPages).size() >= 3); // a page with every count
    }

    void aGroupTooLargeForParseIsHalvedDownToTheItem()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(numberedItems(4)), 4);
        FakeHttpServer &server = fakes.http;
        // This server takes less than the worker sends: any call with item 2 is too large.
        server.on("POST", kBatch, [](const Request &r) {
            for (const QJsonValue &v : r.json().value(QStringLiteral("requests")).toArray())
                if (v.toObject().value(QStringLiteral("body")).toObject().value(QStringLiteral("index")).toInteger() == 2)
                    return Response::json(413, {{QStringLiteral("error"), QStringLiteral("request entity too large")}});
            return storedAll(r);
        });
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(4));
        QVERIFY(runOneTask(worker));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));
        // [0..3] refused, [0,1] stored, [2,3] refused, [2] refused alone, [3] stored.
        QCOMPARE(sentIndexes(server), (QList<qint64>{0, 1, 2, 3, 0, 1, 2, 3, 2, 3}));
        const QJsonObject final = server.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("partial_failure"));
        QCOMPARE(final.value(QStringLiteral("successCount")).toInt(), 3);
        QCOMPARE(final.value(QStringLiteral("failCount")).toInt(), 1);
        const QJsonObject error = final.value(QStringLiteral("errors")).toArray().first().toObject();
        QCOMPARE(error.value(QStringLiteral("index")).toInt(), 2);
        QVERIFY2(error.value(QStringLiteral("error")).toString().contains(QStringLiteral("413")), qPrintable(error.value(QStringLiteral("error")).toString()));
    }

    void aDuplicateIdThatIsNotThisItemIsAConflictNotAStore()
    {
        // Someone else's object holds the id (a forgery, or a bug): the item
        // is not counted as stored, and says why.
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(R"([{"content":"a"},{"content":"b"}])"), 2);
        FakeHttpServer &server = fakes.http;
        server.on("POST", kBatch, Response::raw(200, R"([{"success":{}},{"error":{"code":137,"error":"A duplicate value"}}])"));
        server.on("GET", kMemories, Response::json(200, {{QStringLiteral("results"), QJsonArray{QJsonObject{
            {QStringLiteral("objectId"), BatchActivity::memoryObjectId(kIdKey, QStringLiteral("req1"), 1)},
            {QStringLiteral("index"), 1},
            {QStringLiteral("request"), ParseClient::pointer(QStringLiteral("BatchMemoryRequest"), QStringLiteral("someone-elses"))}}}}}));
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QVERIFY(runOneTask(worker));
        const QJsonObject final = server.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("partial_failure"));
        QCOMPARE(final.value(QStringLiteral("successCount")).toInt(), 1);
        const QJsonObject error = final.value(QStringLiteral("errors")).toArray().first().toObject();
        QCOMPARE(error.value(QStringLiteral("index")).toInt(), 1);
        QVERIFY2(error.value(QStringLiteral("error")).toString().contains(QStringLiteral("conflict")), qPrintable(error.value(QStringLiteral("error")).toString()));
    }

    void aGzipBombStopsAtTheSizeItsRequestDeclares()
    {
        // An array opened, then spaces: valid JSON as far as it goes, and it
        // goes as far as the attacker likes. 8 MiB of them gzip to 8 KiB.
        const QByteArray bomb = GzipCodec::compress("[" + QByteArray(8 * 1024 * 1024, ' '));
        Fakes fakes;
        QVERIFY(fakes.listen());
        serveRequest(fakes.http, bomb, 1, QStringLiteral("req1"), QStringLiteral("b1"),
                     {{QStringLiteral("batchMetadata"), QJsonObject{{QStringLiteral("total_size_bytes"), 1000}}}});
        serveTemporalHttp(fakes.http);
        fakes.grpc.queue(activityTask("token", QStringLiteral("req1"), QStringLiteral("b1"), kActivity));
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QVERIFY(runOneTask(worker));
        const QJsonObject final = fakes.http.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("failed"));
        const QString error = final.value(QStringLiteral("errors")).toArray().last().toObject().value(QStringLiteral("error")).toString();
        // The declared size and a little slack: far from the 8 MiB it would inflate to.
        QVERIFY2(error.contains(QStringLiteral("inflates past the limit of %1 bytes").arg(1000 + 64 * 1024)), qPrintable(error));
        QVERIFY(fakes.http.requestsTo("POST", kBatch).isEmpty());
        const QJsonObject failure = reportedFailure(fakes.http);
        QVERIFY(saysNonRetryable(failure));
    }

    void aFileElsewhereIsNotFetched()
    {
        // The worker takes a request's file only from its own Parse Server.
        Fakes fakes;
        QVERIFY(fakes.listen());
        FakeHttpServer elsewhere;
        QVERIFY(elsewhere.listen());
        elsewhere.on("GET", QStringLiteral("/f.gz"), Response::raw(200, GzipCodec::compress(R"([{"content":"a"}])")));
        serve(fakes, {}, 1);
        fakes.http.on("GET", kRequest, Response::json(200, {
            {QStringLiteral("objectId"), QStringLiteral("req1")}, {QStringLiteral("batchId"), QStringLiteral("b1")},
            {QStringLiteral("status"), QStringLiteral("pending")}, {QStringLiteral("totalMemories"), 1},
            {QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                                          {QStringLiteral("name"), QStringLiteral("f.gz")},
                                                          {QStringLiteral("url"), elsewhere.url(QStringLiteral("/f.gz")).toString()}}}}));
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QVERIFY(runOneTask(worker));
        QVERIFY(elsewhere.requestsTo("GET", QStringLiteral("/f.gz")).isEmpty());
        const QJsonObject failure = reportedFailure(fakes.http);
        QVERIFY2(failure.value(QStringLiteral("message")).toString().contains(QStringLiteral("is not on this Parse Server")),
                 qPrintable(failure.value(QStringLiteral("message")).toString()));
        QVERIFY(saysNonRetryable(failure));
    }

    // --- polling over gRPC ---------------------------------------------

    void pollsInParallelForTheConfiguredQueue()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        fakes.grpc.setHoldMs(60000); // nothing to do: polls stay in flight
        ConnectionSettings settings = fakes.settings();
        settings.temporalNamespace = QStringLiteral("ns1");
        settings.taskQueue = QStringLiteral("tq1");
        WorkerOptions options = oneTask(10);
        options.maxTasks = 0;
        options.concurrency = 2;
        options.pollers = 2;
        WorkerJob worker(&m_nam, settings, options);
        worker.setAutoDelete(false);
        worker.start();
        QTRY_COMPARE(fakes.grpc.inFlight(), 2);
        QCOMPARE(fakes.grpc.maxInFlight(), 2);
        const std::vector<FakeGrpcServer::Poll> polls = fakes.grpc.polls();
        QCOMPARE(int(polls.size()), 2);
        for (const FakeGrpcServer::Poll &poll : polls) {
            QCOMPARE(poll.ns, QStringLiteral("ns1"));
            QCOMPARE(poll.taskQueue, QStringLiteral("tq1"));
            QCOMPARE(poll.identity, QStringLiteral("tester"));
        }
        QVERIFY(!worker.isFinished());
        worker.kill();
        QTRY_COMPARE(fakes.grpc.cancelledPolls(), 2);
    }

    void runsTwoTasksAtOnce()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        FakeHttpServer &server = fakes.http;
        serveRequest(server, GzipCodec::compress(R"([{"content":"a"}])"), 1, QStringLiteral("req1"), QStringLiteral("b1"));
        serveRequest(server, GzipCodec::compress(R"([{"content":"b"}])"), 1, QStringLiteral("req2"), QStringLiteral("b2"));
        serveTemporalHttp(server);
        fakes.grpc.queue(activityTask("token", QStringLiteral("req1"), QStringLiteral("b1")));
        fakes.grpc.queue(activityTask("token2", QStringLiteral("req2"), QStringLiteral("b2")));
        // Each batch's group waits until the other's has come too: run one
        // after the other, they would never finish.
        auto bothStoring = [&server] {
            QSet<QString> batchIds;
            for (const Request &call : server.requestsTo("POST", kBatch))
                batchIds << call.json().value(QStringLiteral("requests")).toArray().first().toObject()
                                .value(QStringLiteral("body")).toObject().value(QStringLiteral("batchId")).toString();
            return batchIds == QSet<QString>{QStringLiteral("b1"), QStringLiteral("b2")};
        };
        bool together = false;
        server.on("POST", kBatch, answerWhen(bothStoring, Response::raw(200, R"([{"success":{}}])"), &together));

        WorkerOptions options = oneTask(10);
        options.maxTasks = 2;
        options.concurrency = 2;
        WorkerJob worker(&m_nam, fakes.settings(), options);
        QVERIFY(runOneTask(worker));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));
        QVERIFY(together);
        QSet<QString> tokens;
        for (const Request &complete : server.requestsTo("POST", kComplete))
            tokens << complete.json().value(QStringLiteral("taskToken")).toString();
        QCOMPARE(tokens, (QSet<QString>{kToken, QStringLiteral("dG9rZW4y")}));
        QCOMPARE(server.requestsTo("POST", kComplete).size(), 2);
        QCOMPARE(fakes.grpc.tasksHandedOut(), 2);
    }

    void aFirstPollThatCannotConnectFailsAtOnce()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        // A port where nothing listens: bound a moment ago, now free.
        QTcpServer gone;
        QVERIFY(gone.listen(QHostAddress::LocalHost));
        const QString address = QStringLiteral("127.0.0.1:%1").arg(gone.serverPort());
        gone.close();
        ConnectionSettings settings = settingsForFake(server);
        settings.temporalAddress = address;
        WorkerJob worker(&m_nam, settings, oneTask(10));
        worker.setAutoDelete(false);
        QSignalSpy result(&worker, &Job::result);
        worker.start();
        // At once: not after WorkerJob::OutageToleranceMs of retries.
        QVERIFY(result.wait(5000));
        QCOMPARE(worker.error(), int(Job::NetworkError));
        QVERIFY2(worker.errorString().contains(address), qPrintable(worker.errorString()));
        QVERIFY(server.requests.isEmpty());
    }

    void aFirstPollAgainstHttp1SaysSo()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        ConnectionSettings settings = settingsForFake(server);
        // The HTTP API's address where the gRPC frontend's belongs: the usual mistake.
        settings.temporalAddress = QStringLiteral("127.0.0.1:%1").arg(server.url().port());
        WorkerJob worker(&m_nam, settings, oneTask(10));
        worker.setAutoDelete(false);
        QSignalSpy result(&worker, &Job::result);
        worker.start();
        QVERIFY(result.wait(5000));
        QCOMPARE(worker.error(), int(Job::NetworkError));
        QVERIFY2(worker.errorString().contains(QStringLiteral("answers in HTTP/1, not gRPC")), qPrintable(worker.errorString()));
        QVERIFY2(worker.errorString().contains(settings.temporalAddress), qPrintable(worker.errorString()));
    }

    void ridesOutARestartOfTheServer()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        FakeHttpServer &server = fakes.http;
        serveRequest(server, GzipCodec::compress(R"([{"content":"a"}])"), 1);
        serveTemporalHttp(server);
        server.on("POST", kBatch, Response::raw(200, R"([{"success":{}}])"));
        s_pollFailures.storeRelaxed(0);
        s_previousHandler = qInstallMessageHandler(countPollFailures);
        const auto restoreHandler = qScopeGuard([] { qInstallMessageHandler(s_previousHandler); });

        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        worker.setAutoDelete(false);
        QStringList infos;
        connect(&worker, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QSignalSpy result(&worker, &Job::result);
        worker.start();
        // A first poll that answers (nothing to do), and the next one held...
        QTRY_VERIFY(fakes.grpc.emptyAnswers() >= 1);
        fakes.grpc.setHoldMs(60000);
        QTRY_COMPARE(fakes.grpc.inFlight(), 1);
        // ...when the server goes away; the worker polls into the void a few times.
        const int port = fakes.grpc.port();
        fakes.grpc.stop();
        QTRY_VERIFY_WITH_TIMEOUT(s_pollFailures.loadRelaxed() >= 3, 10000);
        QVERIFY(!worker.isFinished());
        QCOMPARE(result.count(), 0);

        // Back on the same port, with a task: the worker takes it.
        FakeGrpcServer restarted;
        QVERIFY(restarted.start(port));
        restarted.queue(activityTask());
        QVERIFY(result.wait(20000));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));
        QCOMPARE(infos.last(), QStringLiteral("batch b1: completed"));
        QCOMPARE(restarted.tasksHandedOut(), 1);
        QCOMPARE(restarted.polls().front().identity, QStringLiteral("tester"));
        QCOMPARE(server.requestsTo("POST", kComplete).size(), 1);
        QCOMPARE(server.requestsTo("POST", kComplete).first().json().value(QStringLiteral("taskToken")).toString(), kToken);
    }

    void killCancelsThePollsInFlight()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serveRequest(fakes.http, GzipCodec::compress(R"([{"content":"a"}])"), 1);
        serveTemporalHttp(fakes.http);
        fakes.grpc.setHoldMs(60000);
        WorkerOptions options = oneTask(10);
        options.maxTasks = 0;
        options.concurrency = 2;
        options.pollers = 2;
        WorkerJob worker(&m_nam, fakes.settings(), options);
        worker.setAutoDelete(false);
        QStringList infos;
        connect(&worker, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QSignalSpy result(&worker, &Job::result);
        worker.start();
        QTRY_COMPARE(fakes.grpc.inFlight(), 2);

        QVERIFY(worker.kill());
        QCOMPARE(result.count(), 1);
        QCOMPARE(worker.error(), int(Job::KilledError));
        QTRY_COMPARE(fakes.grpc.cancelledPolls(), 2);
        QCOMPARE(fakes.grpc.inFlight(), 0);
        // A task now finds no poll of this worker: none is left, none comes.
        fakes.grpc.queue(activityTask());
        drain();
        QCOMPARE(fakes.grpc.pollCount(), 2);
        QCOMPARE(fakes.grpc.tasksQueued(), 1);
        QVERIFY(infos.isEmpty());
        QVERIFY(fakes.http.requests.isEmpty());
        QCOMPARE(result.count(), 1);
    }

    void aTaskAnsweredAsTheWorkerIsKilledIsNotRun()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serveRequest(fakes.http, GzipCodec::compress(R"([{"content":"a"}])"), 1);
        serveTemporalHttp(fakes.http);
        fakes.grpc.setHoldMs(60000);
        WorkerOptions options = oneTask(10);
        options.maxTasks = 0;
        WorkerJob worker(&m_nam, fakes.settings(), options);
        worker.setAutoDelete(false);
        QStringList infos;
        connect(&worker, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        worker.start();
        QTRY_COMPARE(fakes.grpc.inFlight(), 2);

        // The server hands a task out; the worker is killed before its event
        // loop gets to the answer (this thread does not run it meanwhile).
        fakes.grpc.queue(activityTask());
        QVERIFY(fakes.grpc.waitForTasksHandedOut(1, 10000));
        QVERIFY(worker.kill());
        QTRY_COMPARE(fakes.grpc.cancelledPolls(), 1); // the other poll
        drain();
        QVERIFY2(infos.isEmpty(), qPrintable(infos.join(QLatin1Char('\n'))));
        QVERIFY(fakes.http.requests.isEmpty()); // the task never started
        QCOMPARE(fakes.grpc.pollCount(), 2);
    }

    void anInputItCannotReadFailsWithoutRetry()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serveTemporalHttp(fakes.http);
        PollResponse task = activityTask();
        (*task.mutable_input()->mutable_payloads(0)->mutable_metadata())["encoding"] = "binary/protobuf";
        fakes.grpc.queue(task);
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QVERIFY(runOneTask(worker));
        QCOMPARE(worker.error(), int(Job::NoError));

        const QList<Request> fails = fakes.http.requestsTo("POST", kFail);
        QCOMPARE(fails.size(), 1);
        QCOMPARE(fails.first().json().value(QStringLiteral("taskToken")).toString(), kToken);
        const QJsonObject failure = fails.first().json().value(QStringLiteral("failure")).toObject();
        QVERIFY2(failure.value(QStringLiteral("message")).toString().contains(QStringLiteral("binary/protobuf")),
                 qPrintable(failure.value(QStringLiteral("message")).toString()));
        QVERIFY(saysNonRetryable(failure));
        for (const Request &r : std::as_const(fakes.http.requests))
            QVERIFY2(!r.path.startsWith(QLatin1String("/parse")), qPrintable(r.path)); // Parse untouched
        QVERIFY(fakes.http.requestsTo("POST", kComplete).isEmpty());
    }

    void aRequestedCancelStopsAfterTheGroupInFlight()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(R"([{"content":"a"},{"content":"b"},{"content":"c"}])"), 3);
        FakeHttpServer &server = fakes.http;
        // The cancel is requested once the first group is on its way, and
        // that group is held up until the worker has heard of it (it sends
        // the next heartbeat only when the last one has been answered).
        int cancelAnswers = 0;
        server.on("POST", kHeartbeat, [&server, &cancelAnswers](const Request &) {
            if (server.requestsTo("POST", kBatch).isEmpty())
                return Response::json(200, {});
            ++cancelAnswers;
            return Response::json(200, {{QStringLiteral("cancelRequested"), true}});
        });
        bool heard = false;
        server.on("POST", kBatch, answerWhen([&cancelAnswers] { return cancelAnswers >= 2; },
                                             Response::raw(200, R"([{"success":{}}])"), &heard));
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(1));
        QStringList infos;
        connect(&worker, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QVERIFY(runOneTask(worker));
        QVERIFY(heard);
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));
        QVERIFY2(infos.last().contains(QStringLiteral("canceled after 1 of 3 memories")), qPrintable(infos.last()));

        QCOMPARE(server.requestsTo("POST", kBatch).size(), 1); // the group in flight, no more
        const QJsonObject final = server.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("canceled"));
        QCOMPARE(final.value(QStringLiteral("processedCount")).toInt(), 1);
        QCOMPARE(final.value(QStringLiteral("successCount")).toInt(), 1);
        QCOMPARE(final.value(QStringLiteral("failCount")).toInt(), 0);
        QVERIFY(final.contains(QStringLiteral("completedAt")));

        const QList<Request> cancels = server.requestsTo("POST", kCancel);
        QCOMPARE(cancels.size(), 1);
        QCOMPARE(cancels.first().json().value(QStringLiteral("taskToken")).toString(), kToken);
        QCOMPARE(cancels.first().json().value(QStringLiteral("identity")).toString(), QStringLiteral("tester"));
        const QJsonObject details = cancels.first().json().value(QStringLiteral("details")).toArray().first().toObject();
        QCOMPARE(details.value(QStringLiteral("status")).toString(), QStringLiteral("canceled"));
        QVERIFY(server.requestsTo("POST", kComplete).isEmpty());
        QVERIFY(server.requestsTo("POST", kFail).isEmpty());
    }

    void aCompletionThatFindsTemporalDownIsSentAgain()
    {
        Fakes fakes;
        QVERIFY(fakes.listen());
        serve(fakes, GzipCodec::compress(R"([{"content":"a"}])"), 1);
        FakeHttpServer &server = fakes.http;
        server.on("POST", kBatch, Response::raw(200, R"([{"success":{}}])"));
        int completes = 0;
        server.on("POST", kComplete, [&completes](const Request &) {
            if (++completes == 1)
                return Response::json(503, {{QStringLiteral("code"), 14}, {QStringLiteral("message"), QStringLiteral("unavailable")}});
            return Response::json(200, {});
        });
        WorkerJob worker(&m_nam, fakes.settings(), oneTask(10));
        QStringList infos;
        connect(&worker, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QVERIFY(runOneTask(worker));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));
        QCOMPARE(infos.last(), QStringLiteral("batch b1: completed"));
        const QList<Request> sent = server.requestsTo("POST", kComplete);
        QCOMPARE(sent.size(), 2);
        QCOMPARE(sent.at(1).body, sent.at(0).body); // the same report, again
        QCOMPARE(sent.at(1).json().value(QStringLiteral("taskToken")).toString(), kToken);
        // Reporting stops the heartbeats: none in the half second between the
        // two (bar one already on its way), where the timer would send five.
        int completesSeen = 0;
        int between = 0;
        for (const Request &r : std::as_const(server.requests)) {
            completesSeen += r.path == kComplete;
            between += completesSeen == 1 && r.path == kHeartbeat;
        }
        QVERIFY2(between <= 1, qPrintable(QString::number(between)));
        QVERIFY(server.requestsTo("POST", kFail).isEmpty());
    }
};

QTEST_GUILESS_MAIN(tst_WorkerJob)
#include "tst_workerjob.moc"
