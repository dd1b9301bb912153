// SubmitJob's flow against a fake Parse + Temporal: what it sends, in what
// order, how it retries a start, and that kill() really stops it.
#include "batchcodec.h"
#include "fakehttpserver.h"
#include "gzipcodec.h"
#include "submitjob.h"

#include <QNetworkAccessManager>
#include <QRandomGenerator>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThreadPool>

using namespace membatch;
using Response = FakeHttpServer::Response;

class tst_SubmitJob : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;
    QTemporaryDir m_dir;

    QString writeItems(const QString &name, int count)
    {
        QFile file(m_dir.filePath(name));
        if (!file.open(QIODevice::WriteOnly))
            return {};
        for (int i = 0; i < count; ++i)
            file.write(QStringLiteral("{\"content\":\"memory %1\",\"tags\":[\"t\"]}\n").arg(i).toUtf8());
        return file.fileName();
    }

    // A fake that answers like Parse and Temporal for one happy submit.
    static void serveParse(FakeHttpServer &server)
    {
        server.on("POST", QStringLiteral("/parse/login"),
                  Response::json(200, {{QStringLiteral("objectId"), QStringLiteral("u1")}, {QStringLiteral("sessionToken"), QStringLiteral("r:tok")}}));
        server.on("POST", QStringLiteral("/parse/files/"), [&server](const FakeHttpServer::Request &r) {
            const QString name = r.path.section(QLatin1Char('/'), -1);
            return Response::json(201, {{QStringLiteral("name"), QStringLiteral("abc_") + name},
                                        {QStringLiteral("url"), server.url(QStringLiteral("/parse/files/app/abc_") + name).toString()}});
        });
        server.on("POST", QStringLiteral("/parse/classes/BatchMemoryRequest"),
                  Response::json(201, {{QStringLiteral("objectId"), QStringLiteral("req1")}, {QStringLiteral("createdAt"), QStringLiteral("2026-11-25T12:00:00.000Z")}}));
        server.on("PUT", QStringLiteral("/parse/classes/BatchMemoryRequest/req1"), Response::json(200, {}));
        server.on("POST", QStringLiteral("/parse/logout"), Response::json(200, {}));
    }


    static QString startPath() { return QStringLiteral("/api/v1/namespaces/default/workflows/"); }

    bool run(SubmitJob &job)
    {
        QSignalSpy result(&job, &Job::result);
        job.start();
        return result.wait(20000) && result.count() == 1;
    }

    // Lets every queued call and thread-pool task run to its end.
    void drain()
    {
        QThreadPool::globalInstance()->waitForDone();
        bool drained = false;
        QMetaObject::invokeMethod(this, [&drained] { drained = true; }, Qt::QueuedConnection);
        QTRY_VERIFY(drained);
    }

    // The submitter acts as a user, never with the master key.
    static ConnectionSettings settingsFor(const FakeHttpServer &server)
    {
        ConnectionSettings s = settingsForFake(server);
        s.masterKey.clear();
        s.username = QStringLiteral("ann");
        s.password = QStringLiteral("pw");
        return s;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void submitsInOrderAndRetriesAnUnknownStart()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        int starts = 0;
        server.on("POST", startPath(), [&starts](const FakeHttpServer::Request &) {
            if (++starts == 1) // the first answer is lost in a 503: was it started?
                return Response{503, R"({"code":14,"message":"unavailable"})", {{"Retry-After", "0"}}, Response::Kind::Normal};
            return Response::json(200, {{QStringLiteral("runId"), QStringLiteral("run1")}, {QStringLiteral("started"), true}});
        });

        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("ok.jsonl"), 25), {});
        job.setAutoDelete(false);
        QVERIFY(run(job));
        QVERIFY2(job.error() == Job::NoError, qPrintable(job.errorString()));
        QCOMPARE(job.batch().requestId, QStringLiteral("req1"));
        QCOMPARE(job.batch().workflowRunId, QStringLiteral("run1"));
        QCOMPARE(job.progress().phase, BatchProgress::Phase::Queued);

        QStringList order;
        for (const FakeHttpServer::Request &r : std::as_const(server.requests))
            order << QString::fromLatin1(r.method) + QLatin1Char(' ') + r.path.section(QLatin1Char('/'), 1, 3);
        QCOMPARE(order, (QStringList{QStringLiteral("POST parse/login"), QStringLiteral("POST parse/files/batch_") + job.batch().batchId + QStringLiteral(".json.gz"),
                                     QStringLiteral("POST parse/classes/BatchMemoryRequest"), QStringLiteral("POST api/v1/namespaces"),
                                     QStringLiteral("POST api/v1/namespaces"), QStringLiteral("PUT parse/classes/BatchMemoryRequest"),
                                     QStringLiteral("POST parse/logout")}));

        // The file is gzip of the 25 items, sent with the user's session.
        const FakeHttpServer::Request upload = server.requestsTo("POST", QStringLiteral("/parse/files/")).first();
        QCOMPARE(upload.headers.value("content-type"), QByteArray("application/gzip"));
        QCOMPARE(upload.headers.value("x-parse-session-token"), QByteArray("r:tok"));
        QVERIFY(!upload.headers.contains("content-encoding"));
        const BatchCodec::Decoded decoded = BatchCodec::decode(upload.body);
        QVERIFY2(decoded.error.isEmpty(), qPrintable(decoded.error));
        QCOMPARE(decoded.items.size(), 25);

        // The request: the seed's fields, the file by url, readable by the user only.
        const QJsonObject created = server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest")).first().json();
        QCOMPARE(created.value(QStringLiteral("status")).toString(), QStringLiteral("pending"));
        QCOMPARE(created.value(QStringLiteral("totalMemories")).toInt(), 25);
        QCOMPARE(created.value(QStringLiteral("batchId")).toString(), job.batch().batchId);
        QVERIFY(created.value(QStringLiteral("batchDataFile")).toObject().value(QStringLiteral("url")).toString().startsWith(QStringLiteral("http")));
        QCOMPARE(created.value(QStringLiteral("ACL")).toObject().keys(), QStringList{QStringLiteral("u1")});
        QCOMPARE(created.value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString(), QStringLiteral("u1"));
        QCOMPARE(created.value(QStringLiteral("batchMetadata")).toObject().value(QStringLiteral("compressed_size_bytes")).toInt(), upload.body.size());

        // Both starts carried the same requestId, the one stored on the request.
        const QList<FakeHttpServer::Request> startRequests = server.requestsTo("POST", startPath());
        QCOMPARE(startRequests.size(), 2);
        const QString requestId = startRequests.at(0).json().value(QStringLiteral("requestId")).toString();
        QVERIFY(!requestId.isEmpty());
        QCOMPARE(startRequests.at(1).json().value(QStringLiteral("requestId")).toString(), requestId);
        QCOMPARE(created.value(QStringLiteral("requestId")).toString(), requestId);
        const QJsonArray input = startRequests.at(0).json().value(QStringLiteral("input")).toArray();
        QCOMPARE(input, (QJsonArray{QJsonObject{{QStringLiteral("request_id"), QStringLiteral("req1")},
                                                {QStringLiteral("batch_id"), job.batch().batchId}}}));
        QCOMPARE(server.requestsTo("PUT", QStringLiteral("/parse/classes/BatchMemoryRequest/req1")).first().json(),
                 QJsonObject({{QStringLiteral("workflowRunId"), QStringLiteral("run1")}}));
    }

    void aRefusedStartMarksTheRequestFailed()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response::json(400, {{QStringLiteral("code"), 3}, {QStringLiteral("message"), QStringLiteral("bad start")}}));
        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("refused.jsonl"), 2), {});
        job.setAutoDelete(false);
        QVERIFY(run(job));
        QCOMPARE(job.error(), int(Job::ServerError));
        QVERIFY2(job.errorString().contains(QStringLiteral("bad start (code 3)")) && job.errorString().contains(QStringLiteral("request req1 is marked failed")),
                 qPrintable(job.errorString()));
        QCOMPARE(server.requestsTo("POST", startPath()).size(), 1); // a definite no is not retried
        const QJsonObject marked = server.requestsTo("PUT", QStringLiteral("/parse/classes/BatchMemoryRequest/req1")).first().json();
        QCOMPARE(marked.value(QStringLiteral("status")).toString(), QStringLiteral("failed"));
        QCOMPARE(marked.value(QStringLiteral("errors")).toArray().first().toObject().value(QStringLiteral("stage")).toString(), QStringLiteral("start"));
        QCOMPARE(job.batch().status, QStringLiteral("failed"));
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/logout")).size(), 1);
    }

    void anUnknownStartIsLookedUpBeforeGivingUp()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response{503, R"({"code":14,"message":"unavailable"})", {{"Retry-After", "0"}}, Response::Kind::Normal});
        // It did start after all: describe finds the run.
        server.on("GET", startPath(), Response::raw(200, R"({"workflowExecutionInfo":{"execution":{"runId":"found-run"},"status":"WORKFLOW_EXECUTION_STATUS_RUNNING"}})"));
        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("unknown.jsonl"), 2), {});
        job.setAutoDelete(false);
        QVERIFY(run(job));
        QVERIFY2(job.error() == Job::NoError, qPrintable(job.errorString()));
        QCOMPARE(server.requestsTo("POST", startPath()).size(), SubmitJob::MaxStartAttempts);
        QCOMPARE(job.batch().workflowRunId, QStringLiteral("found-run"));
    }

    void killFromAProgressSlotStopsEverything()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("kill.jsonl"), 5), {});
        job.setAutoDelete(false);
        int progressAfterResult = 0;
        bool finished = false;
        connect(&job, &Job::progressChanged, this, [&](const BatchProgress &) {
            if (finished)
                ++progressAfterResult;
            else
                job.kill();
        });
        QSignalSpy result(&job, &Job::result);
        connect(&job, &Job::result, this, [&finished] { finished = true; });
        job.start();
        QTRY_COMPARE(result.count(), 1);
        drain();
        QCOMPARE(result.count(), 1);
        QCOMPARE(job.error(), int(Job::KilledError));
        QCOMPARE(progressAfterResult, 0);
        QVERIFY(server.requests.isEmpty());
    }

    void refusesAnOversizeBatchBeforeAnyRequest()
    {
        // Four items of 8 MiB of random text gzip to far more than 20 MiB.
        QFile file(m_dir.filePath(QStringLiteral("huge.jsonl")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
        QByteArray content(8 * 1024 * 1024, Qt::Uninitialized);
        QRandomGenerator gen(1);
        for (int item = 0; item < 4; ++item) {
            for (char &c : content)
                c = alphabet[gen.bounded(64)];
            file.write("{\"content\":\"" + content + "\"}\n");
        }
        file.close();

        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        SubmitJob job(&m_nam, settingsFor(server), file.fileName(), {});
        job.setAutoDelete(false);
        QVERIFY(run(job));
        QCOMPARE(job.error(), int(Job::InvalidInputError));
        QVERIFY2(job.errorString().contains(QStringLiteral("more than the 20 MiB a Parse file may hold")), qPrintable(job.errorString()));
        QVERIFY(server.requests.isEmpty());
    }

    void refusesABadBatchId_data()
    {
        QTest::addColumn<QString>("batchId");
        QTest::newRow("slash") << QStringLiteral("../etc");
        QTest::newRow("space") << QStringLiteral("a b");
        QTest::newRow("leading dash") << QStringLiteral("-x");
        QTest::newRow("too long") << QString(101, QLatin1Char('a'));
    }

    void refusesABadBatchId()
    {
        QFETCH(QString, batchId);
        FakeHttpServer server;
        QVERIFY(server.listen());
        BatchOptions options;
        options.batchId = batchId;
        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("id.jsonl"), 1), options);
        job.setAutoDelete(false);
        QVERIFY(run(job));
        QCOMPARE(job.error(), int(Job::InvalidInputError));
        QVERIFY2(job.errorString().contains(QStringLiteral("is not valid")), qPrintable(job.errorString()));
        QVERIFY(server.requests.isEmpty());
        QVERIFY(SubmitJob::isValidBatchId(QStringLiteral("my-batch_2026")));
    }
};

QTEST_GUILESS_MAIN(tst_SubmitJob)
#include "tst_submitjob.moc"
