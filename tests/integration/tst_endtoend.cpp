// End to end against the real local stack (Parse Server on PostgreSQL, a
// Temporal dev server and the project's workflow worker), started by the
// ctest fixture. The plugin is loaded the way a host loads it; the checks
// read Parse and Temporal directly, not through the plugin.
#include "../unit/fakehttpserver.h"
#include "batchactivity.h"
#include "gzipcodec.h"
#include "parseclient.h"
#include "stackclient.h"

#include <membatch/ibatchprocessor.h>
#include <membatch/pluginloader.h>
#include <membatch/webhooksignature.h>

#include <QScopeGuard>
#include <QSet>
#include <QTemporaryDir>
#include <QTimer>

using namespace membatch;

class tst_EndToEnd : public QObject
{
    Q_OBJECT

private:
    ConnectionSettings m_settings;
    PluginLoader m_loader;
    IBatchProcessor *m_processor = nullptr;
    Job *m_worker = nullptr;
    QTemporaryDir m_dir;
    StackClient m_stack;
    QString m_demoId; // the demo user's objectId, once asked

    QString writeBatch(const QString &name, int count, const QString &tag)
    {
        return StackClient::writeBatch(m_dir.filePath(name), count, tag);
    }

    // The plugin acts as the demo user (as a submitter does), or with the
    // master key only (to look at requests created by hand).
    void actAsSubmitter(ConnectionSettings settings)
    {
        settings.masterKey.clear();
        m_processor->setConnection(settings);
    }
    void actAsMaster()
    {
        ConnectionSettings master = m_settings;
        master.username.clear();
        master.password.clear();
        m_processor->setConnection(master);
    }

    WatchOptions watchOptions() const
    {
        WatchOptions options;
        options.pollIntervalMs = 100;
        return options;
    }
    static QJsonObject pointerTo(const QString &cls, const QString &id)
    {
        return {{QStringLiteral("__type"), QStringLiteral("Pointer")}, {QStringLiteral("className"), cls}, {QStringLiteral("objectId"), id}};
    }
    SubmitOptions submitOptions() const
    {
        SubmitOptions options;
        options.pollIntervalMs = 100;
        return options;
    }

    // Every result the plugin reads for a batch, in the pages it emits them in.
    QList<ItemResult> readResults(const QString &batchId, const ResultsOptions &options, int *error = nullptr,
                                  QList<qsizetype> *pageSizes = nullptr)
    {
        ResultsJob *job = m_processor->results(batchId, options);
        QList<ItemResult> results;
        connect(job, &ResultsJob::itemsReady, this, [&](const QList<ItemResult> &page) {
            results += page;
            if (pageSizes)
                pageSizes->append(page.size());
        });
        if (!StackClient::runToEnd(job))
            return {};
        if (error)
            *error = job->error();
        else if (job->error())
            qWarning() << "results:" << job->errorString();
        delete job;
        return results;
    }

    // Creates a BatchMemoryRequest by hand as the user of session (not
    // through membatch): a file of its own, the batch id, parent, ACL (JSON,
    // or none) and retryOf given. Its objectId, or empty (the answer is in
    // m_lastPlant).
    QString plantRequest(const QByteArray &session, const QString &batchId, const QString &parent, const QByteArray &acl,
                         const QString &retryOf = {})
    {
        const Http file = m_stack.parseAsUser(session, "POST", QStringLiteral("/files/planted.json.gz"),
                                              GzipCodec::compress("[{\"content\":\"planted\"}]"), "application/gzip");
        if (file.status != 201)
            return {};
        QJsonObject request{{QStringLiteral("batchId"), batchId},
                            {QStringLiteral("status"), QStringLiteral("pending")},
                            {QStringLiteral("totalMemories"), 1},
                            {QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                                                          {QStringLiteral("name"), file.json().value(QStringLiteral("name"))},
                                                                          {QStringLiteral("url"), file.json().value(QStringLiteral("url"))}}}};
        if (!parent.isEmpty())
            request.insert(QStringLiteral("parentBatchId"), parent);
        if (!retryOf.isEmpty())
            request.insert(QStringLiteral("retryOf"), retryOf);
        if (!acl.isEmpty())
            request.insert(QStringLiteral("ACL"), QJsonDocument::fromJson(acl).object());
        const Http created = m_stack.parseAsUser(session, "POST", QStringLiteral("/classes/BatchMemoryRequest"),
                                                 QJsonDocument(request).toJson(QJsonDocument::Compact));
        m_lastPlant = created.body;
        return created.status == 201 ? created.json().value(QStringLiteral("objectId")).toString() : QString();
    }
    QByteArray m_lastPlant;

