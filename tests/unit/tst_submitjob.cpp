// SubmitJob's flow against a fake Parse + Temporal: what it sends, in what
// order, how it retries a start, and that kill() really stops it.
#include "batchcodec.h"
#include "fakehttpserver.h"
#include "gzipcodec.h"
#include "parsesession.h"
#include "submitjob.h"

#include <QBuffer>
#include <QElapsedTimer>
#include <QCryptographicHash>
#include <QJsonDocument>
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
        server.on("PUT", QStringLiteral("/parse/classes/BatchMemoryRequest/"), Response::json(200, {}));
        server.on("POST", QStringLiteral("/parse/logout"), Response::json(200, {}));
        server.on("GET", QStringLiteral("/api/v1/namespaces/default"), Response::json(200, {{QStringLiteral("namespaceInfo"), QJsonObject()}}));
        // Nothing sent before.
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"), Response::json(200, {{QStringLiteral("results"), QJsonArray()}}));
    }

    static QString requestPath(const SubmitJob &job)
    {
        return QStringLiteral("/parse/classes/BatchMemoryRequest/") + job.batch().requestId;
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

    // Submissions that share the plugin's session sign in once, and the
    // last one's result comes after the one logout.
    void submissionsShareOneSession()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response::json(200, {{QStringLiteral("runId"), QStringLiteral("run1")}, {QStringLiteral("started"), true}}));
        ParseSession session(&m_nam, settingsFor(server));
        session.setLinger(20);
        QList<SubmitJob *> jobs;
        int results = 0;
        bool loggedOutFirst = true;
        for (int i = 0; i < 3; ++i) {
            auto *job = new SubmitJob(&m_nam, settingsFor(server), writeItems(QStringLiteral("shared%1.jsonl").arg(i), 5 + i), {});
            job->setSession(&session);
            connect(job, &Job::result, this, [&](Job *j) {
                QVERIFY2(j->error() == Job::NoError, qPrintable(j->errorString()));
                if (++results == 3)
                    loggedOutFirst = server.requestsTo("POST", QStringLiteral("/parse/logout")).size() == 1;
            });
            jobs.append(job);
        }
        for (SubmitJob *job : std::as_const(jobs))
            job->start();
        QTRY_COMPARE_WITH_TIMEOUT(results, 3, 20000);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/login")).size(), 1);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/logout")).size(), 1);
        QVERIFY(loggedOutFirst);
        QCOMPARE(session.holders(), 0);
    }

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
        QVERIFY(job.batch().requestId.startsWith(SubmitJob::userPrefix(QStringLiteral("u1"))));
        QCOMPARE(job.batch().workflowRunId, QStringLiteral("run1"));
        QCOMPARE(job.progress().phase, BatchProgress::Phase::Queued);

        QStringList order;
        for (const FakeHttpServer::Request &r : std::as_const(server.requests))
            order << QString::fromLatin1(r.method) + QLatin1Char(' ') + r.path.section(QLatin1Char('/'), 1, 3);
        QCOMPARE(order, (QStringList{QStringLiteral("POST parse/login"), QStringLiteral("GET api/v1/namespaces"),
                                     QStringLiteral("GET parse/classes/BatchMemoryRequest"),
                                     QStringLiteral("POST parse/files/batch_") + job.batch().batchId + QStringLiteral(".json.gz"),
                                     QStringLiteral("POST parse/classes/BatchMemoryRequest"), QStringLiteral("POST api/v1/namespaces"),
                                     QStringLiteral("POST api/v1/namespaces"), QStringLiteral("POST parse/logout")}));

        // The file is gzip of the 25 items, sent with the user's session.
        const FakeHttpServer::Request upload = server.requestsTo("POST", QStringLiteral("/parse/files/")).first();
        QCOMPARE(upload.headers.value("content-type"), QByteArray("application/gzip"));
        QCOMPARE(upload.headers.value("x-parse-session-token"), QByteArray("r:tok"));
        QVERIFY(!upload.headers.contains("content-encoding"));
        const BatchCodec::Decoded decoded = BatchCodec::decode(upload.body);
        QVERIFY2(decoded.error.isEmpty(), qPrintable(decoded.error));
        QCOMPARE(decoded.items.size(), 25);
        // Each item as it was written (the worker adds the contentHash).
        QCOMPARE(decoded.items.first().toObject(),
                 QJsonObject({{QStringLiteral("content"), QStringLiteral("memory 0")}, {QStringLiteral("tags"), QJsonArray{QStringLiteral("t")}}}));

        // The request: the seed's fields, the file by url, readable by the user only.
        const QJsonObject created = server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest")).first().json();
        QCOMPARE(created.value(QStringLiteral("status")).toString(), QStringLiteral("pending"));
        QCOMPARE(created.value(QStringLiteral("totalMemories")).toInt(), 25);
        QCOMPARE(created.value(QStringLiteral("batchId")).toString(), job.batch().batchId);
        QVERIFY(created.value(QStringLiteral("batchDataFile")).toObject().value(QStringLiteral("url")).toString().startsWith(QStringLiteral("http")));
        QCOMPARE(created.value(QStringLiteral("ACL")).toObject().keys(), QStringList{QStringLiteral("u1")});
        QCOMPARE(created.value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString(), QStringLiteral("u1"));
        QCOMPARE(created.value(QStringLiteral("batchMetadata")).toObject().value(QStringLiteral("compressed_size_bytes")).toInt(), upload.body.size());
        QCOMPARE(created.value(QStringLiteral("objectId")).toString(), job.batch().requestId);
        QVERIFY(!created.contains(QStringLiteral("parentBatchId"))); // one chunk: the batch itself
        QCOMPARE(created.value(QStringLiteral("inputSha256")).toString().size(), 64);

        // Both starts carried the same requestId, the one stored on the request.
        const QList<FakeHttpServer::Request> startRequests = server.requestsTo("POST", startPath());
        QCOMPARE(startRequests.size(), 2);
        const QString requestId = startRequests.at(0).json().value(QStringLiteral("requestId")).toString();
        QVERIFY(!requestId.isEmpty());
        QCOMPARE(startRequests.at(1).json().value(QStringLiteral("requestId")).toString(), requestId);
        QCOMPARE(created.value(QStringLiteral("requestId")).toString(), requestId);
        const QJsonArray input = startRequests.at(0).json().value(QStringLiteral("input")).toArray();
        QCOMPARE(input, (QJsonArray{QJsonObject{{QStringLiteral("request_id"), job.batch().requestId},
                                                {QStringLiteral("batch_id"), job.batch().batchId}}}));
        QVERIFY(server.requestsTo("PUT", QStringLiteral("/parse/")).isEmpty()); // the worker records the run
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
        QVERIFY2(job.errorString().contains(QStringLiteral("bad start (code 3)")) && job.errorString().contains(QStringLiteral("is marked failed")),
                 qPrintable(job.errorString()));
        QCOMPARE(server.requestsTo("POST", startPath()).size(), 1); // a definite no is not retried
        const QJsonObject marked = server.requestsTo("PUT", requestPath(job)).first().json();
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
        QCOMPARE(server.requestsTo("POST", startPath()).size(), RetryPolicy().maxAttempts);
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

    void refusesAnItemLargerThanAChunkBeforeAnyRequest()
    {
        QFile file(m_dir.filePath(QStringLiteral("large.jsonl")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("{\"content\":\"small\"}\n{\"content\":\"" + QByteArray(10000, 'x') + "\"}\n");
        file.close();
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        SubmitOptions options;
        options.chunkBytes = 8192;
        SubmitJob job(&m_nam, settingsFor(server), file.fileName(), options);
        job.setAutoDelete(false);
        QVERIFY(run(job));
        QCOMPARE(job.error(), int(Job::InvalidInputError));
        QVERIFY2(job.errorString().contains(QStringLiteral(":2: the memory is 10014 bytes of JSON, more than the 8064")), qPrintable(job.errorString()));
        QVERIFY2(job.errorString().contains(QStringLiteral("nothing was sent")), qPrintable(job.errorString()));
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/files/")).size(), 0);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/classes/")).size(), 0);
    }

    // 25 memories in chunks of 10: three requests under one parent id, each
    // with its own ids and workflow, and the seeds' chunk fields.
    // However much is gzipped while the input is read (all of it, the
    // first chunk, none), the files hold the same: each chunk's items, in
    // order.
    void splitsIntoChunksUnderOneParent_data()
    {
        QTest::addColumn<qint64>("encodeAheadBytes");
        QTest::newRow("every chunk gzipped while reading") << qint64(1 << 20);
        QTest::newRow("the first, then from the spool") << qint64(1);
        QTest::newRow("every chunk from the spool") << qint64(0);
    }

    void splitsIntoChunksUnderOneParent()
    {
        QFETCH(qint64, encodeAheadBytes);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response::json(200, {{QStringLiteral("runId"), QStringLiteral("run")}}));
        SubmitOptions options;
        options.chunkItems = 10;
        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("split.jsonl"), 25), options);
        job.setAutoDelete(false);
        job.setEncodeAheadBytes(encodeAheadBytes);
        BatchProgress lastUpload;
        connect(&job, &Job::progressChanged, this, [&lastUpload](const BatchProgress &p) {
            if (p.phase == BatchProgress::Phase::Uploading)
                lastUpload = p;
        });
        QVERIFY(run(job));
        // Once every chunk is gzipped, the upload says how much there is.
        QCOMPARE(lastUpload.bytesTotal, job.batch().compressedBytes);
        QCOMPARE(lastUpload.bytesDone, lastUpload.bytesTotal);
        QVERIFY2(job.error() == Job::NoError, qPrintable(job.errorString()));
        const BatchStatus parent = job.batch();
        QCOMPARE(parent.chunkCount, 3);
        QCOMPARE(parent.totalMemories, 25);
        QCOMPARE(parent.batchId.size(), 24);

        const QList<FakeHttpServer::Request> creates = server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest"));
        QCOMPARE(creates.size(), 3);
        QSet<QString> objectIds, batchIds;
        qint64 memories = 0;
        for (const FakeHttpServer::Request &r : creates) {
            const QJsonObject o = r.json();
            const QJsonObject meta = o.value(QStringLiteral("batchMetadata")).toObject();
            const int n = meta.value(QStringLiteral("chunk_num")).toInt();
            QCOMPARE(meta.value(QStringLiteral("total_chunks")).toInt(), 3);
            QCOMPARE(o.value(QStringLiteral("parentBatchId")).toString(), parent.batchId);
            QCOMPARE(o.value(QStringLiteral("batchId")).toString(), SubmitJob::chunkBatchId(parent.batchId, n, 3));
            QCOMPARE(o.value(QStringLiteral("workflowId")).toString(), QStringLiteral("batch-") + o.value(QStringLiteral("batchId")).toString());
            QCOMPARE(o.value(QStringLiteral("totalMemories")).toInt(), n == 3 ? 5 : 10);
            QCOMPARE(meta.value(QStringLiteral("submission_memory_count")).toInt(), 25);
            objectIds << o.value(QStringLiteral("objectId")).toString();
            batchIds << o.value(QStringLiteral("batchId")).toString();
            memories += o.value(QStringLiteral("totalMemories")).toInt();
        }
        QCOMPARE(objectIds.size(), 3);
        QCOMPARE(batchIds, (QSet<QString>{parent.batchId + QStringLiteral("-001"), parent.batchId + QStringLiteral("-002"),
                                          parent.batchId + QStringLiteral("-003")}));
        QCOMPARE(memories, 25);
        const QList<FakeHttpServer::Request> uploads = server.requestsTo("POST", QStringLiteral("/parse/files/"));
        QCOMPARE(uploads.size(), 3);
        for (const FakeHttpServer::Request &upload : uploads) {
            const int n = upload.path.section(QLatin1Char('-'), -1).section(QLatin1Char('.'), 0, 0).toInt(); // ...-002.json.gz
            QByteArray json;
            QString error;
            QVERIFY2(GzipCodec::decompress(upload.body, &json, &error), qPrintable(error));
            const QJsonArray items = QJsonDocument::fromJson(json).array();
            QCOMPARE(items.size(), n == 3 ? 5 : 10);
            for (qsizetype i = 0; i < items.size(); ++i)
                QCOMPARE(items.at(i).toObject().value(QStringLiteral("content")).toString(),
                         QStringLiteral("memory %1").arg((n - 1) * 10 + i));
        }
        QCOMPARE(server.requestsTo("POST", startPath()).size(), 3);
        QCOMPARE(SubmitJob::chunkBatchId(QStringLiteral("p"), 7, 1200), QStringLiteral("p-0007"));
    }

    // Sent again: the chunks are there (same input), their runs known, so
    // nothing is uploaded, created or started; the same key with another
    // input is refused.
    void aResubmissionFindsItsChunks()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response::json(200, {{QStringLiteral("runId"), QStringLiteral("run0")}}));
        SubmitOptions options;
        options.chunkItems = 2;
        options.idempotencyKey = QStringLiteral("k1");
        const QString path = writeItems(QStringLiteral("again.jsonl"), 3);
        SubmitJob first(&m_nam, settingsFor(server), path, options);
        first.setAutoDelete(false);
        QVERIFY(run(first));
        QVERIFY2(first.error() == Job::NoError, qPrintable(first.errorString()));
        QJsonArray sent;
        for (const FakeHttpServer::Request &r : server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest"))) {
            QJsonObject o = r.json();
            o.insert(QStringLiteral("status"), QStringLiteral("processing"));
            o.insert(QStringLiteral("workflowRunId"), QStringLiteral("run0"));
            sent.append(o);
        }
        QCOMPARE(sent.size(), 2);
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"), Response::json(200, {{QStringLiteral("results"), sent}}));
        server.requests.clear();

        SubmitJob again(&m_nam, settingsFor(server), path, options);
        again.setAutoDelete(false);
        QStringList infos;
        connect(&again, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QVERIFY(run(again));
        QVERIFY2(again.error() == Job::NoError, qPrintable(again.errorString()));
        QCOMPARE(again.batch().batchId, first.batch().batchId);
        QVERIFY2(infos.join(QLatin1Char('\n')).contains(QStringLiteral("was submitted before")), qPrintable(infos.join(QLatin1Char('\n'))));
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/files/")).size(), 0);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/classes/")).size(), 0);
        QCOMPARE(server.requestsTo("POST", startPath()).size(), 0);

        // The same key with another input: refused, nothing written.
        SubmitJob other(&m_nam, settingsFor(server), writeItems(QStringLiteral("other.jsonl"), 4), options);
        other.setAutoDelete(false);
        QVERIFY(run(other));
        QCOMPARE(other.error(), int(Job::InvalidInputError));
        QVERIFY2(other.errorString().contains(QStringLiteral("is already taken by another input")), qPrintable(other.errorString()));
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/files/")).size(), 0);
    }

    // What the user sees under its batch id but is not its own (another
    // user's, through an organization's role; the master key's, with no
    // user): never resumed, nor "another input". One that never started is
    // left alone; one that did holds the id's workflow, and the id is refused.
    void anotherUsersRequestUnderTheIdIsNotOurs_data()
    {
        QTest::addColumn<QString>("owner"); // empty: no user pointer
        QTest::addColumn<QString>("status");
        QTest::addColumn<QString>("runId");
        QTest::addColumn<QString>("refusal"); // empty: sent as if it were not there
        QTest::newRow("a colleague's, never started") << "u2" << "pending" << "" << "";
        QTest::newRow("a colleague's, started") << "u2" << "pending" << "run9" << "is used by another user's batch";
        QTest::newRow("a colleague's, ended") << "u2" << "completed" << "run9" << "is used by another user's batch";
        QTest::newRow("the master key's, never started") << "" << "pending" << "" << "";
        QTest::newRow("the master key's, processing") << "" << "processing" << "run9" << "is used by another user's batch";
    }

    void anotherUsersRequestUnderTheIdIsNotOurs()
    {
        QFETCH(QString, owner);
        QFETCH(QString, status);
        QFETCH(QString, runId);
        QFETCH(QString, refusal);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response::json(200, {{QStringLiteral("runId"), QStringLiteral("run0")}}));
        QJsonObject foreign{{QStringLiteral("objectId"), QStringLiteral("f00000000000000000000001")},
                            {QStringLiteral("batchId"), QStringLiteral("shared")},
                            {QStringLiteral("status"), status},
                            {QStringLiteral("inputSha256"), QString(64, QLatin1Char('0'))},
                            {QStringLiteral("totalMemories"), 9}};
        if (!owner.isEmpty())
            foreign.insert(QStringLiteral("user"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("Pointer")},
                                                               {QStringLiteral("className"), QStringLiteral("_User")},
                                                               {QStringLiteral("objectId"), owner}});
        if (!runId.isEmpty())
            foreign.insert(QStringLiteral("workflowRunId"), runId);
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"),
                  Response::json(200, {{QStringLiteral("results"), QJsonArray{foreign}}}));
        SubmitOptions options;
        options.batchId = QStringLiteral("shared");
        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("shared.jsonl"), 3), options);
        job.setAutoDelete(false);
        QVERIFY(run(job));
        if (refusal.isEmpty()) {
            QVERIFY2(job.error() == Job::NoError, qPrintable(job.errorString()));
            QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest")).size(), 1);
            QCOMPARE(server.requestsTo("POST", startPath()).size(), 1);
            QVERIFY(job.batch().requestId != foreign.value(QStringLiteral("objectId")).toString());
        } else {
            QCOMPARE(job.error(), int(Job::InvalidInputError));
            QVERIFY2(job.errorString().contains(refusal) && job.errorString().contains(QStringLiteral("batch-shared")),
                     qPrintable(job.errorString()));
            QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/files/")).size(), 0);
            QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest")).size(), 0);
        }
    }

    // Ctrl-C while the first of ten chunks is being uploaded: that chunk is
    // finished (its file gets its request and workflow), no other is begun,
    // and the session is closed.
    void stopFinishesTheChunkInFlightOnly()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response::json(200, {{QStringLiteral("runId"), QStringLiteral("run")}}));
        SubmitOptions options;
        options.chunkItems = 1;
        options.inFlight = 1;
        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("stop.jsonl"), 10), options);
        job.setAutoDelete(false);
        connect(&server, &FakeHttpServer::requestReceived, this, [&job](const FakeHttpServer::Request &r) {
            if (r.path.startsWith(QStringLiteral("/parse/files/")))
                job.stop();
        });
        QVERIFY(run(job));
        QCOMPARE(job.error(), int(Job::KilledError));
        QVERIFY2(job.errorString().contains(QStringLiteral("stopped: 1 of 10 chunks")) && job.errorString().contains(QStringLiteral("sends the rest")),
                 qPrintable(job.errorString()));
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/files/")).size(), 1);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest")).size(), 1);
        QCOMPARE(server.requestsTo("POST", startPath()).size(), 1);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/logout")).size(), 1);
    }

    // SubmitOptions::inFlight is the chunks' parallel limit: with workflow
    // starts that never answer, that many chunks are uploaded and no more.
    void neverMoreChunksInFlightThanAsked_data()
    {
        QTest::addColumn<int>("inFlight");
        QTest::newRow("one") << 1;
        QTest::newRow("two") << 2;
        QTest::newRow("four") << 4;
    }
    void neverMoreChunksInFlightThanAsked()
    {
        QFETCH(int, inFlight);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response{200, "{}", {}, Response::Kind::Never});
        SubmitOptions options;
        options.chunkItems = 1;
        options.inFlight = inFlight;
        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("inflight.jsonl"), 8), options);
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QTRY_COMPARE(server.requestsTo("POST", startPath()).size(), inFlight);
        drain(); // every encoder has ended: a chunk past the limit would be on its way
        QTRY_COMPARE(server.requestsTo("POST", startPath()).size(), inFlight);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/files/")).size(), inFlight);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest")).size(), inFlight);
        QCOMPARE(result.count(), 0);
        QVERIFY(job.kill());
        QCOMPARE(result.count(), 1);
        QCOMPARE(job.error(), int(Job::KilledError));
        drain();
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/files/")).size(), inFlight);
    }

    // A chunk that fails begins no other; the one in flight beside it ends.
    void aFailedChunkBeginsNoOther_data()
    {
        QTest::addColumn<int>("inFlight");
        QTest::newRow("one in flight") << 1;
        QTest::newRow("two in flight") << 2;
    }
    void aFailedChunkBeginsNoOther()
    {
        QFETCH(int, inFlight);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response::json(400, {{QStringLiteral("code"), 3}, {QStringLiteral("message"), QStringLiteral("bad start")}}));
        SubmitOptions options;
        options.chunkItems = 1;
        options.inFlight = inFlight;
        SubmitJob job(&m_nam, settingsFor(server), writeItems(QStringLiteral("failed-chunk.jsonl"), 6), options);
        job.setAutoDelete(false);
        QVERIFY(run(job));
        QCOMPARE(job.error(), int(Job::ServerError));
        QVERIFY2(job.errorString().contains(QStringLiteral("bad start")) && job.errorString().contains(QStringLiteral("0 of 6 chunks sent")),
                 qPrintable(job.errorString()));
        const int uploads = int(server.requestsTo("POST", QStringLiteral("/parse/files/")).size());
        QVERIFY2(uploads >= 1 && uploads <= inFlight, qPrintable(QString::number(uploads)));
        // Every chunk begun was ended: its request made, its start tried, and marked failed.
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest")).size(), uploads);
        QCOMPARE(server.requestsTo("POST", startPath()).size(), uploads);
        QCOMPARE(server.requestsTo("PUT", QStringLiteral("/parse/classes/BatchMemoryRequest/")).size(), uploads);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/logout")).size(), 1);
    }

    void aDryRunSendsNothing()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        QFile file(m_dir.filePath(QStringLiteral("dry.jsonl")));
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write("{\"content\":\"a\"}\n{\"content\":\" a \"}\nnot json\n{\"content\":\"b\"}\n");
        file.close();
        SubmitOptions options;
        options.dryRun = true;
        options.skipInvalid = true;
        options.chunkItems = 1;
        SubmitJob job(&m_nam, settingsFor(server), file.fileName(), options);
        job.setAutoDelete(false);
        QVERIFY(run(job));
        QVERIFY2(job.error() == Job::NoError, qPrintable(job.errorString()));
        QCOMPARE(job.batch().inputItems, 4);
        QCOMPARE(job.batch().invalidItems, 1);
        QCOMPARE(job.batch().duplicateItems, 1); // " a " is "a", normalised
        QCOMPARE(job.batch().totalMemories, 2);
        QCOMPARE(job.batch().chunkCount, 2);
        QVERIFY(job.batch().compressedBytes > 0);
        QVERIFY(server.requests.isEmpty());
        // It ends encoded, not done: nothing was stored.
        QCOMPARE(job.progress().phase, BatchProgress::Phase::Encoding);
        QCOMPARE(job.progress().chunksDone, 2);
        QCOMPARE(job.progress().succeeded, 0);
    }

    // On a device of the host's, the job waits for its scan when it goes:
    // once it has ended, it goes at once (it once waited for ever).
    void aJobOnTheHostsDeviceGoesOnceEnded()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serveParse(server);
        server.on("POST", startPath(), Response::json(200, {{QStringLiteral("runId"), QStringLiteral("run")}}));
        QBuffer input;
        input.setData("{\"content\":\"a\"}\n{\"content\":\"b\"}\n");
        QVERIFY(input.open(QIODevice::ReadOnly));
        auto *job = new SubmitJob(&m_nam, settingsFor(server), &input, QStringLiteral("buffer"), {});
        job->setAutoDelete(false);
        QVERIFY(run(*job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        QElapsedTimer gone;
        gone.start();
        delete job;
        QVERIFY(gone.elapsed() < 5000);
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
        SubmitOptions options;
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
