// ParseMonitorJob (and WatchJob over it) against a fake Parse + Temporal and
// a fake LiveQuery: the merge of a request with its workflow, stalled, the
// polling fallback, push with catch-up, a parent of chunks, addBatch, follow.
#include "fakehttpserver.h"
#include "fakelivequery.h"
#include "monitorjob.h"
#include "watchjob.h"

#include <QJsonArray>
#include <QNetworkAccessManager>
#include <QSignalSpy>
#include <QTest>
#include <QUrlQuery>

using namespace membatch;
using Response = FakeHttpServer::Response;

// What the fake servers hold: requests by batchId, workflows by id.
struct FakeStack
{
    FakeHttpServer http;
    QHash<QString, QJsonObject> requests;
    QHash<QString, QString> workflowStatus;  // "WORKFLOW_EXECUTION_STATUS_FAILED"
    QHash<QString, QString> workflowFailure; // its failure message
    int parseFinds = 0;
    int failFinds = 0; // answer this many finds with 503 first
    int describes = 0;  // calls to Temporal

    FakeStack()
    {
        http.on("POST", QStringLiteral("/parse/login"),
                Response::json(200, {{QStringLiteral("objectId"), QStringLiteral("u1")}, {QStringLiteral("sessionToken"), QStringLiteral("r:tok")}}));
        http.on("POST", QStringLiteral("/parse/logout"), Response::json(200, {}));
        const auto find = [this](const FakeHttpServer::Request &r) {
            ++parseFinds;
            if (failFinds > 0) {
                --failFinds;
                return Response::json(503, {{QStringLiteral("error"), QStringLiteral("busy")}});
            }
            // As Node: a request line over 16 KiB is refused before Parse sees it.
            if (r.path.size() + r.query.size() > 16 * 1024)
                return Response::raw(431, QByteArray());
            const bool inBody = r.method == "POST";
            if (inBody && r.json().value(QStringLiteral("_method")).toString() != QLatin1String("GET"))
                return Response::json(400, {{QStringLiteral("error"), QStringLiteral("a create in a watch")}});
            const QJsonObject where = inBody ? r.json().value(QStringLiteral("where")).toObject()
                                             : QJsonDocument::fromJson(QUrlQuery(r.query).queryItemValue(QStringLiteral("where"), QUrl::FullyDecoded).toUtf8()).object();
            QStringList ids;
            for (const QJsonValue &clause : where.value(QStringLiteral("$or")).toArray()) {
                const QJsonObject field = clause.toObject();
                for (auto it = field.begin(); it != field.end(); ++it)
                    for (const QJsonValue &v : it.value().toObject().value(QStringLiteral("$in")).toArray())
                        ids.append(v.toString());
            }
            QJsonArray results;
            for (const QJsonObject &o : std::as_const(requests)) {
                if (ids.contains(o.value(QStringLiteral("batchId")).toString()) || ids.contains(o.value(QStringLiteral("parentBatchId")).toString()))
                    results.append(o);
            }
            return Response::json(200, {{QStringLiteral("results"), results}});
        };
        http.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"), find);
        http.on("POST", QStringLiteral("/parse/classes/BatchMemoryRequest"), find);
        http.on("GET", QStringLiteral("/api/v1/namespaces/default/workflows/"), [this](const FakeHttpServer::Request &r) {
            ++describes;
            const QStringList parts = r.path.split(QLatin1Char('/'));
            const QString id = parts.value(6); // /api/v1/namespaces/default/workflows/ID[/history]
            if (!workflowStatus.contains(id))
                return Response::json(404, {{QStringLiteral("code"), 5}, {QStringLiteral("message"), QStringLiteral("workflow not found")}});
            if (parts.value(7) == QLatin1String("history")) {
                const QJsonObject failure{{QStringLiteral("message"), workflowFailure.value(id)}};
                return Response::json(200, {{QStringLiteral("history"), QJsonObject{{QStringLiteral("events"), QJsonArray{QJsonObject{
                    {QStringLiteral("workflowExecutionFailedEventAttributes"), QJsonObject{{QStringLiteral("failure"), failure}}}}}}}}});
            }
            return Response::json(200, {{QStringLiteral("workflowExecutionInfo"),
                                         QJsonObject{{QStringLiteral("execution"), QJsonObject{{QStringLiteral("runId"), QStringLiteral("run-") + id}}},
                                                     {QStringLiteral("status"), workflowStatus.value(id)}}}});
        });
    }