private Q_SLOTS:
    void initTestCase()
    {
        m_settings = m_stack.settings;
        QVERIFY2(m_settings.missingForClient().isEmpty() && m_settings.missingForWorker().isEmpty(),
                 "the stack's env is not set: run under tests/stack/with-env.sh");
        QVERIFY(m_dir.isValid());
        m_processor = m_loader.load({}, {QStringLiteral(MEMBATCH_PLUGIN_DIR)});
        QVERIFY2(m_processor, qPrintable(m_loader.errorString()));

        // The worker takes the master key; the submitter is the demo user.
        ConnectionSettings workerSettings = m_settings;
        m_processor->setConnection(workerSettings);
        WorkerOptions workerOptions;
        workerOptions.identity = QStringLiteral("tst_endtoend-worker");
        workerOptions.concurrency = 2;
        // The test's webhook receivers listen on loopback; and they are quick
        // to give up on.
        workerOptions.webhookAllowPrivate = true;
        workerOptions.webhookAttempts = 3;
        workerOptions.webhookBackoffMs = 50;
        m_worker = m_processor->work(workerOptions);
        m_worker->setAutoDelete(false);
        m_worker->start();

        actAsSubmitter(m_settings);
    }

    void init()
    {
        actAsSubmitter(m_settings);
    }

    void cleanupTestCase()
    {
        if (m_worker) {
            QVERIFY2(!m_worker->isFinished(), qPrintable(m_worker->errorString()));
            m_worker->kill();
            delete m_worker;
        }
    }

    void submits120MemoriesAndTheWorkerStoresThem()
    {
        const QString path = writeBatch(QStringLiteral("e2e.jsonl"), 120, QStringLiteral("e2e"));
        SubmitOptions options = submitOptions();
        options.waitForCompletion = true;
        BatchJob *job = m_processor->submit(path, options);
        QList<BatchProgress::Phase> phases;
        connect(job, &Job::progressChanged, this, [&phases](const BatchProgress &p) {
            if (phases.isEmpty() || phases.last() != p.phase)
                phases.append(p.phase);
        });
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        const BatchStatus batch = job->batch();
        delete job;

        // Progress went through the phases in order and ended done.
        using P = BatchProgress::Phase;
        const QList<P> expected{P::Reading, P::Uploading, P::Queued};
        QCOMPARE(phases.mid(0, expected.size()), expected);
        QCOMPARE(phases.last(), P::Done);

        QCOMPARE(batch.status, QStringLiteral("completed"));
        // The request is final once the worker has written it; the run closes
        // a moment later, when the workflow worker has seen the result.
        QVERIFY2(batch.workflowStatus == QLatin1String("completed") || batch.workflowStatus == QLatin1String("running"),
                 qPrintable(batch.workflowStatus));
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(batch.workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_COMPLETED"), 30000);
        QCOMPARE(batch.totalMemories, 120);
        QCOMPARE(batch.successCount, 120);
        QCOMPARE(batch.failCount, 0);

        // In Parse: the request, as the worker left it.
        const Http request = m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchMemoryRequest/") + batch.requestId);
        QCOMPARE(request.status, 200);
        const QJsonObject r = request.json();
        QCOMPARE(r.value(QStringLiteral("batchId")).toString(), batch.batchId);
        QCOMPARE(r.value(QStringLiteral("status")).toString(), QStringLiteral("completed"));
        QCOMPARE(r.value(QStringLiteral("totalMemories")).toInt(), 120);
        QCOMPARE(r.value(QStringLiteral("processedCount")).toInt(), 120);
        QCOMPARE(r.value(QStringLiteral("successCount")).toInt(), 120);
        QCOMPARE(r.value(QStringLiteral("failCount")).toInt(), 0);
        QVERIFY(r.value(QStringLiteral("completedAt")).toObject().contains(QStringLiteral("iso")));
        QVERIFY(r.value(QStringLiteral("processingDurationMs")).toDouble() >= 0);
        QCOMPARE(r.value(QStringLiteral("workflowId")).toString(), QStringLiteral("batch-") + batch.batchId);
        QCOMPARE(r.value(QStringLiteral("workflowRunId")).toString(), batch.workflowRunId);
        const QJsonObject acl = r.value(QStringLiteral("ACL")).toObject();
        const QString userId = r.value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString();
        QVERIFY(!userId.isEmpty());
        QCOMPARE(acl.keys(), QStringList{userId});
        QCOMPARE(r.value(QStringLiteral("batchMetadata")).toObject().value(QStringLiteral("memory_count")).toInt(), 120);

        // The file is real gzip of exactly what was submitted.
        const Http file = m_stack.send("GET", QUrl(r.value(QStringLiteral("batchDataFile")).toObject().value(QStringLiteral("url")).toString()));
        QCOMPARE(file.status, 200);
        QByteArray json;
        QString error;
        QVERIFY2(GzipCodec::decompress(file.body, &json, &error), qPrintable(error));
        QCOMPARE(QJsonDocument::fromJson(json).array().size(), 120);

        // Exactly 120 Memory objects, with the right contents.
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"batchId\":\"%1\"}").arg(batch.batchId));
        query.addQueryItem(QStringLiteral("order"), QStringLiteral("index"));
        query.addQueryItem(QStringLiteral("limit"), QStringLiteral("1000"));
        query.addQueryItem(QStringLiteral("count"), QStringLiteral("1"));
        const Http memories = m_stack.parseAsMaster("GET", QStringLiteral("/classes/Memory"), query);
        QCOMPARE(memories.status, 200);
        QCOMPARE(memories.json().value(QStringLiteral("count")).toInt(), 120);
        const QJsonArray results = memories.json().value(QStringLiteral("results")).toArray();
        QCOMPARE(results.size(), 120);
        for (int i = 0; i < 120; ++i) {
            const QJsonObject m = results.at(i).toObject();
            QCOMPARE(m.value(QStringLiteral("index")).toInt(), i);
            QCOMPARE(m.value(QStringLiteral("content")).toString(), QStringLiteral("e2e memory #%1: the quick brown fox").arg(i));
            QCOMPARE(m.value(QStringLiteral("tags")).toArray(), (QJsonArray{QStringLiteral("e2e"), QStringLiteral("n%1").arg(i % 7)}));
            QCOMPARE(m.value(QStringLiteral("metadata")).toObject().value(QStringLiteral("i")).toInt(), i);
            QCOMPARE(m.value(QStringLiteral("source")).toString(), QStringLiteral("membatch tests"));
            // The worker's hash of the normalised content (not the client's).
            QCOMPARE(m.value(QStringLiteral("contentHash")).toString(),
                     QString::fromLatin1(QCryptographicHash::hash(m.value(QStringLiteral("content")).toString().simplified().toUtf8(),
                                                                  QCryptographicHash::Sha256).toHex()));
            QCOMPARE(m.value(QStringLiteral("embedding")).toArray().size(), i % 10 == 0 ? 3 : 0);
            QCOMPARE(m.value(QStringLiteral("request")).toObject().value(QStringLiteral("objectId")).toString(), batch.requestId);
            QCOMPARE(m.value(QStringLiteral("ACL")).toObject().keys(), QStringList{userId});
        }

        // The workflow got only {request_id, batch_id}: its started event's input.
        const Http history = m_stack.temporal("GET", QStringLiteral("/workflows/batch-%1/history").arg(batch.batchId));
        QCOMPARE(history.status, 200);
        const QJsonArray events = history.json().value(QStringLiteral("history")).toObject().value(QStringLiteral("events")).toArray();
        QVERIFY(!events.isEmpty());
        const QJsonObject started = events.first().toObject();
        QCOMPARE(started.value(QStringLiteral("eventType")).toString(), QStringLiteral("EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"));
        const QJsonArray input = started.value(QStringLiteral("workflowExecutionStartedEventAttributes"))
                                     .toObject().value(QStringLiteral("input")).toArray();
        QCOMPARE(input.size(), 1);
        const QJsonObject ref = input.first().toObject();
        QCOMPARE(ref.keys(), (QStringList{QStringLiteral("batch_id"), QStringLiteral("request_id")}));
        QCOMPARE(ref.value(QStringLiteral("request_id")).toString(), batch.requestId);
        const qsizetype inputBytes = QJsonDocument(ref).toJson(QJsonDocument::Compact).size();
        qInfo("workflow input: %lld bytes", qlonglong(inputBytes));
        QVERIFY(inputBytes <= 100);
    }

    void statusReportsAFinishedBatchOnce()
    {
        const QString path = writeBatch(QStringLiteral("status.jsonl"), 3, QStringLiteral("st"));
        SubmitOptions submitOpts = submitOptions();
        submitOpts.waitForCompletion = true;
        BatchJob *submit = m_processor->submit(path, submitOpts);
        QVERIFY(StackClient::runToEnd(submit));
        QVERIFY2(submit->error() == Job::NoError, qPrintable(submit->errorString()));
        const QString batchId = submit->batch().batchId;
        delete submit;

        WatchOptions options = watchOptions();
        options.once = true;
        BatchJob *status = m_processor->watch(batchId, options);
        QVERIFY(StackClient::runToEnd(status));
        QCOMPARE(status->error(), int(Job::NoError));
        QCOMPARE(status->batch().status, QStringLiteral("completed"));
        QCOMPARE(status->batch().successCount, 3);
        delete status;
    }

    void workerRecordsPerItemErrors()
    {
        const QString batchId = QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QByteArray json = R"([{"content":"good one"},{"content":""},{"content":"good two","tags":"not-a-list"},{"content":"good three"}])";
        const QString requestId = m_stack.submitByHand(batchId, GzipCodec::compress(json), 4);
        QVERIFY2(!requestId.contains(QLatin1Char(' ')), qPrintable(requestId));

        actAsMaster();
        BatchJob *watch = m_processor->watch(batchId, watchOptions());
        QVERIFY(StackClient::runToEnd(watch));
        QCOMPARE(watch->error(), int(Job::BatchFailedError));
        QVERIFY2(watch->errorString().contains(QStringLiteral("ended partial_failure: 2 of 4 memories stored, 2 failed")),
                 qPrintable(watch->errorString()));
        const BatchStatus batch = watch->batch();
        delete watch;
        QCOMPARE(batch.status, QStringLiteral("partial_failure"));
        QCOMPARE(batch.errors.size(), 2);
        QCOMPARE(batch.errors.at(0).toObject().value(QStringLiteral("index")).toInt(), 1);
        QVERIFY(batch.errors.at(0).toObject().value(QStringLiteral("error")).toString().contains(QStringLiteral("'content'")));
        QCOMPARE(batch.errors.at(1).toObject().value(QStringLiteral("index")).toInt(), 2);
        QVERIFY(batch.errors.at(1).toObject().value(QStringLiteral("error")).toString().contains(QStringLiteral("'tags'")));
        QVERIFY(!batch.errors.at(0).toObject().value(QStringLiteral("timestamp")).toString().isEmpty());

        // Item by item, in file order: the Memory each was stored as, or why not.
        const QList<ItemResult> results = readResults(batchId, {});
        QCOMPARE(results.size(), 4);
        for (int i = 0; i < 4; ++i)
            QCOMPARE(results.at(i).index, i);
        QVERIFY(results.at(0).isStored() && results.at(3).isStored());
        QVERIFY(results.at(1).error.contains(QStringLiteral("'content'")));
        QVERIFY(results.at(2).error.contains(QStringLiteral("'tags'")));
        for (int i : {0, 3}) {
            const QJsonObject memory = m_stack.parseAsMaster("GET", QStringLiteral("/classes/Memory/") + results.at(i).memoryId).json();
            QCOMPARE(memory.value(QStringLiteral("index")).toInt(), i);
            QCOMPARE(memory.value(QStringLiteral("batchId")).toString(), batchId);
        }
        ResultsOptions failedOnly;
        failedOnly.failedOnly = true;
        const QList<ItemResult> failed = readResults(batchId, failedOnly);
        QCOMPARE(failed.size(), 2);
        QCOMPARE(failed.at(0), results.at(1));
        QCOMPARE(failed.at(1), results.at(2));
        // ...kept as a gzipped JSON lines file on the request.
        const QJsonObject file = m_stack.request(batch.requestId).value(QStringLiteral("resultsFile")).toObject();
        const Http download = m_stack.send("GET", QUrl(file.value(QStringLiteral("url")).toString()));
        QCOMPARE(download.status, 200);
        QByteArray lines;
        QString error;
        QVERIFY2(GzipCodec::decompress(download.body, &lines, &error), qPrintable(error));
        QCOMPARE(lines.count('\n'), 4);
        QCOMPARE(QJsonDocument::fromJson(lines.split('\n').at(1)).object(), results.at(1).toJson());
    }

    // Submits a small batch with a webhook to url and waits until the worker
    // has recorded its delivery (or given it up); the request as then.
    QJsonObject submitWithWebhook(const QUrl &url, const QByteArray &secret, int count)
    {
        SubmitOptions options = submitOptions();
        options.waitForCompletion = true;
        options.webhookUrl = url;
        options.webhookSecret = secret;
        BatchJob *job = m_processor->submit(writeBatch(QStringLiteral("hook.jsonl"), count, QStringLiteral("hook")), options);
        if (!StackClient::runToEnd(job) || job->error()) {
            qWarning() << "submit:" << job->errorString();
            return {};
        }
        const QString requestId = job->batch().requestId;
        delete job;
        QJsonObject request;
        if (!QTest::qWaitFor([&] {
                request = m_stack.request(requestId);
                return request.contains(QStringLiteral("webhookSent"));
            }, 30000))
            qWarning() << "the worker recorded nothing of the webhook within 30 s";
        return request;
    }

    void aWebhookReachesItsReceiverSignedAndOnce()
    {
        FakeHttpServer receiver;
        QVERIFY(receiver.listen());
        const QByteArray secret = WebhookSignature::generateSecret();
        QList<WebhookSignature::Verdict> verdicts;
        receiver.on("POST", QStringLiteral("/hook"), [&](const FakeHttpServer::Request &r) {
            verdicts << WebhookSignature::verify(secret, r.headers.value("webhook-id"), r.headers.value("webhook-timestamp"),
                                                 r.headers.value("webhook-signature"), r.body);
            return verdicts.last() == WebhookSignature::Verdict::Valid ? FakeHttpServer::Response::raw(200, "ok")
                                                                       : FakeHttpServer::Response::raw(401, "bad signature");
        });
        const QJsonObject request = submitWithWebhook(receiver.url(QStringLiteral("/hook")), secret, 5);
        QCOMPARE(request.value(QStringLiteral("webhookSent")).toBool(), true);
        QCOMPARE(request.value(QStringLiteral("webhookAttempts")).toInt(), 1);
        QCOMPARE(verdicts, QList<WebhookSignature::Verdict>{WebhookSignature::Verdict::Valid});
        const QJsonObject data = receiver.requestsTo("POST", QStringLiteral("/hook")).first().json().value(QStringLiteral("data")).toObject();
        QCOMPARE(data.value(QStringLiteral("status")).toString(), QStringLiteral("completed"));
        QCOMPARE(data.value(QStringLiteral("successful")).toInt(), 5);
        QCOMPARE(data.value(QStringLiteral("results_url")).toString(), request.value(QStringLiteral("resultsFile")).toObject().value(QStringLiteral("url")).toString());

        // The secret: kept for the worker, shown to no client, even its owner.
        QCOMPARE(request.value(QStringLiteral("webhookSecret")).toString(), QString::fromLatin1(secret)); // (as master)
        const QByteArray session = m_stack.logIn();
        QVERIFY(!session.isEmpty());
        const Http asOwner = m_stack.parseAsUser(session, "GET", QStringLiteral("/classes/BatchMemoryRequest/") + request.value(QStringLiteral("objectId")).toString());
        QCOMPARE(asOwner.status, 200);
        QVERIFY(!asOwner.json().contains(QStringLiteral("webhookSecret")));
        QVERIFY(!asOwner.body.contains(secret.mid(6)));
        QCOMPARE(asOwner.json().value(QStringLiteral("webhookUrl")).toString(), receiver.url(QStringLiteral("/hook")).toString());
        m_stack.send("POST", m_stack.parseUrl(QStringLiteral("/logout")), {},
                     {{"X-Parse-Application-Id", m_settings.appId.toUtf8()}, {"X-Parse-REST-API-Key", m_settings.restKey.toUtf8()},
                      {"X-Parse-Session-Token", session}});
    }

    void aFailingReceiverGetsItsRetriesThenTheRequestSaysSo()
    {
        FakeHttpServer receiver;
        QVERIFY(receiver.listen());
        receiver.on("POST", QStringLiteral("/hook"), FakeHttpServer::Response::raw(500, "receiver broken"));
        const QJsonObject request = submitWithWebhook(receiver.url(QStringLiteral("/hook")), WebhookSignature::generateSecret(), 2);
        QCOMPARE(request.value(QStringLiteral("webhookSent")).toBool(true), false);
        QCOMPARE(request.value(QStringLiteral("webhookAttempts")).toInt(), 3);
        QVERIFY2(request.value(QStringLiteral("webhookLastError")).toString().contains(QStringLiteral("HTTP 500: receiver broken")),
                 qPrintable(request.value(QStringLiteral("webhookLastError")).toString()));
        const QList<FakeHttpServer::Request> posts = receiver.requestsTo("POST", QStringLiteral("/hook"));
        QCOMPARE(posts.size(), 3);
        // One message, retried: the same id and body, a timestamp of its own each time.
        QCOMPARE(posts.at(2).headers.value("webhook-id"), posts.at(0).headers.value("webhook-id"));
        QCOMPARE(posts.at(2).body, posts.at(0).body);
        QCOMPARE(request.value(QStringLiteral("status")).toString(), QStringLiteral("completed")); // the batch is not the worse for it
    }

    // The demo user's chunk requests of a parent, as master, in chunk order.
    QJsonArray chunksOf(const QString &parentId)
    {
        if (m_demoId.isEmpty())
            m_demoId = m_stack.parseAsUser(m_stack.logIn(), "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"parentBatchId\":\"%1\",\"user\":{\"__type\":\"Pointer\",\"className\":\"_User\",\"objectId\":\"%2\"}}")
                                                        .arg(parentId, m_demoId));
        query.addQueryItem(QStringLiteral("order"), QStringLiteral("batchId"));
        return m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchMemoryRequest"), query).json().value(QStringLiteral("results")).toArray();
    }

    // Submits count memories in chunks of 10 with a webhook to url, waits
    // until the first chunk records the delivery (or its giving up) and
    // every chunk's run has closed (each ran its webhook activity by then);
    // the chunks, their first with the record.
    QJsonArray submitChunksWithWebhook(const QUrl &url, const QByteArray &secret, int count, const QString &batchId = {},
                                       int timeoutMs = 30000)
    {
        SubmitOptions options = submitOptions();
        options.waitForCompletion = true;
        options.chunkItems = 10;
        options.batchId = batchId;
        options.webhookUrl = url;
        options.webhookSecret = secret;
        BatchJob *job = m_processor->submit(writeBatch(QStringLiteral("hooks.jsonl"), count, QStringLiteral("hooks")), options);
        if (!StackClient::runToEnd(job) || job->error()) {
            qWarning() << "submit:" << job->errorString();
            return {};
        }
        const QString parentId = job->batch().batchId;
        delete job;
        QJsonArray chunks = chunksOf(parentId);
        if (chunks.isEmpty())
            return {};
        const QString firstId = chunks.first().toObject().value(QStringLiteral("objectId")).toString();
        if (!QTest::qWaitFor([&] { return m_stack.request(firstId).contains(QStringLiteral("webhookSent")); }, timeoutMs))
            qWarning() << "the worker recorded nothing of the webhook in time";
        for (const QJsonValue &c : std::as_const(chunks)) {
            const QString workflowId = c.toObject().value(QStringLiteral("workflowId")).toString();
            if (!QTest::qWaitFor([&] { return m_stack.workflowStatus(workflowId) == QLatin1String("WORKFLOW_EXECUTION_STATUS_COMPLETED"); }, timeoutMs))
                qWarning() << workflowId << "did not complete in time";
        }
        return chunksOf(parentId);
    }

    // Three chunks, one message: after the last has ended, the summed
    // summary under the parent's id, signed, recorded on the first chunk.
    // Meanwhile another user has planted a request of its own under the same
    // parent id that never ends: it must neither hold back nor change the summary.
    void aSubmissionOfChunksGetsOneWebhook()
    {
        const QString parentId = QStringLiteral("hooks-") + QUuid::createUuid().toString(QUuid::WithoutBraces).left(8);
        const QByteArray mallory = m_stack.signUp(QStringLiteral("mallory-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
        QVERIFY(!mallory.isEmpty());
        const Http upload = m_stack.parseAsUser(mallory, "POST", QStringLiteral("/files/planted.json.gz"), GzipCodec::compress("[{\"content\":\"x\"}]"),
                                                "application/gzip");
        QCOMPARE(upload.status, 201);
        // Its own, unseen by the demo user (who would otherwise find the batch id taken).
        const QString malloryId = m_stack.parseAsUser(mallory, "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        QVERIFY(!malloryId.isEmpty());
        const QJsonObject planted{
            {QStringLiteral("ACL"), QJsonObject{{malloryId, QJsonObject{{QStringLiteral("read"), true}, {QStringLiteral("write"), true}}}}},
            {QStringLiteral("batchId"), parentId + QStringLiteral("-004")},
            {QStringLiteral("parentBatchId"), parentId},
            {QStringLiteral("status"), QStringLiteral("pending")},
            {QStringLiteral("totalMemories"), 1000},
            {QStringLiteral("batchMetadata"), QJsonObject{{QStringLiteral("total_chunks"), 4}, {QStringLiteral("chunk_num"), 4}}},
            {QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                                          {QStringLiteral("name"), upload.json().value(QStringLiteral("name"))},
                                                          {QStringLiteral("url"), upload.json().value(QStringLiteral("url"))}}},
        };
        const Http plant = m_stack.parseAsUser(mallory, "POST", QStringLiteral("/classes/BatchMemoryRequest"), QJsonDocument(planted).toJson());
        QVERIFY2(plant.status == 201, plant.body.constData());
        // Nor may a user take the claim on the submission's webhook first.
        const Http claim = m_stack.parseAsUser(mallory, "POST", QStringLiteral("/classes/MembatchWebhookClaim"),
                                               "{\"parentBatchId\":\"" + parentId.toUtf8() + "\",\"claimedBy\":\"x\"}");
        QCOMPARE(claim.json().value(QStringLiteral("code")).toInt(), 119); // permission denied

        FakeHttpServer receiver;
        QVERIFY(receiver.listen());
        const QByteArray secret = WebhookSignature::generateSecret();
        receiver.on("POST", QStringLiteral("/hook"), [&](const FakeHttpServer::Request &r) {
            const auto verdict = WebhookSignature::verify(secret, r.headers.value("webhook-id"), r.headers.value("webhook-timestamp"),
                                                          r.headers.value("webhook-signature"), r.body);
            return verdict == WebhookSignature::Verdict::Valid ? FakeHttpServer::Response::raw(200, "ok")
                                                               : FakeHttpServer::Response::raw(401, "bad signature");
        });
        const QJsonArray chunks = submitChunksWithWebhook(receiver.url(QStringLiteral("/hook")), secret, 25, parentId);
        QCOMPARE(chunks.size(), 3);
        const QJsonObject first = chunks.first().toObject();
        QCOMPARE(first.value(QStringLiteral("batchId")).toString(), parentId + QStringLiteral("-001"));

        const QList<FakeHttpServer::Request> posts = receiver.requestsTo("POST", QStringLiteral("/hook"));
        QCOMPARE(posts.size(), 1);
        const FakeHttpServer::Request &post = posts.first();
        QCOMPARE(WebhookSignature::verify(secret, post.headers.value("webhook-id"), post.headers.value("webhook-timestamp"),
                                          post.headers.value("webhook-signature"), post.body),
                 WebhookSignature::Verdict::Valid);
        QCOMPARE(post.headers.value("webhook-id"), "msg_" + first.value(QStringLiteral("objectId")).toString().toUtf8());
        const QJsonObject body = post.json();
        QCOMPARE(body.value(QStringLiteral("type")).toString(), QStringLiteral("batch.completed"));
        const QJsonObject data = body.value(QStringLiteral("data")).toObject();
        QCOMPARE(data.value(QStringLiteral("batch_id")).toString(), parentId);
        QCOMPARE(data.value(QStringLiteral("chunks")).toInt(), 3);
        QCOMPARE(data.value(QStringLiteral("total")).toInt(), 25);
        QCOMPARE(data.value(QStringLiteral("processed")).toInt(), 25);
        QCOMPARE(data.value(QStringLiteral("successful")).toInt(), 25);
        QCOMPARE(data.value(QStringLiteral("failed")).toInt(), 0);
        // Sent after the last chunk had ended.
        QDateTime lastEnd;
        for (const QJsonValue &c : chunks)
            lastEnd = std::max(lastEnd, ParseClient::dateFrom(c.toObject().value(QStringLiteral("completedAt"))));
        QCOMPARE(data.value(QStringLiteral("completed_at")).toString(), lastEnd.toUTC().toString(Qt::ISODateWithMs));
        const QDateTime sentAt = ParseClient::dateFrom(first.value(QStringLiteral("webhookSentAt")));
        QVERIFY2(sentAt >= lastEnd, qPrintable(sentAt.toString(Qt::ISODateWithMs) + QStringLiteral(" < ") + lastEnd.toString(Qt::ISODateWithMs)));

        // Recorded once, on the first chunk.
        QCOMPARE(first.value(QStringLiteral("webhookSent")).toBool(), true);
        QCOMPARE(first.value(QStringLiteral("webhookAttempts")).toInt(), 1);
        for (int i = 1; i < chunks.size(); ++i)
            QVERIFY(!chunks.at(i).toObject().contains(QStringLiteral("webhookAttempts")));
        // The owner reads the record, not the secret.
        const QByteArray session = m_stack.logIn();
        const Http asOwner = m_stack.parseAsUser(session, "GET", QStringLiteral("/classes/BatchMemoryRequest/") + first.value(QStringLiteral("objectId")).toString());
        QCOMPARE(asOwner.json().value(QStringLiteral("webhookSent")).toBool(), true);
        QVERIFY(!asOwner.json().contains(QStringLiteral("webhookSecret")));
        QVERIFY(!asOwner.body.contains(secret.mid(6)));
        // The claim: one, readable by no user.
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"parentBatchId\":\"%1\"}").arg(parentId));
        const QJsonArray claims = m_stack.parseAsMaster("GET", QStringLiteral("/classes/MembatchWebhookClaim"), query).json().value(QStringLiteral("results")).toArray();
        QCOMPARE(claims.size(), 1);
        const Http claimAsOwner = m_stack.parseAsUser(session, "GET", QStringLiteral("/classes/MembatchWebhookClaim"), {}, "application/json", query);
        QCOMPARE(claimAsOwner.json().value(QStringLiteral("code")).toInt(), 119);
    }

    // The chunks taken by two workers at once (each with two slots): still one message.
    void aSubmissionOnTwoWorkersGetsOneWebhook()
    {
        ConnectionSettings workerSettings = m_settings;
        m_processor->setConnection(workerSettings);
        WorkerOptions options;
        options.identity = QStringLiteral("tst_endtoend-second-worker");
        options.concurrency = 2;
        options.webhookAllowPrivate = true;
        options.webhookAttempts = 3;
        options.webhookBackoffMs = 50;
        Job *second = m_processor->work(options);
        second->setAutoDelete(false);
        second->start();
        const auto stop = qScopeGuard([second] {
            second->kill();
            delete second;
        });
        actAsSubmitter(m_settings);

        FakeHttpServer receiver;
        QVERIFY(receiver.listen());
        receiver.on("POST", QStringLiteral("/hook"), FakeHttpServer::Response::raw(204, {}));
        const QJsonArray chunks = submitChunksWithWebhook(receiver.url(QStringLiteral("/hook")), WebhookSignature::generateSecret(), 80);
        QCOMPARE(chunks.size(), 8);
        QCOMPARE(receiver.requestsTo("POST", QStringLiteral("/hook")).size(), 1);
        QCOMPARE(receiver.requestsTo("POST", QStringLiteral("/hook")).first().json().value(QStringLiteral("data")).toObject()
                     .value(QStringLiteral("successful")).toInt(), 80);
        QCOMPARE(chunks.first().toObject().value(QStringLiteral("webhookSent")).toBool(), true);
        // Which worker ran which chunk's delivery activity (for the log: both, as a rule).
        QSet<QString> identities;
        for (const QJsonValue &c : chunks) {
            for (const QJsonValue &e : m_stack.history(c.toObject().value(QStringLiteral("workflowId")).toString())) {
                const QString identity = e.toObject().value(QStringLiteral("activityTaskStartedEventAttributes")).toObject()
                                             .value(QStringLiteral("identity")).toString();
                if (!identity.isEmpty())
                    identities.insert(identity);
            }
        }
        qInfo() << "activities ran on" << identities.values();
    }

    // A failing receiver: the submission's message gets its retries, from
    // the chunk that claimed it, and the first chunk says once that it was given up.
    void aSubmissionsFailingReceiverGetsItsRetriesThenTheFirstChunkSaysSo()
    {
        FakeHttpServer receiver;
        QVERIFY(receiver.listen());
        receiver.on("POST", QStringLiteral("/hook"), FakeHttpServer::Response::raw(500, "receiver broken"));
        const QJsonArray chunks = submitChunksWithWebhook(receiver.url(QStringLiteral("/hook")), WebhookSignature::generateSecret(), 30);
        QCOMPARE(chunks.size(), 3);
        const QJsonObject first = chunks.first().toObject();
        QCOMPARE(first.value(QStringLiteral("webhookSent")).toBool(true), false);
        QCOMPARE(first.value(QStringLiteral("webhookAttempts")).toInt(), 3);
        QVERIFY2(first.value(QStringLiteral("webhookLastError")).toString().contains(QStringLiteral("HTTP 500: receiver broken")),
                 qPrintable(first.value(QStringLiteral("webhookLastError")).toString()));
        const QList<FakeHttpServer::Request> posts = receiver.requestsTo("POST", QStringLiteral("/hook"));
        QCOMPARE(posts.size(), 3);
        for (const FakeHttpServer::Request &post : posts) {
            QCOMPARE(post.headers.value("webhook-id"), posts.first().headers.value("webhook-id"));
            QCOMPARE(post.body, posts.first().body);
        }
        for (int i = 1; i < chunks.size(); ++i)
            QVERIFY(!chunks.at(i).toObject().contains(QStringLiteral("webhookSent")));
    }

    // A worker that starts working, as the tests' own does; the connection is the submitter's again after.
    Job *startWorker(const QString &identity)
    {
        m_processor->setConnection(m_settings);
        WorkerOptions options;
        options.identity = identity;
        options.concurrency = 2;
        options.webhookAllowPrivate = true;
        options.webhookAttempts = 3;
        options.webhookBackoffMs = 50;
        Job *worker = m_processor->work(options);
        worker->setAutoDelete(false);
        worker->start();
        actAsSubmitter(m_settings);
        return worker;
    }

    // The worker holding the claim dies with the POST in flight (after the
    // claim, before any answer): Temporal hands the same activity to the
    // next worker when its heartbeats stop, which finds the claim its own
    // and delivers. The receiver sees the one message twice, by one id.
    void aWorkerDyingAfterItClaimedTheWebhookStillDeliversIt()
    {
        // The tests' worker makes way, so that the one killed holds the claim.
        m_worker->kill();
        delete m_worker;
        m_worker = startWorker(QStringLiteral("tst_endtoend-worker-to-die"));
        Job *dying = m_worker;
        const QString takingOver = QStringLiteral("tst_endtoend-worker-taking-over");
        FakeHttpServer receiver;
        QVERIFY(receiver.listen());
        int posts = 0;
        receiver.on("POST", QStringLiteral("/hook"), [&](const FakeHttpServer::Request &) {
            if (++posts > 1)
                return FakeHttpServer::Response::raw(200, "ok");
            QTimer::singleShot(0, this, [&, dying] {
                dying->kill();
                delete dying;
                m_worker = startWorker(takingOver);
            });
            FakeHttpServer::Response never;
            never.kind = FakeHttpServer::Response::Kind::Never;
            return never;
        });
        const QByteArray secret = WebhookSignature::generateSecret();
        const QJsonArray chunks = submitChunksWithWebhook(receiver.url(QStringLiteral("/hook")), secret, 30, {}, 120000);
        QCOMPARE(chunks.size(), 3);
        const QJsonObject first = chunks.first().toObject();
        QVERIFY2(first.value(QStringLiteral("webhookSent")).toBool(), qPrintable(QString::fromUtf8(QJsonDocument(first).toJson())));
        const QList<FakeHttpServer::Request> sent = receiver.requestsTo("POST", QStringLiteral("/hook"));
        QCOMPARE(sent.size(), 2);
        QCOMPARE(sent.at(1).headers.value("webhook-id"), sent.at(0).headers.value("webhook-id"));
        QCOMPARE(sent.at(1).body, sent.at(0).body);
        QCOMPARE(WebhookSignature::verify(secret, sent.at(1).headers.value("webhook-id"), sent.at(1).headers.value("webhook-timestamp"),
                                          sent.at(1).headers.value("webhook-signature"), sent.at(1).body),
                 WebhookSignature::Verdict::Valid);
        QCOMPARE(sent.at(1).json().value(QStringLiteral("data")).toObject().value(QStringLiteral("successful")).toInt(), 30);
        // One claim, and the chunk that made it delivered from the second worker.
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"),
                           QStringLiteral("{\"parentBatchId\":\"%1\"}").arg(first.value(QStringLiteral("parentBatchId")).toString()));
        const QJsonArray claims = m_stack.parseAsMaster("GET", QStringLiteral("/classes/MembatchWebhookClaim"), query).json().value(QStringLiteral("results")).toArray();
        QCOMPARE(claims.size(), 1);
        const QString owner = claims.first().toObject().value(QStringLiteral("claimedBy")).toString();
        QString ownerWorkflow;
        for (const QJsonValue &c : chunks)
            if (c.toObject().value(QStringLiteral("objectId")).toString() == owner)
                ownerWorkflow = c.toObject().value(QStringLiteral("workflowId")).toString();
        QVERIFY2(!ownerWorkflow.isEmpty(), qPrintable(owner));
        QStringList identities;
        for (const QJsonValue &e : m_stack.history(ownerWorkflow)) {
            const QJsonObject event = e.toObject();
            if (event.contains(QStringLiteral("activityTaskCompletedEventAttributes")))
                identities << event.value(QStringLiteral("activityTaskCompletedEventAttributes")).toObject().value(QStringLiteral("identity")).toString();
        }
        QVERIFY2(!identities.isEmpty() && identities.last() == takingOver, qPrintable(identities.join(QLatin1Char(','))));
    }

    void resultsArePagedAndOnlyTheOwnersToRead()
    {
        const QString path = StackClient::writeBatch(m_dir.filePath(QStringLiteral("results.jsonl")), 2500, QStringLiteral("res"));
        SubmitOptions options = submitOptions();
        options.waitForCompletion = true;
        options.chunkItems = 2500; // one batch: its results are read by its own id
        BatchJob *job = m_processor->submit(path, options);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        const BatchStatus batch = job->batch();
        delete job;

        // All 2500, in order, a page of at most 1000 at a time.
        QList<qsizetype> pages;
        const QList<ItemResult> all = readResults(batch.batchId, {}, nullptr, &pages);
        QCOMPARE(all.size(), 2500);
        QCOMPARE(pages, (QList<qsizetype>{1000, 1000, 500}));
        QSet<QString> ids;
        for (int i = 0; i < all.size(); ++i) {
            QCOMPARE(all.at(i).index, i);
            QVERIFY(all.at(i).isStored());
            ids.insert(all.at(i).memoryId);
        }
        QCOMPARE(ids.size(), 2500);
        // From where the last page ended, and as many as asked for.
        ResultsOptions next;
        next.after = 1999;
        next.limit = 3;
        const QList<ItemResult> three = readResults(batch.batchId, next);
        QCOMPARE(three.size(), 3);
        QCOMPARE(three.first(), all.at(2000));

        // The same from the pages the worker wrote as it went (what a
        // running batch is read from), for the owner only.
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"batchId\":\"%1\"}").arg(batch.batchId));
        query.addQueryItem(QStringLiteral("order"), QStringLiteral("first"));
        const QJsonArray stored = m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchResultPage"), query).json()
                                      .value(QStringLiteral("results")).toArray();
        QVERIFY(!stored.isEmpty());
        qint64 covered = 0;
        for (const QJsonValue &page : stored) {
            QCOMPARE(page.toObject().value(QStringLiteral("first")).toInteger(), covered);
            covered = page.toObject().value(QStringLiteral("end")).toInteger();
        }
        QCOMPARE(covered, 2500);
        // As a batch still running shows them: no file yet, and no further
        // than its counts.
        const Http reopened = m_stack.parseAsMaster("PUT", QStringLiteral("/classes/BatchMemoryRequest/") + batch.requestId, {},
                                                    "{\"resultsFile\":{\"__op\":\"Delete\"},\"status\":\"processing\",\"processedCount\":1234}");
        QCOMPARE(reopened.status, 200);
        const QList<ItemResult> soFar = readResults(batch.batchId, {});
        QCOMPARE(soFar.size(), 1234);
        QCOMPARE(soFar, all.mid(0, 1234));

        const QString name = QStringLiteral("eve-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QByteArray eve = m_stack.signUp(name);
        QVERIFY(!eve.isEmpty());
        const Http seen = m_stack.parseAsUser(eve, "GET", QStringLiteral("/classes/BatchResultPage"), {}, "application/json", query);
        QCOMPARE(seen.status, 200);
        QCOMPARE(seen.json().value(QStringLiteral("results")).toArray().size(), 0);
        const QJsonObject forged{{QStringLiteral("first"), 0}, {QStringLiteral("end"), 1}, {QStringLiteral("batchId"), batch.batchId}};
        const Http created = m_stack.parseAsUser(eve, "POST", QStringLiteral("/classes/BatchResultPage"), QJsonDocument(forged).toJson());
        QCOMPARE(created.json().value(QStringLiteral("code")).toInt(), 119);
        ConnectionSettings asEve = m_settings;
        asEve.username.clear();
        asEve.password.clear();
        asEve.sessionToken = QString::fromUtf8(eve);
        actAsSubmitter(asEve);
        int error = 0;
        QVERIFY(readResults(batch.batchId, {}, &error).isEmpty());
        QCOMPARE(error, int(Job::NotFoundError));
    }

    void aRetriedAttemptAddsNoCopies()
    {
        // As if an earlier attempt had stored items 0 and 2 and then died.
        const QString batchId = QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QByteArray json = R"([{"content":"m0"},{"content":"m1"},{"content":"m2"},{"content":"m3"}])";
        const QString requestId = m_stack.createRequestByHand(batchId, GzipCodec::compress(json), 4);
        QVERIFY2(!requestId.contains(QLatin1Char(' ')), qPrintable(requestId));
        const QByteArray idKey = BatchActivity::memoryIdKey(m_settings.masterKey);
        for (int i : {0, 2}) {
            const QJsonObject memory{{QStringLiteral("objectId"), BatchActivity::memoryObjectId(idKey, requestId, i)},
                                     {QStringLiteral("content"), QStringLiteral("m%1").arg(i)},
                                     {QStringLiteral("batchId"), batchId},
                                     {QStringLiteral("index"), i},
                                     {QStringLiteral("request"), ParseClient::pointer(QStringLiteral("BatchMemoryRequest"), requestId)},
                                     {QStringLiteral("ACL"), QJsonObject()}};
            QCOMPARE(m_stack.parseAsMaster("POST", QStringLiteral("/classes/Memory"), {}, QJsonDocument(memory).toJson()).status, 201);
        }
        const QString startError = m_stack.startByHand(batchId, requestId);
        QVERIFY2(startError.isEmpty(), qPrintable(startError));

        actAsMaster();
        BatchJob *watch = m_processor->watch(batchId, watchOptions());
        QVERIFY(StackClient::runToEnd(watch));
        QVERIFY2(watch->error() == Job::NoError, qPrintable(watch->errorString()));
        QCOMPARE(watch->batch().successCount, 4);
        delete watch;

        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"batchId\":\"%1\"}").arg(batchId));
        query.addQueryItem(QStringLiteral("count"), QStringLiteral("1"));
        query.addQueryItem(QStringLiteral("limit"), QStringLiteral("100"));
        const QJsonObject found = m_stack.parseAsMaster("GET", QStringLiteral("/classes/Memory"), query).json();
        QCOMPARE(found.value(QStringLiteral("count")).toInt(), 4);
    }

    void workerFailsABatchWhoseFileIsNotGzip()
    {
        const QString batchId = QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QString requestId = m_stack.submitByHand(batchId, "[{\"content\":\"plain, not gzip\"}] and more", 1);
        QVERIFY2(!requestId.contains(QLatin1Char(' ')), qPrintable(requestId));

        actAsMaster();
        BatchJob *watch = m_processor->watch(batchId, watchOptions());
        QVERIFY(StackClient::runToEnd(watch));
        QCOMPARE(watch->error(), int(Job::BatchFailedError));
        QVERIFY2(watch->errorString().contains(QStringLiteral("not gzip")), qPrintable(watch->errorString()));
        QCOMPARE(watch->batch().status, QStringLiteral("failed"));
        delete watch;

        // A data error is not retried: one attempt, and the workflow failed
        // (once it has had its last word on the request, already final).
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(QStringLiteral("batch-") + batchId),
                                  QStringLiteral("WORKFLOW_EXECUTION_STATUS_FAILED"), 30000);
        for (const QJsonValue &e : m_stack.history(QStringLiteral("batch-") + batchId))
            if (e.toObject().value(QStringLiteral("eventType")).toString() == QLatin1String("EVENT_TYPE_ACTIVITY_TASK_STARTED"))
                QCOMPARE(e.toObject().value(QStringLiteral("activityTaskStartedEventAttributes")).toObject()
                             .value(QStringLiteral("attempt")).toInt(), 1);
    }

    void anotherUserCanNeitherForgeNorSpoilMemories()
    {
        // A second signed-up user tries to write Memory objects (say, under
        // the ids the worker will use): only the worker's master key may.
        const QByteArray mallory = m_stack.signUp(QStringLiteral("mallory-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
        QVERIFY(!mallory.isEmpty());
        const QJsonObject forged{{QStringLiteral("objectId"), QStringLiteral("forged0123456789abcdef01")},
                                 {QStringLiteral("content"), QStringLiteral("forged")},
                                 {QStringLiteral("index"), 0}};
        const Http created = m_stack.parseAsUser(mallory, "POST", QStringLiteral("/classes/Memory"), QJsonDocument(forged).toJson());
        QCOMPARE(created.status, 400);
        QCOMPARE(created.json().value(QStringLiteral("code")).toInt(), 119); // permission denied
        const QJsonObject batchBody{{QStringLiteral("requests"), QJsonArray{QJsonObject{
            {QStringLiteral("method"), QStringLiteral("POST")}, {QStringLiteral("path"), QStringLiteral("/parse/classes/Memory")},
            {QStringLiteral("body"), forged}}}}};
        const Http viaBatch = m_stack.parseAsUser(mallory, "POST", QStringLiteral("/batch"), QJsonDocument(batchBody).toJson());
        QVERIFY2(viaBatch.body.contains("\"code\":119"), viaBatch.body.constData());

        // The demo user's batch completes with its own items, which mallory
        // can neither read nor change.
        SubmitOptions options = submitOptions();
        options.waitForCompletion = true;
        BatchJob *job = m_processor->submit(writeBatch(QStringLiteral("own.jsonl"), 20, QStringLiteral("own")), options);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        const BatchStatus batch = job->batch();
        delete job;
        QCOMPARE(batch.successCount, 20);
        QCOMPARE(m_stack.memoryCount(batch.batchId), 20);
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"batchId\":\"%1\"}").arg(batch.batchId));
        const Http seen = m_stack.parseAsUser(mallory, "GET", QStringLiteral("/classes/Memory"), {}, "application/json", query);
        QCOMPARE(seen.status, 200);
        QCOMPARE(seen.json().value(QStringLiteral("results")).toArray().size(), 0);
        const Http spoiled = m_stack.parseAsUser(mallory, "PUT", QStringLiteral("/classes/BatchMemoryRequest/") + batch.requestId,
                                                 R"({"status":"failed"})");
        QCOMPARE(spoiled.status, 404); // not even visible to mallory
        QCOMPARE(m_stack.request(batch.requestId).value(QStringLiteral("status")).toString(), QStringLiteral("completed"));
    }

    void whatAUserWritesToARequestIsChecked_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QString>("refusal");
        QTest::addColumn<QString>("field"); // another field set, with value
        QTest::addColumn<QString>("value");
        // What crashed Parse Server 9 (the LiveQuery publisher): a File
        // without a url.
        QTest::newRow("name-only file") << QByteArray(R"({"__type":"File","name":"x.json.gz"})") << "with its url" << "" << "";
        QTest::newRow("file on another host") // Parse's allowedFileUrlDomains
            << QByteArray("{\"__type\":\"File\",\"name\":\"x.json.gz\",\"url\":\"http://files.example.invalid/x.json.gz\"}")
            << "is not allowed" << "" << "";
        QTest::newRow("file elsewhere on an allowed host") // the Cloud Code
            << QByteArray("{\"__type\":\"File\",\"name\":\"0123456789abcdef0123456789abcdef_x.json.gz\","
                          "\"url\":\"http://127.0.0.1:9/0123456789abcdef0123456789abcdef_x.json.gz\"}")
            << "a file of this server" << "" << "";
        // What made gc delete anything at all with the master key: a name
        // that is a path ("../users/ID" became DELETE /parse/users/ID).
        QTest::newRow("a name that is a path") << QByteArray("{\"__type\":\"File\",\"name\":\"../users/x\",\"url\":\"FILES..%2Fusers%2Fx\"}")
                                             << "a name Parse Server gave it" << "" << "";
        // Someone else's upload (an avatar, another user's batch).
        QTest::newRow("another user's file") << QByteArray("OTHER") << "a file the signed-in user uploaded" << "" << "";
        QTest::newRow("not a file") << QByteArray("\"just a string\"") << "" << "" << "";
        // With a file of this server, other fields a user may not choose.
        QTest::newRow("another batch's workflow") << QByteArray() << "workflowId must be batch-" << "workflowId" << "batch-someone-else";
        QTest::newRow("a run id of its own") << QByteArray() << "only the worker sets workflowRunId" << "workflowRunId" << "r";
        QTest::newRow("already processing") << QByteArray() << "must be 'pending'" << "status" << "processing";
        QTest::newRow("results of its own") << QByteArray() << "only the worker sets resultsFile" << "resultsFile" << "x";
        QTest::newRow("a webhook already sent") << QByteArray() << "only the worker sets webhookSent" << "webhookSent" << "yes";
        QTest::newRow("a webhook without a secret") << QByteArray() << "webhookSecret must be" << "webhookUrl" << "http://example.com/hook";
        QTest::newRow("a webhook secret of the wrong form") << QByteArray() << "webhookUrl must be" << "webhookSecret" << "hunter2";
    }

    void whatAUserWritesToARequestIsChecked()
    {
        QFETCH(QByteArray, body);
        QFETCH(QString, refusal);
        QFETCH(QString, field);
        QFETCH(QString, value);
        const QByteArray user = m_stack.signUp(QStringLiteral("user-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
        QVERIFY(!user.isEmpty());
        const QString filesUrl = m_stack.parseUrl(QStringLiteral("/files/%1/").arg(m_settings.appId)).toString();
        body.replace("FILES", filesUrl.toUtf8());
        if (body.isEmpty() || body == "OTHER") { // a real upload of this user's, or of another's
            const QByteArray uploader = body.isEmpty() ? user : m_stack.signUp(QStringLiteral("other-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
            const Http file = m_stack.parseAsUser(uploader, "POST", QStringLiteral("/files/own.json.gz"), GzipCodec::compress("[]"),
                                                  "application/gzip");
            QCOMPARE(file.status, 201);
            body = QJsonDocument(QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                             {QStringLiteral("name"), file.json().value(QStringLiteral("name"))},
                                             {QStringLiteral("url"), file.json().value(QStringLiteral("url"))}})
                       .toJson(QJsonDocument::Compact);
        }
        QJsonObject request{{QStringLiteral("batchId"), QStringLiteral("b-") + QUuid::createUuid().toString(QUuid::WithoutBraces)},
                            {QStringLiteral("status"), QStringLiteral("pending")},
                            {QStringLiteral("totalMemories"), 1},
                            {QStringLiteral("batchDataFile"), QJsonDocument::fromJson("[" + body + "]").array().first()}};
        if (!field.isEmpty())
            request.insert(field, value);
        const Http created = m_stack.parseAsUser(user, "POST", QStringLiteral("/classes/BatchMemoryRequest"),
                                                 QJsonDocument(request).toJson(QJsonDocument::Compact));
        QCOMPARE(created.status, 400);
        QVERIFY2(created.body.contains(refusal.toUtf8()), created.body.constData());
        // Parse Server is still there.
        QCOMPARE(m_stack.send("GET", m_stack.parseUrl(QStringLiteral("/health"))).status, 200);
    }

    void aUserCannotRewriteItsRequestsCountsOrFile()
    {
        SubmitOptions options = submitOptions();
        options.waitForCompletion = true;
        BatchJob *job = m_processor->submit(writeBatch(QStringLiteral("mine.jsonl"), 3, QStringLiteral("mine")), options);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        const QString requestId = job->batch().requestId;
        delete job;
        const QByteArray session = m_stack.logIn();
        QVERIFY(!session.isEmpty());
        for (const QByteArray &change : {QByteArray(R"({"successCount":1000})"), QByteArray(R"({"status":"processing"})"),
                                         QByteArray(R"({"totalMemories":7})")}) {
            const Http r = m_stack.parseAsUser(session, "PUT", QStringLiteral("/classes/BatchMemoryRequest/") + requestId, change);
            QVERIFY2(r.status == 400 && r.body.contains("BatchMemoryRequest:"), (change + " -> " + r.body).constData());
        }
        QCOMPARE(m_stack.request(requestId).value(QStringLiteral("successCount")).toInt(), 3);
    }

    void refusesBadSettings_data()
    {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("value");
        QTest::addColumn<int>("error");
        QTest::addColumn<QString>("message");
        QTest::newRow("wrong password") << "password" << "not-the-password" << int(Job::AuthenticationError)
                                        << "wrong username or password";
        QTest::newRow("wrong application id") << "appId" << "not-the-app" << int(Job::AuthenticationError)
                                              << "unauthorized (the application id or key was refused)";
        QTest::newRow("wrong REST key") << "restKey" << "not-the-key" << int(Job::AuthenticationError)
                                        << "unauthorized (the application id or key was refused)";
        QTest::newRow("Parse unreachable") << "parseUrl" << "http://127.0.0.1:1/parse" << int(Job::NetworkError)
                                           << "cannot reach Parse";
    }

    void refusesBadSettings()
    {
        QFETCH(QString, field);
        QFETCH(QString, value);
        QFETCH(int, error);
        QFETCH(QString, message);
        ConnectionSettings wrong = m_settings;
        if (field == QLatin1String("password"))
            wrong.password = value;
        else if (field == QLatin1String("appId"))
            wrong.appId = value;
        else if (field == QLatin1String("restKey"))
            wrong.restKey = value;
        else
            wrong.parseUrl = QUrl(value);
        actAsSubmitter(wrong);
        BatchJob *job = m_processor->submit(writeBatch(QStringLiteral("refused.jsonl"), 2, QStringLiteral("r")), submitOptions());
        QVERIFY(StackClient::runToEnd(job));
        QCOMPARE(job->error(), error);
        QVERIFY2(job->errorString().contains(message), qPrintable(job->errorString()));
        for (const QString &secret : {m_settings.password, m_settings.restKey, m_settings.masterKey, value})
            QVERIFY2(field == QLatin1String("parseUrl") || !job->errorString().contains(secret), "a secret leaked into the error");
        delete job;
    }

    // Temporal is checked while the input is read: nothing is uploaded or
    // created for a batch that could not start. (A start refused after that
    // marks its request failed: tst_submitjob.)
    void anUnreachableTemporalIsFoundBeforeAnythingIsWritten()
    {
        ConnectionSettings noTemporal = m_settings;
        noTemporal.temporalUrl = QUrl(QStringLiteral("http://127.0.0.1:1"));
        actAsSubmitter(noTemporal);
        const QString path = writeBatch(QStringLiteral("nostart.jsonl"), 2, QStringLiteral("ns"));
        const QUrlQuery count{{QStringLiteral("count"), QStringLiteral("1")}, {QStringLiteral("limit"), QStringLiteral("0")}};
        const int countBefore = m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchMemoryRequest"), count).json().value(QStringLiteral("count")).toInt();
        BatchJob *job = m_processor->submit(path, submitOptions());
        QVERIFY(StackClient::runToEnd(job));
        QCOMPARE(job->error(), int(Job::NetworkError));
        QVERIFY2(job->errorString().contains(QStringLiteral("checking Temporal namespace default: cannot reach Temporal")), qPrintable(job->errorString()));
        delete job;
        const int countAfter = m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchMemoryRequest"), count).json().value(QStringLiteral("count")).toInt();
        QCOMPARE(countAfter, countBefore);
    }

    void watchReportsAnUnknownBatch()
    {
        BatchJob *job = m_processor->watch(QStringLiteral("no-such-batch"), watchOptions());
        QVERIFY(StackClient::runToEnd(job));
        QCOMPARE(job->error(), int(Job::NotFoundError));
        QVERIFY2(job->errorString().contains(QStringLiteral("no batch no-such-batch")), qPrintable(job->errorString()));
        delete job;
    }

    // 45 memories in chunks of 10: five requests under one parent id, each
    // stored by its own workflow; status on the parent adds them up.
    void aSplitSubmissionIsFollowedByItsParentId()
    {
        actAsSubmitter(m_settings);
        const QString path = writeBatch(QStringLiteral("split.jsonl"), 45, QStringLiteral("split"));
        SubmitOptions options = submitOptions();
        options.chunkItems = 10;
        options.dryRun = true;
        BatchJob *dry = m_processor->submit(path, options);
        QVERIFY(StackClient::runToEnd(dry));
        QVERIFY2(dry->error() == Job::NoError, qPrintable(dry->errorString()));
        const BatchStatus figures = dry->batch();
        delete dry;
        options.dryRun = false;
        options.waitForCompletion = true;
        BatchJob *job = m_processor->submit(path, options);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        const BatchStatus batch = job->batch();
        delete job;
        // The dry run's figures are the real run's.
        QCOMPARE(figures.inputItems, batch.inputItems);
        QCOMPARE(figures.invalidItems, batch.invalidItems);
        QCOMPARE(figures.duplicateItems, batch.duplicateItems);
        QCOMPARE(figures.totalMemories, batch.totalMemories);
        QCOMPARE(figures.chunkCount, batch.chunkCount);
        QCOMPARE(figures.rawBytes, batch.rawBytes);
        QCOMPARE(figures.compressedBytes, batch.compressedBytes);
        QCOMPARE(batch.status, QStringLiteral("completed"));
        QCOMPARE(batch.chunkCount, 5);
        QCOMPARE(batch.chunksFinal, 5);
        QCOMPARE(batch.totalMemories, 45);
        QCOMPARE(batch.successCount, 45);

        WatchOptions once = watchOptions();
        once.once = true;
        BatchJob *status = m_processor->watch(batch.batchId, once);
        QVERIFY(StackClient::runToEnd(status));
        QCOMPARE(status->error(), int(Job::NoError));
        QCOMPARE(status->batch().status, QStringLiteral("completed"));
        QCOMPARE(status->batch().processedCount, 45);
        QCOMPARE(status->batch().chunksFound, 5);
        delete status;

        int memories = 0;
        for (int n = 1; n <= 5; ++n)
            memories += m_stack.memoryCount(batch.batchId + QStringLiteral("-00%1").arg(n));
        QCOMPARE(memories, 45);

        // The parent's results are its chunks', numbered across them.
        const QList<ItemResult> all = readResults(batch.batchId, {});
        QCOMPARE(all.size(), 45);
        for (int i = 0; i < all.size(); ++i) {
            QCOMPARE(all.at(i).index, i);
            QVERIFY(all.at(i).isStored());
        }
        ResultsOptions page;
        page.after = 18; // across the second and the third chunk
        page.limit = 3;
        const QList<ItemResult> three = readResults(batch.batchId, page);
        QCOMPARE(three.size(), 3);
        QCOMPARE(three.first(), all.at(19));
        QCOMPARE(three.last(), all.at(21));
        QCOMPARE(readResults(batch.batchId + QStringLiteral("-005"), {}).size(), 5);
    }

    // The same submission five times at once, then again: one set of
    // chunks, each started once, every memory stored once, one batch id.
    void identicalSubmitsMakeOneSetOfChunks()
    {
        actAsSubmitter(m_settings);
        const QString path = writeBatch(QStringLiteral("five.jsonl"), 25, QStringLiteral("five"));
        SubmitOptions options = submitOptions();
        options.chunkItems = 10;
        QList<BatchJob *> jobs;
        QList<QSignalSpy *> spies;
        for (int i = 0; i < 5; ++i) {
            BatchJob *job = m_processor->submit(path, options);
            job->setAutoDelete(false);
            spies.append(new QSignalSpy(job, &Job::result));
            jobs.append(job);
        }
        for (BatchJob *job : std::as_const(jobs))
            job->start();
        QSet<QString> ids;
        for (int i = 0; i < 5; ++i) {
            QVERIFY(spies.at(i)->count() == 1 || spies.at(i)->wait(60000));
            QVERIFY2(jobs.at(i)->error() == Job::NoError, qPrintable(jobs.at(i)->errorString()));
            ids.insert(jobs.at(i)->batch().batchId);
        }
        qDeleteAll(spies);
        qDeleteAll(jobs);
        QCOMPARE(ids.size(), 1);
        const QString batchId = *ids.begin();

        options.waitForCompletion = true;
        BatchJob *again = m_processor->submit(path, options);
        QStringList infos;
        connect(again, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QVERIFY(StackClient::runToEnd(again));
        QVERIFY2(again->error() == Job::NoError, qPrintable(again->errorString()));
        QCOMPARE(again->batch().batchId, batchId);
        QCOMPARE(again->batch().successCount, 25);
        delete again;
        QVERIFY2(infos.join(QLatin1Char('\n')).contains(QStringLiteral("was submitted before")), qPrintable(infos.join(QLatin1Char('\n'))));

        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"parentBatchId\":\"%1\"}").arg(batchId));
        const QJsonArray chunks = m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchMemoryRequest"), query).json().value(QStringLiteral("results")).toArray();
        QCOMPARE(chunks.size(), 3);
        int memories = 0;
        for (const QJsonValue &c : chunks) {
            const QJsonObject chunk = c.toObject();
            const QString chunkId = chunk.value(QStringLiteral("batchId")).toString();
            QCOMPARE(chunk.value(QStringLiteral("status")).toString(), QStringLiteral("completed"));
            memories += m_stack.memoryCount(chunkId);
            // One run of its workflow: Temporal deduplicated the starts.
            const QJsonArray runs = m_stack.temporal("GET", QStringLiteral("/workflows?query=WorkflowId%3D%22batch-") + chunkId + QStringLiteral("%22"))
                                        .json().value(QStringLiteral("executions")).toArray();
            QCOMPARE(runs.size(), 1);
            QCOMPARE(runs.first().toObject().value(QStringLiteral("execution")).toObject().value(QStringLiteral("runId")).toString(),
                     chunk.value(QStringLiteral("workflowRunId")).toString());
        }
        QCOMPARE(memories, 25);
    }

    // Seed 000's tenant: the request and its memories point at the
    // organization, namespace and workspace; the organization's role reads
    // them; only a member may name it.
    void aSubmissionBelongsToItsOrganization()
    {
        const QString tag = QUuid::createUuid().toString(QUuid::WithoutBraces).left(8);
        const QString demoId = m_stack.parseAsUser(m_stack.logIn(), "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        QVERIFY(!demoId.isEmpty());
        auto create = [this](const QString &cls, const QJsonObject &fields) {
            return m_stack.parseAsMaster("POST", QStringLiteral("/classes/") + cls, {}, QJsonDocument(fields).toJson(QJsonDocument::Compact))
                .json().value(QStringLiteral("objectId")).toString();
        };
        const QString org = create(QStringLiteral("Organization"), {{QStringLiteral("name"), QStringLiteral("org ") + tag}});
        const QString otherOrg = create(QStringLiteral("Organization"), {{QStringLiteral("name"), QStringLiteral("other ") + tag}});
        const QString ns = create(QStringLiteral("Namespace"), {{QStringLiteral("name"), tag}, {QStringLiteral("organization"), pointerTo(QStringLiteral("Organization"), org)}});
        const QString foreignNs = create(QStringLiteral("Namespace"), {{QStringLiteral("name"), tag}, {QStringLiteral("organization"), pointerTo(QStringLiteral("Organization"), otherOrg)}});
        QVERIFY(!org.isEmpty() && !ns.isEmpty() && !foreignNs.isEmpty());
        // The demo user and a colleague are members; an outsider is not.
        const QString colleagueName = QStringLiteral("colleague-") + tag;
        const QByteArray colleague = m_stack.signUp(colleagueName);
        const QString colleagueId = m_stack.parseAsUser(colleague, "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        const QJsonObject role{{QStringLiteral("name"), QStringLiteral("org_") + org},
                               {QStringLiteral("ACL"), QJsonObject{{QStringLiteral("*"), QJsonObject{{QStringLiteral("read"), true}}}}},
                               {QStringLiteral("users"), QJsonObject{{QStringLiteral("__op"), QStringLiteral("AddRelation")},
                                                                     {QStringLiteral("objects"), QJsonArray{pointerTo(QStringLiteral("_User"), demoId),
                                                                                                            pointerTo(QStringLiteral("_User"), colleagueId)}}}}};
        QCOMPARE(m_stack.parseAsMaster("POST", QStringLiteral("/roles"), {}, QJsonDocument(role).toJson(QJsonDocument::Compact)).status, 201);

        actAsSubmitter(m_settings);
        SubmitOptions options = submitOptions();
        options.waitForCompletion = true;
        options.organizationId = org;
        options.namespaceId = ns;
        BatchJob *job = m_processor->submit(writeBatch(QStringLiteral("tenant.jsonl"), 5, QStringLiteral("tenant")), options);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        const BatchStatus batch = job->batch();
        delete job;
        const QJsonObject request = m_stack.request(batch.requestId);
        QCOMPARE(request.value(QStringLiteral("organization")).toObject().value(QStringLiteral("objectId")).toString(), org);
        QCOMPARE(request.value(QStringLiteral("namespace")).toObject().value(QStringLiteral("objectId")).toString(), ns);
        QCOMPARE(request.value(QStringLiteral("ACL")).toObject().value(QStringLiteral("role:org_") + org).toObject(),
                 QJsonObject({{QStringLiteral("read"), true}}));
        // A colleague reads the request and its memories, and cannot change them.
        QCOMPARE(m_stack.parseAsUser(colleague, "GET", QStringLiteral("/classes/BatchMemoryRequest/") + batch.requestId).status, 200);
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"batchId\":\"%1\"}").arg(batch.batchId));
        const QJsonArray memories = m_stack.parseAsUser(colleague, "GET", QStringLiteral("/classes/Memory"), {}, "application/json", query).json().value(QStringLiteral("results")).toArray();
        QCOMPARE(memories.size(), 5);
        QCOMPARE(memories.first().toObject().value(QStringLiteral("organization")).toObject().value(QStringLiteral("objectId")).toString(), org);
        QVERIFY(m_stack.parseAsUser(colleague, "PUT", QStringLiteral("/classes/BatchMemoryRequest/") + batch.requestId, "{\"status\":\"failed\"}").status >= 400);

        // A namespace of another organization, or an organization one is
        // not a member of: refused, nothing stored.
        options.waitForCompletion = false;
        options.namespaceId = foreignNs;
        job = m_processor->submit(writeBatch(QStringLiteral("tenant2.jsonl"), 2, QStringLiteral("tenant")), options);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->errorString().contains(QStringLiteral("belongs to another organization")), qPrintable(job->errorString()));
        delete job;
        options.namespaceId.clear();
        options.organizationId = otherOrg;
        job = m_processor->submit(writeBatch(QStringLiteral("tenant3.jsonl"), 2, QStringLiteral("tenant")), options);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->errorString().contains(QStringLiteral("is not a member of organization ") + otherOrg), qPrintable(job->errorString()));
        delete job;
    }

    // migrate against the stack: a class of its own made, then found up to
    // date; a field added; a type change refused with nothing changed; and
    // the built-in schema, which the stack applied at start, is up to date.
    void migrateAddsOnlyWhatIsMissing()
    {
        actAsMaster();
        const QString cls = QStringLiteral("MigrateProbe") + QUuid::createUuid().toString(QUuid::Id128).left(12);
        auto schemaFile = [this, &cls](const QString &name, const QString &fields) {
            QFile f(m_dir.filePath(name));
            if (!f.open(QIODevice::WriteOnly))
                return QString();
            f.write(QStringLiteral("{\"classes\":[{\"className\":\"%1\",\"fields\":{%2},\"indexes\":{\"a_1\":{\"a\":1}}}]}").arg(cls, fields).toUtf8());
            return f.fileName();
        };
        auto migrate = [this](const QString &path, bool dryRun, QStringList *infos) {
            MigrateOptions options;
            options.schemaPath = path;
            options.dryRun = dryRun;
            Job *job = m_processor->migrate(options);
            connect(job, &Job::infoMessage, this, [infos](const QString &m) { infos->append(m); });
            const bool ran = StackClient::runToEnd(job);
            const int error = ran ? job->error() : -1;
            const QString text = job->errorString();
            delete job;
            if (error && infos)
                infos->append(text);
            return error;
        };
        QStringList infos;
        const QString v1 = schemaFile(QStringLiteral("v1.json"), QStringLiteral("\"a\":{\"type\":\"String\"}"));
        QCOMPARE(migrate(v1, true, &infos), 0);
        QVERIFY2(infos.join(QLatin1Char('\n')).contains(QStringLiteral("would create class ") + cls), qPrintable(infos.join(QLatin1Char('\n'))));
        QCOMPARE(m_stack.parseAsMaster("GET", QStringLiteral("/schemas/") + cls).status, 400); // the dry run made nothing
        infos.clear();
        QCOMPARE(migrate(v1, false, &infos), 0);
        QVERIFY2(infos.first().startsWith(QStringLiteral("create class ") + cls), qPrintable(infos.join(QLatin1Char('\n'))));
        infos.clear();
        QCOMPARE(migrate(v1, false, &infos), 0);
        QVERIFY2(infos.join(QLatin1Char('\n')).contains(QStringLiteral("up to date")), qPrintable(infos.join(QLatin1Char('\n'))));
        infos.clear();
        QCOMPARE(migrate(schemaFile(QStringLiteral("v2.json"), QStringLiteral("\"a\":{\"type\":\"String\"},\"b\":{\"type\":\"Number\"}")), false, &infos), 0);
        QVERIFY2(infos.first() == cls + QStringLiteral(": add fields b"), qPrintable(infos.join(QLatin1Char('\n'))));
        infos.clear();
        QCOMPARE(migrate(schemaFile(QStringLiteral("v3.json"), QStringLiteral("\"a\":{\"type\":\"Number\"},\"c\":{\"type\":\"Date\"}")), false, &infos),
                 int(Job::InvalidInputError));
        QVERIFY2(infos.join(QLatin1Char('\n')).contains(cls + QStringLiteral(".a is String in Parse but Number in the schema"))
                     && infos.join(QLatin1Char('\n')).contains(QStringLiteral("nothing was changed")),
                 qPrintable(infos.join(QLatin1Char('\n'))));
        const QJsonObject fields = m_stack.parseAsMaster("GET", QStringLiteral("/schemas/") + cls).json().value(QStringLiteral("fields")).toObject();
        QVERIFY(!fields.contains(QStringLiteral("c")));
        m_stack.parseAsMaster("DELETE", QStringLiteral("/schemas/") + cls);
        infos.clear();
        QCOMPARE(migrate({}, false, &infos), 0);
        QVERIFY2(infos.join(QLatin1Char('\n')).contains(QStringLiteral("up to date")), qPrintable(infos.join(QLatin1Char('\n'))));
    }

    // Cancel on a parent id asks every chunk's workflow to stop. (Nobody
    // polls their task queue: they stay open, so each shows the request.)
    void cancelOnAParentCancelsEveryChunk()
    {
        ConnectionSettings idle = m_settings;
        idle.taskQueue = QStringLiteral("nobody-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        actAsSubmitter(idle);
        SubmitOptions options = submitOptions();
        options.chunkItems = 10;
        BatchJob *job = m_processor->submit(writeBatch(QStringLiteral("cancel-parent.jsonl"), 25, QStringLiteral("cp")), options);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        const QString parent = job->batch().batchId;
        delete job;

        BatchJob *cancel = m_processor->cancel(parent, watchOptions(), QStringLiteral("test"));
        QStringList infos;
        connect(cancel, &Job::infoMessage, this, [&infos](const QString &m) { infos << m; });
        QVERIFY(StackClient::runToEnd(cancel));
        QVERIFY2(cancel->error() == Job::NoError, qPrintable(cancel->errorString()));
        QCOMPARE(cancel->batch().chunkCount, 3);
        delete cancel;
        QVERIFY2(infos.join(QLatin1Char('\n')).contains(QStringLiteral("cancel requested for 3 chunk(s)")), qPrintable(infos.join(QLatin1Char('\n'))));
        for (int n = 1; n <= 3; ++n) {
            bool requested = false;
            for (const QJsonValue &e : m_stack.history(QStringLiteral("batch-%1-00%2").arg(parent).arg(n)))
                requested |= e.toObject().value(QStringLiteral("eventType")).toString() == QLatin1String("EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED");
            QVERIFY2(requested, qPrintable(QStringLiteral("chunk %1 of %2: no cancel request in its history").arg(n).arg(parent)));
        }
        actAsSubmitter(m_settings);
    }

    // A request a user makes by hand (curl, their own session) gets the ACL
    // membatch sets, whatever they send: read and write for its user only.
    // Parse's default is public, and the worker copies a request's ACL to
    // its memories and result pages.
    void theAclAUserSendsIsReplaced_data()
    {
        QTest::addColumn<QByteArray>("acl"); // "" sends none; VICTIM is the demo user's id
        QTest::newRow("none") << QByteArray();
        QTest::newRow("public read") << QByteArray("{\"*\":{\"read\":true}}");
        QTest::newRow("public read and write") << QByteArray("{\"*\":{\"read\":true,\"write\":true}}");
        QTest::newRow("the victim's read") << QByteArray("{\"VICTIM\":{\"read\":true}}");
        QTest::newRow("a role it is not in") << QByteArray("{\"role:org_nosuch\":{\"read\":true}}");
    }

    void theAclAUserSendsIsReplaced()
    {
        QFETCH(QByteArray, acl);
        const QByteArray demo = m_stack.logIn();
        const QString demoId = m_stack.parseAsUser(demo, "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        QVERIFY(!demoId.isEmpty());
        acl.replace("VICTIM", demoId.toUtf8());
        const QByteArray mallory = m_stack.signUp(QStringLiteral("mallory-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
        QVERIFY(!mallory.isEmpty());
        const QString malloryId = m_stack.parseAsUser(mallory, "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        const QString batchId = QStringLiteral("acl-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QString id = plantRequest(mallory, batchId, {}, acl);
        QVERIFY(!id.isEmpty());
        const QJsonObject rw{{QStringLiteral("read"), true}, {QStringLiteral("write"), true}};
        QCOMPARE(m_stack.request(id).value(QStringLiteral("ACL")).toObject(), QJsonObject({{malloryId, rw}}));
        QCOMPARE(m_stack.parseAsUser(demo, "GET", QStringLiteral("/classes/BatchMemoryRequest/") + id).status, 404);

        // Nor may its user widen it afterwards (nor with a change the
        // submitter may make, to slip it in).
        for (const QByteArray &change : {QByteArray("{\"ACL\":{\"*\":{\"read\":true}}}"),
                                         QByteArray("{\"status\":\"failed\",\"ACL\":{\"*\":{\"read\":true,\"write\":true}}}")}) {
            const Http r = m_stack.parseAsUser(mallory, "PUT", QStringLiteral("/classes/BatchMemoryRequest/") + id, change);
            QCOMPARE(r.status, 400);
            QVERIFY2(r.body.contains("no user may change it"), r.body.constData());
        }
        QCOMPARE(m_stack.request(id).value(QStringLiteral("ACL")).toObject(), QJsonObject({{malloryId, rw}}));
        QCOMPARE(m_stack.request(id).value(QStringLiteral("status")).toString(), QStringLiteral("pending"));
    }

    // Parse lets any user make a role, and role names are unique: a user who
    // made org_<id> before the operator did would read that organization's
    // batches. Only the master key makes, changes or deletes one.
    void aUserCannotMakeOrJoinAnOrganizationsRole()
    {
        const QString org = m_stack.parseAsMaster("POST", QStringLiteral("/classes/Organization"), {}, "{\"name\":\"roles\"}")
                                .json().value(QStringLiteral("objectId")).toString();
        QVERIFY(!org.isEmpty());
        const QByteArray mallory = m_stack.signUp(QStringLiteral("mallory-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
        const QString malloryId = m_stack.parseAsUser(mallory, "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        QVERIFY(!malloryId.isEmpty());
        const QJsonObject members{{QStringLiteral("__op"), QStringLiteral("AddRelation")},
                                  {QStringLiteral("objects"), QJsonArray{pointerTo(QStringLiteral("_User"), malloryId)}}};
        const QJsonObject role{{QStringLiteral("name"), QStringLiteral("org_") + org},
                               {QStringLiteral("ACL"), QJsonObject{{QStringLiteral("*"), QJsonObject{{QStringLiteral("read"), true}, {QStringLiteral("write"), true}}}}},
                               {QStringLiteral("users"), members}};
        const Http squat = m_stack.parseAsUser(mallory, "POST", QStringLiteral("/roles"), QJsonDocument(role).toJson(QJsonDocument::Compact));
        QCOMPARE(squat.status, 400);
        QVERIFY2(squat.body.contains("only the master key"), squat.body.constData());
        QUrlQuery named;
        named.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"name\":\"org_%1\"}").arg(org));
        QCOMPARE(m_stack.parseAsMaster("GET", QStringLiteral("/roles"), named).json().value(QStringLiteral("results")).toArray().size(), 0);

        // The operator's role, even one left writable: mallory cannot join it.
        const Http made = m_stack.parseAsMaster("POST", QStringLiteral("/roles"), {},
                                                QJsonDocument(QJsonObject{{QStringLiteral("name"), QStringLiteral("org_") + org},
                                                                          {QStringLiteral("ACL"), role.value(QStringLiteral("ACL"))}})
                                                    .toJson(QJsonDocument::Compact));
        QCOMPARE(made.status, 201);
        const QString roleId = made.json().value(QStringLiteral("objectId")).toString();
        const Http join = m_stack.parseAsUser(mallory, "PUT", QStringLiteral("/roles/") + roleId,
                                              QJsonDocument(QJsonObject{{QStringLiteral("users"), members}}).toJson(QJsonDocument::Compact));
        QCOMPARE(join.status, 400);
        QVERIFY2(join.body.contains("only the master key"), join.body.constData());
        QCOMPARE(m_stack.parseAsUser(mallory, "DELETE", QStringLiteral("/roles/") + roleId).status, 400);
        QCOMPARE(m_stack.parseAsMaster("GET", QStringLiteral("/roles/") + roleId).status, 200);
    }

    // Another signed-up user plants requests under the batch id the demo
    // user is about to use, a chunk naming it as parent, and a retry of it:
    // the demo user sees none of them, and its submit, status, watch, list
    // and retry go on as if they were not there.
    void aRequestPlantedByAnotherUserIsNeitherSeenNorInTheWay()
    {
        const QByteArray mallory = m_stack.signUp(QStringLiteral("mallory-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
        QVERIFY(!mallory.isEmpty());
        const QString victimBatch = QStringLiteral("victim-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QString planted = plantRequest(mallory, victimBatch, {}, {});
        const QString plantedChunk = plantRequest(mallory, victimBatch + QStringLiteral("-1"), victimBatch,
                                                  "{\"*\":{\"read\":true,\"write\":true}}");
        QVERIFY(!planted.isEmpty() && !plantedChunk.isEmpty());

        const QByteArray demo = m_stack.logIn();
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"),
                           QStringLiteral("{\"$or\":[{\"batchId\":\"%1\"},{\"parentBatchId\":\"%1\"}]}").arg(victimBatch));
        const Http seen = m_stack.parseAsUser(demo, "GET", QStringLiteral("/classes/BatchMemoryRequest"), {}, "application/json", query);
        QCOMPARE(seen.status, 200);
        QCOMPARE(seen.json().value(QStringLiteral("results")).toArray().size(), 0);

        SubmitOptions options = submitOptions();
        options.batchId = victimBatch;
        options.waitForCompletion = true;
        BatchJob *job = m_processor->submit(writeBatch(QStringLiteral("victim.jsonl"), 4, QStringLiteral("victim")), options);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        const BatchStatus batch = job->batch();
        delete job;
        QCOMPARE(batch.status, QStringLiteral("completed"));
        QCOMPARE(batch.successCount, 4);
        QVERIFY(batch.requestId != planted);

        // A retry naming the batch id: mallory's own batch of that id (ids
        // are per user), so it is made, and stays mallory's.
        const QString retry = plantRequest(mallory, QStringLiteral("retry-") + QUuid::createUuid().toString(QUuid::WithoutBraces), {},
                                           {}, victimBatch);
        QVERIFY2(!retry.isEmpty(), m_lastPlant.constData());
        QCOMPARE(m_stack.parseAsUser(demo, "GET", QStringLiteral("/classes/BatchMemoryRequest/") + retry).status, 404);
        // A retry of a batch only the victim has (one of the earlier
        // tests'): refused, saying nothing of whose it is.
        const QString victimId = m_stack.parseAsUser(demo, "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        QUrlQuery others;
        others.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"user\":{\"__type\":\"Pointer\",\"className\":\"_User\",\"objectId\":\"%1\"},"
                                                                    "\"parentBatchId\":{\"$exists\":false},\"batchId\":{\"$ne\":\"%2\"}}")
                                                         .arg(victimId, victimBatch));
        others.addQueryItem(QStringLiteral("limit"), QStringLiteral("1"));
        const QJsonArray victimsOther = m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchMemoryRequest"), others)
                                            .json().value(QStringLiteral("results")).toArray();
        QCOMPARE(victimsOther.size(), 1);
        QVERIFY(plantRequest(mallory, QStringLiteral("retry-") + QUuid::createUuid().toString(QUuid::WithoutBraces), {}, {},
                             victimsOther.first().toObject().value(QStringLiteral("batchId")).toString()).isEmpty());
        QVERIFY2(m_lastPlant.contains("retryOf must name a batch of the signed-in user"), m_lastPlant.constData());

        // status and watch show the victim's own, and nothing of mallory's.
        WatchOptions once = watchOptions();
        once.once = true;
        for (BatchJob *look : {m_processor->watch(victimBatch, once), m_processor->watch(victimBatch, watchOptions())}) {
            QVERIFY(StackClient::runToEnd(look));
            QVERIFY2(look->error() == Job::NoError, qPrintable(look->errorString()));
            QCOMPARE(look->batch().requestId, batch.requestId);
            QCOMPARE(look->batch().totalMemories, 4);
            QCOMPARE(look->batch().chunkCount, 1);
            delete look;
        }
        // The list: the victim's batch, once, as it is; no planted row.
        ListOptions listOptions;
        listOptions.limit = 1000;
        ListJob *list = m_processor->list(listOptions);
        QVERIFY(StackClient::runToEnd(list));
        QVERIFY2(list->error() == Job::NoError, qPrintable(list->errorString()));
        int rows = 0;
        for (const BatchStatus &b : list->batches()) {
            QVERIFY(b.requestId != planted && b.requestId != plantedChunk && b.requestId != retry);
            if (b.batchId == victimBatch) {
                ++rows;
                QCOMPARE(b.totalMemories, 4);
            }
        }
        QCOMPARE(rows, 1);
        delete list;
        // Nothing failed, so there is nothing to retry: the planted
        // requests are not the victim's failures.
        BatchJob *retried = m_processor->retryFailed(victimBatch, submitOptions());
        QVERIFY(StackClient::runToEnd(retried));
        QVERIFY2(retried->errorString().contains(QStringLiteral("nothing")), qPrintable(retried->errorString()));
        delete retried;
        // And mallory's are as mallory left them.
        QCOMPARE(m_stack.request(planted).value(QStringLiteral("status")).toString(), QStringLiteral("pending"));
    }

    // What the demo user sees under its batch id but is not its own (here
    // made with the master key, as an operator might; a colleague's, seen
    // through an organization's role, is the same): never resumed. One that
    // never started is left alone; one that did holds the batch id's
    // workflow (batch-<id>, one for all users), so the id is refused,
    // saying whose it is.
    void anotherUsersRequestUnderTheSameIdIsNeverResumed_data()
    {
        QTest::addColumn<QString>("status");
        QTest::addColumn<QString>("refusal"); // empty: the submit goes on
        QTest::newRow("never started") << QStringLiteral("pending") << QString();
        QTest::newRow("ended") << QStringLiteral("completed") << QStringLiteral("is used by another user's batch");
    }

    void anotherUsersRequestUnderTheSameIdIsNeverResumed()
    {
        QFETCH(QString, status);
        QFETCH(QString, refusal);
        const QString batchId = QStringLiteral("shared-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QString demoId = m_stack.parseAsUser(m_stack.logIn(), "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        QVERIFY(!demoId.isEmpty());
        // Readable by the demo user alone, as a colleague's would be through
        // the role (public, it would show in the other tests' users' lists).
        const QJsonObject foreign{{QStringLiteral("batchId"), batchId},
                                  {QStringLiteral("status"), status},
                                  {QStringLiteral("totalMemories"), 9},
                                  {QStringLiteral("inputSha256"), QString(64, QLatin1Char('0'))},
                                  {QStringLiteral("ACL"), QJsonObject{{demoId, QJsonObject{{QStringLiteral("read"), true}}}}}};
        const Http made = m_stack.parseAsMaster("POST", QStringLiteral("/classes/BatchMemoryRequest"), {},
                                                QJsonDocument(foreign).toJson(QJsonDocument::Compact));
        QCOMPARE(made.status, 201);
        const QString foreignId = made.json().value(QStringLiteral("objectId")).toString();
        auto removeIt = qScopeGuard([&] { m_stack.parseAsMaster("DELETE", QStringLiteral("/classes/BatchMemoryRequest/") + foreignId); });

        SubmitOptions options = submitOptions();
        options.batchId = batchId;
        options.waitForCompletion = refusal.isEmpty();
        BatchJob *job = m_processor->submit(writeBatch(QStringLiteral("shared.jsonl"), 3, QStringLiteral("shared")), options);
        QVERIFY(StackClient::runToEnd(job));
        if (refusal.isEmpty()) {
            QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
            QCOMPARE(job->batch().successCount, 3);
            QVERIFY(job->batch().requestId != foreignId);
        } else {
            QCOMPARE(job->error(), int(Job::InvalidInputError));
            QVERIFY2(job->errorString().contains(refusal) && job->errorString().contains(foreignId), qPrintable(job->errorString()));
        }
        delete job;
        QCOMPARE(m_stack.request(foreignId).value(QStringLiteral("status")).toString(), status);
    }

    void refusesATakenBatchId()
    {
        SubmitOptions options = submitOptions();
        options.batchId = QStringLiteral("fixed-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        BatchJob *first = m_processor->submit(writeBatch(QStringLiteral("taken1.jsonl"), 2, QStringLiteral("t")), options);
        QVERIFY(StackClient::runToEnd(first));
        QVERIFY2(first->error() == Job::NoError, qPrintable(first->errorString()));
        delete first;
        BatchJob *second = m_processor->submit(writeBatch(QStringLiteral("taken2.jsonl"), 2, QStringLiteral("t")), options);
        QVERIFY(StackClient::runToEnd(second));
        QCOMPARE(second->error(), int(Job::InvalidInputError));
        QVERIFY2(second->errorString().contains(QStringLiteral("is already taken")), qPrintable(second->errorString()));
        delete second;
    }
};

QTEST_GUILESS_MAIN(tst_EndToEnd)
#include "tst_endtoend.moc"
