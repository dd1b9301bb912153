// The reference worker (WorkerJob + BatchActivity) against a fake Parse +
// Temporal: what it writes, in what order, and how it fails.
#include "batchactivity.h"
#include "fakehttpserver.h"
#include "gzipcodec.h"
#include "workerjob.h"

#include <QJsonArray>
#include <QNetworkAccessManager>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QTest>
#include <QThreadPool>

using namespace membatch;
using Request = FakeHttpServer::Request;
using Response = FakeHttpServer::Response;

namespace {
const QString kPoll = QStringLiteral("/emulator/v1/namespaces/default/activity-tasks/poll");
const QString kRequest = QStringLiteral("/parse/classes/BatchMemoryRequest/req1");
const QString kHeartbeat = QStringLiteral("/api/v1/namespaces/default/activity-heartbeat");
const QString kComplete = QStringLiteral("/api/v1/namespaces/default/activity-complete");
const QString kFail = QStringLiteral("/api/v1/namespaces/default/activity-fail");
} // namespace

class tst_WorkerJob : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;

    // One task for request req1 of batch b1, whose file holds these items.
    static void serve(FakeHttpServer &server, const QByteArray &file, int totalMemories,
                      const QString &activityType = QStringLiteral("fetch_and_process_batch_memories"))
    {
        auto polls = std::make_shared<int>(0);
        server.on("POST", kPoll, [polls, activityType](const Request &) {
            if (++*polls > 1)
                return Response{200, "{}", {}, Response::Kind::Never}; // nothing more to do
            return Response::raw(200, QStringLiteral(R"({"taskToken":"dG9rZW4=","workflowExecution":{"workflowId":"batch-b1","runId":"r1"},)"
                                                     R"("activityId":"1","activityType":{"name":"%1"},"input":["req1","b1"],"attempt":1})")
                                          .arg(activityType).toUtf8());
        });
        const QJsonObject request{
            {QStringLiteral("objectId"), QStringLiteral("req1")},
            {QStringLiteral("batchId"), QStringLiteral("b1")},
            {QStringLiteral("status"), QStringLiteral("pending")},
            {QStringLiteral("totalMemories"), totalMemories},
            {QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                                          {QStringLiteral("name"), QStringLiteral("f.gz")},
                                                          {QStringLiteral("url"), server.url(QStringLiteral("/files/f.gz")).toString()}}},
            {QStringLiteral("user"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("Pointer")},
                                                 {QStringLiteral("className"), QStringLiteral("_User")},
                                                 {QStringLiteral("objectId"), QStringLiteral("u1")}}},
            {QStringLiteral("ACL"), QJsonObject{{QStringLiteral("u1"), QJsonObject{{QStringLiteral("read"), true}}}}},
        };
        server.on("GET", kRequest, Response::json(200, request));
        server.on("PUT", kRequest, Response::json(200, {}));
        server.on("GET", QStringLiteral("/files/f.gz"), Response::raw(200, file));
        server.on("POST", kHeartbeat, Response::json(200, {}));
        server.on("POST", kComplete, Response::json(200, {}));
        server.on("POST", kFail, Response::json(200, {}));
    }


    bool runOneTask(WorkerJob &worker)
    {
        worker.setAutoDelete(false);
        QSignalSpy result(&worker, &Job::result);
        worker.start();
        return result.wait(20000) && result.count() == 1;
    }

    static WorkerOptions oneTask(int groupSize)
    {
        WorkerOptions options;
        options.maxTasks = 1;
        options.progressEvery = groupSize;
        options.identity = QStringLiteral("tester");
        return options;
    }