    ConnectionSettings settings() const
    {
        ConnectionSettings s = settingsForFake(http);
        s.masterKey.clear();
        s.username = QStringLiteral("alice");
        s.password = QStringLiteral("pw-SECRET");
        return s;
    }

    // Strictly later each time, as Parse's updatedAt of successive writes.
    QDateTime nextUpdate()
    {
        m_lastUpdate = std::max(QDateTime::currentDateTimeUtc(), m_lastUpdate.addMSecs(1));
        return m_lastUpdate;
    }
    QDateTime m_lastUpdate;

    // A request as Parse holds it; updatedAt now.
    QJsonObject &put(const QString &batchId, const QString &status, qint64 total, qint64 processed, const QString &parent = {},
                     int chunks = 1)
    {
        QJsonObject o{{QStringLiteral("objectId"), QStringLiteral("req-") + batchId},
                      {QStringLiteral("batchId"), batchId},
                      {QStringLiteral("status"), status},
                      {QStringLiteral("workflowId"), QStringLiteral("batch-") + batchId},
                      {QStringLiteral("totalMemories"), total},
                      {QStringLiteral("processedCount"), processed},
                      {QStringLiteral("successCount"), processed},
                      {QStringLiteral("failCount"), 0},
                      {QStringLiteral("errors"), QJsonArray()},
                      {QStringLiteral("createdAt"), QDateTime::currentDateTimeUtc().addSecs(-10).toString(Qt::ISODateWithMs)},
                      {QStringLiteral("updatedAt"), nextUpdate().toString(Qt::ISODateWithMs)},
                      {QStringLiteral("batchMetadata"), QJsonObject{{QStringLiteral("total_chunks"), chunks}}}};
        if (!parent.isEmpty())
            o.insert(QStringLiteral("parentBatchId"), parent);
        if (status == QLatin1String("completed") || status == QLatin1String("failed"))
            o.insert(QStringLiteral("completedAt"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("Date")},
                                                                {QStringLiteral("iso"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)}});
        requests.insert(batchId, o);
        if (!workflowStatus.contains(QStringLiteral("batch-") + batchId))
            workflowStatus.insert(QStringLiteral("batch-") + batchId, QStringLiteral("WORKFLOW_EXECUTION_STATUS_RUNNING"));
        return requests[batchId];
    }
    void complete(const QString &batchId)
    {
        QJsonObject o = requests.value(batchId);
        put(batchId, QStringLiteral("completed"), o.value(QStringLiteral("totalMemories")).toInteger(),
            o.value(QStringLiteral("totalMemories")).toInteger(), o.value(QStringLiteral("parentBatchId")).toString(),
            o.value(QStringLiteral("batchMetadata")).toObject().value(QStringLiteral("total_chunks")).toInt());
        workflowStatus.insert(QStringLiteral("batch-") + batchId, QStringLiteral("WORKFLOW_EXECUTION_STATUS_COMPLETED"));
    }
};

class tst_MonitorJob : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;

    static WatchOptions polling(int intervalMs = 50)
    {
        WatchOptions o;
        o.push = false;
        o.pollIntervalMs = intervalMs;
        return o;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_nam.setAutoDeleteReplies(false);
    }

    void aProcessingRequestWithAFailedWorkflowIsFailed_data()
    {
        QTest::addColumn<QString>("workflowStatus");
        QTest::addColumn<QString>("outcome");
        QTest::newRow("failed") << QStringLiteral("WORKFLOW_EXECUTION_STATUS_FAILED") << QStringLiteral("failed");
        QTest::newRow("timed out") << QStringLiteral("WORKFLOW_EXECUTION_STATUS_TIMED_OUT") << QStringLiteral("failed");
        QTest::newRow("terminated") << QStringLiteral("WORKFLOW_EXECUTION_STATUS_TERMINATED") << QStringLiteral("failed");
        QTest::newRow("canceled") << QStringLiteral("WORKFLOW_EXECUTION_STATUS_CANCELED") << QStringLiteral("canceled");
    }
    void aProcessingRequestWithAFailedWorkflowIsFailed()
    {
        QFETCH(QString, workflowStatus);
        QFETCH(QString, outcome);
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 100, 40);
        stack.workflowStatus.insert(QStringLiteral("batch-b1"), workflowStatus);
        stack.workflowFailure.insert(QStringLiteral("batch-b1"), QStringLiteral("activity heartbeat timeout"));

        // Through the single-batch path: watch() and status are this.
        WatchJob job(&m_nam, stack.settings(), QStringLiteral("b1"), polling());
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(10000));
        QCOMPARE(job.error(), int(Job::BatchFailedError));
        QCOMPARE(job.batch().outcome(), outcome);
        QCOMPARE(job.batch().status, QStringLiteral("processing")); // what Parse says, kept
        QCOMPARE(job.progress().status, outcome);
        QCOMPARE(job.progress().phase, BatchProgress::Phase::Done);
        QCOMPARE(job.progress().processed, qint64(40));
        QVERIFY2(job.progress().reason.contains(QStringLiteral("activity heartbeat timeout")), qPrintable(job.progress().reason));
        QVERIFY2(job.errorString().contains(QStringLiteral("batch b1 ended ") + outcome), qPrintable(job.errorString()));
        QVERIFY(job.errorString().contains(QStringLiteral("activity heartbeat timeout")));
        QVERIFY(!job.errorString().contains(QStringLiteral("SECRET")));
    }

    void everyProgressFieldIsFilled()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 100, 10);
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("b1")}, polling());
        job.setAutoDelete(false);
        QSignalSpy changed(&job, &MonitorJob::batchChanged);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(changed.wait(5000));
        // It moves: 30 more items.
        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 100, 40);
        QTRY_VERIFY_WITH_TIMEOUT(job.batchProgress(QStringLiteral("b1")).processed == 40, 5000);
        const BatchProgress p = job.batchProgress(QStringLiteral("b1"));
        QCOMPARE(p.phase, BatchProgress::Phase::Processing);
        QCOMPARE(p.status, QStringLiteral("processing"));
        QCOMPARE(p.total, qint64(100));
        QCOMPARE(p.succeeded, qint64(40));
        QCOMPARE(p.failed, qint64(0));
        QVERIFY2(p.rate > 0, qPrintable(QString::number(p.rate)));
        QVERIFY(p.elapsedMs >= 10000); // created ten seconds ago
        QVERIFY(p.etaMs > 0);
        QVERIFY(p.estimatedCompletion > QDateTime::currentDateTimeUtc().addMSecs(-1000));
        QVERIFY(!p.stalled);
        QVERIFY(p.reason.isEmpty());
        QCOMPARE(job.progress().total, qint64(100)); // the sum of one
        QCOMPARE(job.progress().batchId, QString());

        stack.complete(QStringLiteral("b1"));
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::NoError));
        const BatchProgress done = job.batchProgress(QStringLiteral("b1"));
        QCOMPARE(done.phase, BatchProgress::Phase::Done);
        QCOMPARE(done.etaMs, qint64(0));
        QVERIFY(done.estimatedCompletion.isValid());
        QCOMPARE(job.progress().phase, BatchProgress::Phase::Done);
    }

    void stalledAfterAShortTime()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 100, 5);
        WatchOptions options = polling();
        options.stalledAfterMs = 300;
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("b1")}, options);
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QTRY_VERIFY_WITH_TIMEOUT(job.batchProgress(QStringLiteral("b1")).stalled, 5000);
        QVERIFY(job.batchProgress(QStringLiteral("b1")).reason.startsWith(QStringLiteral("no progress since ")));
        QVERIFY(job.progress().stalled);
        QVERIFY(!job.isFinished()); // stalled is said, the watch goes on

        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 100, 6);
        QTRY_VERIFY_WITH_TIMEOUT(!job.batchProgress(QStringLiteral("b1")).stalled, 5000);
        QCOMPARE(job.batchProgress(QStringLiteral("b1")).reason, QString());
        stack.complete(QStringLiteral("b1"));
        QVERIFY(result.wait(5000));
        QVERIFY(!job.batchProgress(QStringLiteral("b1")).stalled);
    }

    void aLongIdleBatchIsStalledAtOnce()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        QJsonObject &o = stack.put(QStringLiteral("b1"), QStringLiteral("pending"), 100, 0);
        o.insert(QStringLiteral("updatedAt"), QDateTime::currentDateTimeUtc().addSecs(-3600).toString(Qt::ISODateWithMs));
        WatchOptions options = polling();
        options.once = true;
        options.stalledAfterMs = 60000;
        WatchJob job(&m_nam, stack.settings(), QStringLiteral("b1"), options);
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::NoError));
        QCOMPARE(job.progress().phase, BatchProgress::Phase::Queued);
        QVERIFY(job.progress().stalled);
    }

    void pollsWhenLiveQueryIsUnreachable()
    {
        FakeStack stack; // a plain HTTP server: no WebSocket upgrade there
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 50, 0);
        WatchOptions options;
        options.pollIntervalMs = 50;
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("b1")}, options);
        job.setAutoDelete(false);
        job.setLiveQueryDelays(5, 20);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QTRY_VERIFY_WITH_TIMEOUT(job.batchProgress(QStringLiteral("b1")).total == 50, 5000);
        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 50, 25);
        QTRY_VERIFY_WITH_TIMEOUT(job.batchProgress(QStringLiteral("b1")).processed == 25, 5000);
        stack.complete(QStringLiteral("b1"));
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::NoError));
        QVERIFY(!job.isPushActive());
        QCOMPARE(job.pushedEvents(), 0);
        QVERIFY(job.parseQueries() >= 3);
    }

    void pushWithCatchUp()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        FakeLiveQuery live;
        QVERIFY(live.listen());
        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 100, 0);
        WatchOptions options;
        options.pollIntervalMs = 100; // the workflow's look; Parse only on (re)subscribe
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("b1")}, options);
        job.setAutoDelete(false);
        job.setLiveQueryUrl(live.url());
        job.setLiveQueryDelays(5, 20);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QTRY_VERIFY_WITH_TIMEOUT(job.isPushActive(), 5000);
        QTRY_VERIFY_WITH_TIMEOUT(job.batch(QStringLiteral("b1")).totalMemories == 100, 5000);
        // Subscribed: no more Parse queries are sent; wait for those sent to arrive.
        QTRY_COMPARE_WITH_TIMEOUT(stack.parseFinds, job.parseQueries(), 5000);
        const QJsonObject sub = live.messages(QStringLiteral("subscribe")).value(0);
        QCOMPARE(sub.value(QStringLiteral("sessionToken")).toString(), QStringLiteral("r:tok"));
        QCOMPARE(sub.value(QStringLiteral("query")).toObject().value(QStringLiteral("className")).toString(),
                 QStringLiteral("BatchMemoryRequest"));
        QVERIFY(!live.messages(QStringLiteral("connect")).value(0).contains(QStringLiteral("masterKey")));

        // Pushed: seen without Parse being asked.
        const int findsBefore = stack.parseFinds;
        QJsonObject moved = stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 100, 30);
        live.push(QStringLiteral("update"), moved);
        QTRY_VERIFY_WITH_TIMEOUT(job.batchProgress(QStringLiteral("b1")).processed == 30, 5000);
        QCOMPARE(stack.parseFinds, findsBefore);
        QCOMPARE(job.pushedEvents(), 1);

        // A hostile server pushes a batch nobody watches: not believed.
        QJsonObject other = moved;
        other.insert(QStringLiteral("batchId"), QStringLiteral("someone-elses"));
        live.push(QStringLiteral("update"), other);

        // Cut: what changes meanwhile is never pushed, the re-query finds it.
        const int subscribedBefore = job.subscriptions();
        live.drop();
        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 100, 70);
        QTRY_VERIFY_WITH_TIMEOUT(job.subscriptions() == subscribedBefore + 1, 5000);
        QTRY_VERIFY_WITH_TIMEOUT(job.batchProgress(QStringLiteral("b1")).processed == 70, 5000);
        QVERIFY(stack.parseFinds > findsBefore);
        QCOMPARE(job.pushedEvents(), 1);
        QVERIFY(job.batch(QStringLiteral("someone-elses")).batchId.isEmpty());

        stack.complete(QStringLiteral("b1"));
        live.push(QStringLiteral("update"), stack.requests.value(QStringLiteral("b1")));
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::NoError));
        QCOMPARE(job.batch(QStringLiteral("b1")).processedCount, qint64(100));
    }

    void watchGetsPushToo()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        FakeLiveQuery live;
        QVERIFY(live.listen());
        stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 10, 0);
        WatchOptions options;
        options.pollIntervalMs = 60000; // nothing but push can show a change in time
        WatchJob job(&m_nam, stack.settings(), QStringLiteral("b1"), options);
        job.setAutoDelete(false);
        job.monitor()->setLiveQueryUrl(live.url());
        QSignalSpy progress(&job, &Job::progressChanged);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QTRY_VERIFY_WITH_TIMEOUT(job.monitor()->isPushActive() && job.progress().total == 10, 5000);
        live.push(QStringLiteral("update"), stack.put(QStringLiteral("b1"), QStringLiteral("processing"), 10, 4));
        QTRY_COMPARE_WITH_TIMEOUT(job.progress().processed, qint64(4), 5000);
        QCOMPARE(job.batch().processedCount, qint64(4));
        stack.complete(QStringLiteral("b1"));
        live.push(QStringLiteral("update"), stack.requests.value(QStringLiteral("b1")));
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::NoError));
        QCOMPARE(job.batch().outcome(), QStringLiteral("completed"));
        QCOMPARE(job.progress().phase, BatchProgress::Phase::Done);
    }

    void twoBatchesOneAParentOfChunks()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("single"), QStringLiteral("processing"), 10, 2);
        stack.put(QStringLiteral("parent-001"), QStringLiteral("processing"), 100, 50, QStringLiteral("parent"), 2);
        stack.put(QStringLiteral("parent-002"), QStringLiteral("processing"), 60, 10, QStringLiteral("parent"), 2);
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("single"), QStringLiteral("parent")}, polling());
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QTRY_VERIFY_WITH_TIMEOUT(job.batchProgress(QStringLiteral("parent")).chunks == 2, 5000);
        const BatchProgress parent = job.batchProgress(QStringLiteral("parent"));
        QCOMPARE(parent.total, qint64(160));
        QCOMPARE(parent.processed, qint64(60));
        QCOMPARE(parent.chunksDone, 0);
        QTRY_COMPARE_WITH_TIMEOUT(job.progress().total, qint64(170), 5000);
        QCOMPARE(job.batchIds(), (QStringList{QStringLiteral("single"), QStringLiteral("parent")}));
        // Only one query for both, every time.
        for (const FakeHttpServer::Request &r : stack.http.requestsTo("GET", QStringLiteral("/parse/classes/BatchMemoryRequest")))
            QVERIFY(QUrlQuery(r.query).queryItemValue(QStringLiteral("where"), QUrl::FullyDecoded).contains(QStringLiteral("\"parent\"")));

        // The second chunk's workflow is terminated while it says processing.
        stack.complete(QStringLiteral("single"));
        stack.complete(QStringLiteral("parent-001"));
        stack.workflowStatus.insert(QStringLiteral("batch-parent-002"), QStringLiteral("WORKFLOW_EXECUTION_STATUS_TERMINATED"));
        stack.workflowFailure.insert(QStringLiteral("batch-parent-002"), QStringLiteral("terminated by an operator"));
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::BatchFailedError));
        QCOMPARE(job.batch(QStringLiteral("parent")).outcome(), QStringLiteral("partial_failure"));
        QCOMPARE(job.batch(QStringLiteral("single")).outcome(), QStringLiteral("completed"));
        QCOMPARE(job.batchProgress(QStringLiteral("parent")).chunksDone, 2);
        QVERIFY2(job.errorString().contains(QStringLiteral("batch parent ended partial_failure")), qPrintable(job.errorString()));
        QVERIFY2(job.batchProgress(QStringLiteral("parent")).reason.contains(QStringLiteral("terminated by an operator")),
                 qPrintable(job.batchProgress(QStringLiteral("parent")).reason));
    }

    // Another user's request naming the watched id as its parent (a
    // colleague's, seen through an organization's role): a batch id is
    // unique per user only, so it is not one of the user's chunks.
    void anotherUsersChunkIsNotWatched()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        const QJsonObject alice{{QStringLiteral("__type"), QStringLiteral("Pointer")}, {QStringLiteral("className"), QStringLiteral("_User")},
                                {QStringLiteral("objectId"), QStringLiteral("u1")}};
        QJsonObject mallory = alice;
        mallory.insert(QStringLiteral("objectId"), QStringLiteral("mallory"));
        stack.put(QStringLiteral("parent-001"), QStringLiteral("processing"), 100, 50, QStringLiteral("parent"), 2)
            .insert(QStringLiteral("user"), alice);
        stack.put(QStringLiteral("parent-002"), QStringLiteral("processing"), 60, 10, QStringLiteral("parent"), 2)
            .insert(QStringLiteral("user"), alice);
        stack.put(QStringLiteral("parent-3"), QStringLiteral("completed"), 1000, 1000, QStringLiteral("parent"), 2)
            .insert(QStringLiteral("user"), mallory);
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("parent")}, polling());
        job.setAutoDelete(false);
        job.start();
        QTRY_VERIFY_WITH_TIMEOUT(job.batchProgress(QStringLiteral("parent")).chunks == 2, 5000);
        QCOMPARE(job.batchProgress(QStringLiteral("parent")).total, qint64(160));
        QCOMPARE(job.batchProgress(QStringLiteral("parent")).processed, qint64(60));
        QCOMPARE(job.batch(QStringLiteral("parent")).chunksFound, 2);
        job.kill();
    }

    void twoHundredLongIdsAreWatchedInOneQuery()
    {
        // 200 ids of 100 characters: a where of 45 KiB, over what a URL may hold.
        FakeStack stack;
        QVERIFY(stack.http.listen());
        QStringList ids;
        for (int i = 0; i < 200; ++i) {
            ids << QStringLiteral("%1").arg(i, 100, 10, QLatin1Char('b'));
            stack.put(ids.last(), QStringLiteral("completed"), 10, 10);
        }
        ParseMonitorJob job(&m_nam, stack.settings(), ids, polling());
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(10000));
        QVERIFY2(job.error() == Job::NoError, qPrintable(job.errorString()));
        for (const QString &id : std::as_const(ids))
            QCOMPARE(job.batch(id).successCount, qint64(10));
        QCOMPARE(stack.parseFinds, 1);
    }

    void manyOpenChunksAreNotAllDescribedEveryPoll()
    {
        // A parent of 400 open chunks, polled every 50 ms: Temporal is asked
        // about each once in a while, and Parse every poll all the same.
        FakeStack stack;
        QVERIFY(stack.http.listen());
        constexpr int chunks = 400;
        for (int i = 1; i <= chunks; ++i)
            stack.put(QStringLiteral("p-%1").arg(i, 3, 10, QLatin1Char('0')), QStringLiteral("processing"), 10, 1, QStringLiteral("p"), chunks);
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("p")}, polling());
        job.setAutoDelete(false);
        job.start();
        QTRY_VERIFY_WITH_TIMEOUT(stack.describes >= chunks, 20000); // each once, first
        const int finds = stack.parseFinds;
        QTRY_VERIFY_WITH_TIMEOUT(stack.parseFinds >= finds + 10, 5000);
        QVERIFY2(stack.describes < chunks + 100, qPrintable(QString::number(stack.describes)));
        QCOMPARE(job.batchProgress(QStringLiteral("p")).processed, qint64(chunks));
        job.kill();
    }

    void addBatchWhileRunning()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("a"), QStringLiteral("processing"), 10, 1);
        stack.put(QStringLiteral("b"), QStringLiteral("pending"), 20, 0);
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("a")}, polling());
        job.setAutoDelete(false);
        QSignalSpy changed(&job, &MonitorJob::batchChanged);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(changed.wait(5000));
        job.addBatch(QStringLiteral("b"));
        job.addBatch(QStringLiteral("b")); // twice: once
        QTRY_COMPARE_WITH_TIMEOUT(job.batch(QStringLiteral("b")).totalMemories, qint64(20), 5000);
        QCOMPARE(job.batchIds(), (QStringList{QStringLiteral("a"), QStringLiteral("b")}));
        QCOMPARE(job.batchProgress(QStringLiteral("b")).phase, BatchProgress::Phase::Queued);
        stack.complete(QStringLiteral("a"));
        QVERIFY(!result.wait(300)); // b has not ended
        stack.complete(QStringLiteral("b"));
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::NoError));
        QCOMPARE(job.progress().processed, qint64(30));
    }

    void followKeepsRunning()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("a"), QStringLiteral("completed"), 10, 10);
        stack.put(QStringLiteral("c"), QStringLiteral("processing"), 5, 1);
        WatchOptions options = polling();
        options.follow = true;
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("a"), QStringLiteral("nobody-sees-it")}, options);
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        QSignalSpy info(&job, &Job::infoMessage);
        job.start();
        QTRY_VERIFY_WITH_TIMEOUT(job.batch(QStringLiteral("a")).isFinal(), 5000);
        QVERIFY(!result.wait(300)); // all ended: a monitor that follows stays
        QVERIFY(info.size() >= 1);
        QVERIFY(info.first().first().toString().contains(QStringLiteral("no batch nobody-sees-it")));
        job.addBatch(QStringLiteral("c"));
        QTRY_COMPARE_WITH_TIMEOUT(job.batch(QStringLiteral("c")).processedCount, qint64(1), 5000);
        stack.complete(QStringLiteral("c"));
        QTRY_VERIFY_WITH_TIMEOUT(job.batch(QStringLiteral("c")).isFinal(), 5000);
        QVERIFY(!job.isFinished());
        QVERIFY(job.kill());
        QCOMPARE(job.error(), int(Job::KilledError));
    }

    void anIdNobodyCanSeeIsNotFound()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("a"), QStringLiteral("processing"), 10, 1);
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("a"), QStringLiteral("ghost")}, polling());
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::NotFoundError));
        QCOMPARE(job.errorString(), QStringLiteral("no batch ghost in Parse (or it is not visible to alice)"));
    }

    void ridesOutABusyServer()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.failFinds = 2; // 503 twice, then answers
        stack.put(QStringLiteral("a"), QStringLiteral("completed"), 10, 10);
        stack.workflowStatus.insert(QStringLiteral("batch-a"), QStringLiteral("WORKFLOW_EXECUTION_STATUS_COMPLETED"));
        WatchOptions options = polling();
        options.once = true;
        WatchJob job(&m_nam, stack.settings(), QStringLiteral("a"), options);
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(15000));
        QCOMPARE(job.error(), int(Job::NoError));
        QCOMPARE(stack.parseFinds, 3);
        QCOMPARE(job.batch().outcome(), QStringLiteral("completed"));
        QCOMPARE(job.batch().workflowStatus, QStringLiteral("completed")); // looked at once, to show how it ended
    }

    void anErrorNamesAFewOfManyBatches()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        const Response broken = Response::json(500, {{QStringLiteral("code"), 1}, {QStringLiteral("message"), QStringLiteral("Internal server error.")}});
        stack.http.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"), broken);
        stack.http.on("POST", QStringLiteral("/parse/classes/BatchMemoryRequest"), broken);
        QStringList ids;
        for (int i = 0; i < 200; ++i)
            ids << QStringLiteral("%1").arg(i, 100, 10, QLatin1Char('b'));
        ParseMonitorJob job(&m_nam, stack.settings(), ids, polling());
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(10000));
        QCOMPARE(job.error(), int(Job::ServerError));
        // 200 ids of 100 characters were a 20 KB message.
        QVERIFY2(job.errorString().size() < 1000, qPrintable(job.errorString().left(300)));
        QVERIFY2(job.errorString().startsWith(QStringLiteral("reading batch %1, %2, %3 and 197 more from Parse: ").arg(ids.at(0), ids.at(1), ids.at(2))),
                 qPrintable(job.errorString()));
    }

    void aServerErrorEndsTheWatchWithWhere()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.http.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"),
                      Response::json(500, {{QStringLiteral("code"), 1}, {QStringLiteral("message"), QStringLiteral("Internal server error.")}}));
        WatchJob job(&m_nam, stack.settings(), QStringLiteral("a"), polling());
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::ServerError));
        QVERIFY2(job.errorString().startsWith(QStringLiteral("reading batch a from Parse: ")), qPrintable(job.errorString()));
    }

    void twoFailedLooksEndItOnce()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("a"), QStringLiteral("processing"), 10, 1);
        stack.put(QStringLiteral("b"), QStringLiteral("processing"), 10, 1);
        // Both workflows' looks fail at once (in flight together).
        stack.http.on("GET", QStringLiteral("/api/v1/namespaces/default/workflows/"),
                      Response::json(500, {{QStringLiteral("code"), 13}, {QStringLiteral("message"), QStringLiteral("internal")}}));
        ParseMonitorJob job(&m_nam, stack.settings(), {QStringLiteral("a"), QStringLiteral("b")}, polling());
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(5000));
        QVERIFY2(job.errorString().contains(QStringLiteral("from Temporal")), qPrintable(job.errorString()));
        QVERIFY(!result.wait(300));
        QCOMPARE(result.size(), 1);
        QCOMPARE(stack.http.requestsTo("POST", QStringLiteral("/parse/logout")).size(), 1); // one sign-out
    }

    void aCompletedWorkflowWithoutAFinalRequestIsSaid()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        stack.put(QStringLiteral("a"), QStringLiteral("processing"), 10, 10);
        stack.workflowStatus.insert(QStringLiteral("batch-a"), QStringLiteral("WORKFLOW_EXECUTION_STATUS_COMPLETED"));
        WatchJob job(&m_nam, stack.settings(), QStringLiteral("a"), polling());
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::ServerError));
        QVERIFY2(job.errorString().contains(QStringLiteral("the worker did not record a final status")), qPrintable(job.errorString()));
    }

    void killStopsEverything()
    {
        FakeStack stack;
        QVERIFY(stack.http.listen());
        FakeLiveQuery live;
        QVERIFY(live.listen());
        stack.put(QStringLiteral("a"), QStringLiteral("processing"), 10, 1);
        auto *job = new ParseMonitorJob(&m_nam, stack.settings(), {QStringLiteral("a")}, WatchOptions());
        job->setLiveQueryUrl(live.url());
        QPointer<ParseMonitorJob> alive(job);
        QSignalSpy result(job, &Job::result);
        job->start();
        QTRY_VERIFY_WITH_TIMEOUT(job->isPushActive(), 5000);
        QVERIFY(job->kill());
        QCOMPARE(result.size(), 1);
        QTRY_VERIFY_WITH_TIMEOUT(alive.isNull(), 5000); // autodelete
    }
};

QTEST_GUILESS_MAIN(tst_MonitorJob)
#include "tst_monitorjob.moc"