private Q_SLOTS:
    void storesTheBatchAndReportsIt()
    {
        const QByteArray items = R"([{"content":"zero"},{"content":""},{"content":"two","tags":["t"]},{"content":"three"}])";
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server, GzipCodec::compress(items), 4);
        int batches = 0;
        server.on("POST", QStringLiteral("/parse/batch"), [&batches](const Request &) {
            // Item 3 was stored by an earlier attempt: Parse says 137.
            return ++batches == 1 ? Response::raw(200, R"([{"success":{"objectId":"x"}}])")
                                  : Response::raw(200, R"([{"success":{"objectId":"y"}},{"error":{"code":137,"error":"A duplicate value"}}])");
        });

        WorkerJob worker(&m_nam, settingsForFake(server), oneTask(2));
        QStringList infos;
        connect(&worker, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QVERIFY(runOneTask(worker));
        QVERIFY2(worker.error() == Job::NoError, qPrintable(worker.errorString()));
        QCOMPARE(infos.last(), QStringLiteral("batch b1: partial_failure"));

        // Memories go in groups through /batch, with fixed ids, the request's user and ACL.
        const QList<Request> batchCalls = server.requestsTo("POST", QStringLiteral("/parse/batch"));
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
                QCOMPARE(body.value(QStringLiteral("objectId")).toString(), BatchActivity::memoryObjectId(QStringLiteral("req1"), index));
                QCOMPARE(body.value(QStringLiteral("batchId")).toString(), QStringLiteral("b1"));
                QCOMPARE(body.value(QStringLiteral("request")).toObject().value(QStringLiteral("objectId")).toString(), QStringLiteral("req1"));
                QCOMPARE(body.value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString(), QStringLiteral("u1"));
                QCOMPARE(body.value(QStringLiteral("ACL")).toObject().keys(), QStringList{QStringLiteral("u1")});
            }
        }
        QCOMPARE(stored, (QList<qint64>{0, 2, 3})); // item 1 is invalid and never sent

        // The request: processing, counts after each group, then the final word.
        const QList<Request> puts = server.requestsTo("PUT", kRequest);
        QCOMPARE(puts.size(), 4);
        QCOMPARE(puts.at(0).json().value(QStringLiteral("status")).toString(), QStringLiteral("processing"));
        QVERIFY(puts.at(0).json().contains(QStringLiteral("startedAt")));
        QCOMPARE(puts.at(1).json(), QJsonObject({{QStringLiteral("processedCount"), 2}, {QStringLiteral("successCount"), 1}, {QStringLiteral("failCount"), 1}}));
        QCOMPARE(puts.at(2).json(), QJsonObject({{QStringLiteral("processedCount"), 4}, {QStringLiteral("successCount"), 3}, {QStringLiteral("failCount"), 1}}));
        const QJsonObject final = puts.at(3).json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("partial_failure"));
        QCOMPARE(final.value(QStringLiteral("processedCount")).toInt(), 4);
        QCOMPARE(final.value(QStringLiteral("successCount")).toInt(), 3);
        QCOMPARE(final.value(QStringLiteral("failCount")).toInt(), 1);
        QVERIFY(final.contains(QStringLiteral("completedAt")) && final.contains(QStringLiteral("processingDurationMs")));
        const QJsonObject error = final.value(QStringLiteral("errors")).toArray().first().toObject();
        QCOMPARE(error.value(QStringLiteral("index")).toInt(), 1);
        QVERIFY(error.value(QStringLiteral("error")).toString().contains(QStringLiteral("'content'")));

        // Temporal: a heartbeat per group, then the result.
        QCOMPARE(server.requestsTo("POST", kHeartbeat).size(), 2);
        QCOMPARE(server.requestsTo("POST", kHeartbeat).first().json().value(QStringLiteral("taskToken")).toString(), QStringLiteral("dG9rZW4="));
        const QJsonObject complete = server.requestsTo("POST", kComplete).first().json();
        QCOMPARE(complete.value(QStringLiteral("result")).toArray().first().toObject(),
                 QJsonObject({{QStringLiteral("status"), QStringLiteral("partial_failure")}, {QStringLiteral("total"), 4},
                              {QStringLiteral("successful"), 3}, {QStringLiteral("failed"), 1}}));
        QVERIFY(server.requestsTo("POST", kFail).isEmpty());
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
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server, file, total);
        WorkerJob worker(&m_nam, settingsForFake(server), oneTask(10));
        QVERIFY(runOneTask(worker));

        const QJsonObject final = server.requestsTo("PUT", kRequest).last().json();
        QCOMPARE(final.value(QStringLiteral("status")).toString(), QStringLiteral("failed"));
        const QJsonObject error = final.value(QStringLiteral("errors")).toArray().last().toObject();
        QCOMPARE(error.value(QStringLiteral("stage")).toString(), QStringLiteral("process"));
        QVERIFY2(error.value(QStringLiteral("error")).toString().contains(reason), qPrintable(error.value(QStringLiteral("error")).toString()));
        const QJsonObject failure = server.requestsTo("POST", kFail).first().json().value(QStringLiteral("failure")).toObject();
        QVERIFY(failure.value(QStringLiteral("message")).toString().contains(reason));
        QCOMPARE(failure.value(QStringLiteral("applicationFailureInfo")).toObject().value(QStringLiteral("nonRetryable")).toBool(), true);
        QVERIFY(server.requestsTo("POST", QStringLiteral("/parse/batch")).isEmpty());
        QVERIFY(server.requestsTo("POST", kComplete).isEmpty());
    }

    void aServerErrorIsLeftToTemporalsRetry()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server, GzipCodec::compress(R"([{"content":"x"}])"), 1);
        server.on("POST", QStringLiteral("/parse/batch"), Response::json(500, {{QStringLiteral("code"), 1}, {QStringLiteral("message"), QStringLiteral("Internal server error.")}}));
        WorkerJob worker(&m_nam, settingsForFake(server), oneTask(10));
        QVERIFY(runOneTask(worker));
        const QJsonObject failure = server.requestsTo("POST", kFail).first().json().value(QStringLiteral("failure")).toObject();
        QVERIFY(failure.value(QStringLiteral("message")).toString().contains(QStringLiteral("Internal server error.")));
        QVERIFY(!failure.value(QStringLiteral("applicationFailureInfo")).toObject().value(QStringLiteral("nonRetryable")).toBool());
        // The request stays processing for the next attempt: never marked failed.
        for (const Request &put : server.requestsTo("PUT", kRequest))
            QVERIFY(put.json().value(QStringLiteral("status")).toString() != QLatin1String("failed"));
    }

    void aLostTaskStopsWithoutReporting()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server, GzipCodec::compress(R"([{"content":"a"},{"content":"b"}])"), 2);
        server.on("POST", QStringLiteral("/parse/batch"), Response::raw(200, R"([{"success":{}}])"));
        server.on("POST", kHeartbeat, Response::json(404, {{QStringLiteral("code"), 5}, {QStringLiteral("message"), QStringLiteral("workflow execution already completed")}}));
        WorkerJob worker(&m_nam, settingsForFake(server), oneTask(1));
        QVERIFY(runOneTask(worker));
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/batch")).size(), 1); // stopped after the first group
        QVERIFY(server.requestsTo("POST", kComplete).isEmpty());
        QVERIFY(server.requestsTo("POST", kFail).isEmpty());
    }

    void refusesAnUnknownActivity()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server, {}, 0, QStringLiteral("something_else"));
        WorkerOptions options = oneTask(10);
        options.maxTasks = 0;
        WorkerJob worker(&m_nam, settingsForFake(server), options);
        worker.setAutoDelete(false);
        worker.start();
        QTRY_VERIFY(!server.requestsTo("POST", kFail).isEmpty());
        const QJsonObject failure = server.requestsTo("POST", kFail).first().json().value(QStringLiteral("failure")).toObject();
        QCOMPARE(failure.value(QStringLiteral("applicationFailureInfo")).toObject().value(QStringLiteral("type")).toString(), QStringLiteral("UnknownActivity"));
        QVERIFY(server.requestsTo("GET", kRequest).isEmpty());
        worker.kill();
    }

    void killFromAnInfoSlotStopsTheTask()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server, GzipCodec::compress(R"([{"content":"a"}])"), 1);
        WorkerOptions options = oneTask(10);
        options.maxTasks = 0;
        WorkerJob worker(&m_nam, settingsForFake(server), options);
        worker.setAutoDelete(false);
        connect(&worker, &Job::infoMessage, &worker, [&worker] { worker.kill(); });
        QSignalSpy result(&worker, &Job::result);
        worker.start();
        QTRY_COMPARE(result.count(), 1);
        QCOMPARE(worker.error(), int(Job::KilledError));
        QThreadPool::globalInstance()->waitForDone();
        bool drained = false;
        QMetaObject::invokeMethod(this, [&drained] { drained = true; }, Qt::QueuedConnection);
        QTRY_VERIFY(drained);
        QCOMPARE(server.requestsTo("POST", kPoll).size(), 1);
        QVERIFY(server.requestsTo("PUT", kRequest).isEmpty());
        QVERIFY(server.requestsTo("POST", QStringLiteral("/parse/batch")).isEmpty());
        QCOMPARE(result.count(), 1);
    }

    void memoryIdsAreStable()
    {
        const QString a = BatchActivity::memoryObjectId(QStringLiteral("req1"), 7);
        QCOMPARE(a, BatchActivity::memoryObjectId(QStringLiteral("req1"), 7));
        QVERIFY(a != BatchActivity::memoryObjectId(QStringLiteral("req1"), 8));
        QVERIFY(a != BatchActivity::memoryObjectId(QStringLiteral("req2"), 7));
        QCOMPARE(a.size(), 24);
        QVERIFY(QRegularExpression(QStringLiteral("^[0-9a-f]{24}$")).match(a).hasMatch());
    }
};

QTEST_GUILESS_MAIN(tst_WorkerJob)
#include "tst_workerjob.moc"
