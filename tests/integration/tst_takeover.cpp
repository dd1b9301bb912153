// The reference worker under the faults Temporal exists for, on the real
// server: a worker SIGKILLed mid-batch (its task goes to another worker
// once its heartbeats stop), the Temporal server restarted mid-batch, a
// cancel mid-batch and one before any worker took the batch, a worker
// stopped by SIGTERM (handing its task back, or finishing it), Parse Server
// gone for a while mid-batch, Parse Server killed (the stack starts it
// again), and a worker that cannot reach Parse (the retry policy, then the
// workflow's last word on the request).
// Workers run as `membatch work` processes, so they can be killed for real.
// Each batch must end with exactly its N Memory objects: none lost, none twice.
#include "gzipcodec.h"
#include "stackclient.h"

#include <QDateTime>
#include <QFile>
#include <QProcess>
#include <QTest>

#include <csignal>

using namespace membatch;

namespace {

QDateTime eventTime(const QJsonObject &event)
{
    return QDateTime::fromString(event.value(QStringLiteral("eventTime")).toString(), Qt::ISODateWithMs);
}

// The first event of this type.
QJsonObject firstEvent(const QJsonArray &events, const QString &type)
{
    for (const QJsonValue &e : events)
        if (e.toObject().value(QStringLiteral("eventType")).toString() == type)
            return e.toObject();
    return {};
}

// The last event of this type, and its attributes.
QJsonObject lastEvent(const QJsonArray &events, const QString &type, QJsonObject *attributes = nullptr)
{
    for (qsizetype i = events.size() - 1; i >= 0; --i) {
        const QJsonObject event = events.at(i).toObject();
        if (event.value(QStringLiteral("eventType")).toString() != type)
            continue;
        if (attributes) {
            for (auto it = event.begin(); it != event.end(); ++it)
                if (it.key().endsWith(QLatin1String("EventAttributes")))
                    *attributes = it.value().toObject();
        }
        return event;
    }
    return {};
}

} // namespace

class tst_Takeover : public QObject
{
    Q_OBJECT

private:
    StackClient m_stack;
    QList<QProcess *> m_workers;
    QStringList m_workflows; // started by this test: ended in cleanup()

    // A running `membatch work` process; extra environment on top of the stack's.
    QProcess *startWorker(const QString &identity, const QStringList &extraArgs = {},
                          const QList<QPair<QString, QString>> &env = {})
    {
        auto *worker = new QProcess(this);
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        for (const auto &e : env)
            environment.insert(e.first, e.second);
        worker->setProcessEnvironment(environment);
        worker->setProcessChannelMode(QProcess::MergedChannels);
        worker->start(QStringLiteral(MEMBATCH_BIN), QStringList{QStringLiteral("work"), QStringLiteral("--identity"), identity} + extraArgs);
        m_workers << worker;
        return worker->waitForStarted() ? worker : nullptr;
    }

    struct Run
    {
        int exitCode = -1;
        QByteArray output;
    };

    // Runs `membatch ARGS` to its end, as the stack's user, or with the
    // master key when asMaster.
    static Run membatch(const QStringList &args, bool asMaster)
    {
        QProcess cli;
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        if (asMaster) {
            environment.remove(QStringLiteral("MEMBATCH_USERNAME"));
            environment.remove(QStringLiteral("MEMBATCH_PASSWORD"));
        }
        cli.setProcessEnvironment(environment);
        cli.setProcessChannelMode(QProcess::MergedChannels);
        cli.start(QStringLiteral(MEMBATCH_BIN), args);
        if (!cli.waitForFinished(90000))
            return {};
        return {cli.exitCode(), cli.readAll()};
    }

    // A batch of n memories, created and started by hand; its request id.
    QString submit(const QString &batchId, int n)
    {
        QByteArray json = "[";
        for (int i = 0; i < n; ++i)
            json += "{\"content\":\"takeover memory " + QByteArray::number(i) + "\",\"tags\":[\"takeover\"]},";
        json.back() = ']';
        m_workflows << QStringLiteral("batch-") + batchId;
        return m_stack.submitByHand(batchId, GzipCodec::compress(json), n);
    }

    // The stack's supervisor of Parse Server (its child is the server).
    static pid_t parseSupervisor()
    {
        QFile pidFile(qEnvironmentVariable("MEMBATCH_STACK_DIR") + QStringLiteral("/parse.pid"));
        return pidFile.open(QIODevice::ReadOnly) ? pid_t(pidFile.readAll().trimmed().toLongLong()) : 0;
    }

    qint64 processed(const QString &requestId)
    {
        return m_stack.request(requestId).value(QStringLiteral("processedCount")).toInteger();
    }

    struct Batch
    {
        QString batchId;
        QString requestId;
        QString workflowId;
        QProcess *worker = nullptr;
    };

    // A batch of n submitted by hand and a worker that has stored its first
    // groups: the moment to strike. Check QTest::currentTestFailed() after.
    // The worker stores in small groups, one at a time, so that the batch
    // is still going when the test strikes.
    Batch startMidBatch(const QString &prefix, int n, const QString &identity, QStringList args = {})
    {
        args << QStringLiteral("--group-size") << QStringLiteral("5") << QStringLiteral("--groups-in-flight") << QStringLiteral("1");
        Batch b;
        b.batchId = prefix + QUuid::createUuid().toString(QUuid::WithoutBraces);
        b.workflowId = QStringLiteral("batch-") + b.batchId;
        b.requestId = submit(b.batchId, n);
        [&] {
            QVERIFY2(!b.requestId.contains(QLatin1Char(' ')), qPrintable(b.requestId));
            b.worker = startWorker(identity, args);
            QVERIFY(b.worker);
            QTRY_VERIFY_WITH_TIMEOUT(processed(b.requestId) >= 200, 30000);
        }();
        return b;
    }

    // The batch is settled as expected: status, counts, and exactly `stored`
    // Memory objects.
    void verifyEnd(const QString &batchId, const QString &requestId, const QString &status, qint64 stored)
    {
        const QJsonObject r = m_stack.request(requestId);
        QCOMPARE(r.value(QStringLiteral("status")).toString(), status);
        QCOMPARE(r.value(QStringLiteral("successCount")).toInteger(), stored);
        QCOMPARE(m_stack.memoryCount(batchId), int(stored));
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_stack.settings.missingForWorker().isEmpty(), "the stack's env is not set: run under tests/stack/with-env.sh");
    }

    void cleanup()
    {
        for (QProcess *worker : std::as_const(m_workers)) {
            worker->kill();
            worker->waitForFinished(5000);
        }
        qDeleteAll(m_workers);
        m_workers.clear();
        // A test that failed half-way leaves no task behind for the next
        // test's workers to take.
        for (const QString &id : std::as_const(m_workflows))
            m_stack.temporal("POST", QStringLiteral("/workflows/%1/terminate").arg(id), R"({"reason":"tst_takeover cleanup"})");
        m_workflows.clear();
    }

    void aKilledWorkersTaskGoesToAnotherWorker()
    {
        const int n = 3000;
        const Batch b = startMidBatch(QStringLiteral("takeover-"), n, QStringLiteral("takeover-A"));
        if (QTest::currentTestFailed())
            return;
        QProcess *first = b.worker;
        first->kill(); // SIGKILL: no goodbye, no report; the heartbeats just stop
        QVERIFY(first->waitForFinished(5000));
        const QDateTime killedAt = QDateTime::currentDateTimeUtc();
        const qint64 processedWhenKilled = processed(b.requestId);
        QVERIFY2(processedWhenKilled < n, "the batch ended before the kill: make it larger");

        QProcess *second = startWorker(QStringLiteral("takeover-B"), {QStringLiteral("--max-tasks"), QStringLiteral("1")});
        QVERIFY(second);
        QVERIFY2(second->waitForFinished(90000), second->readAll().constData());
        QCOMPARE(second->exitCode(), 0);
        verifyEnd(b.batchId, b.requestId, QStringLiteral("completed"), n);

        // The second attempt went to B, after the heartbeat timeout (10 s) and
        // the retry policy's first backoff (2 s), not after the hour of
        // start-to-close.
        const QJsonArray events = m_stack.history(b.workflowId);
        QJsonObject started;
        const QJsonObject startedEvent = lastEvent(events, QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_STARTED"), &started);
        QCOMPARE(started.value(QStringLiteral("attempt")).toInt(), 2);
        QCOMPARE(started.value(QStringLiteral("identity")).toString(), QStringLiteral("takeover-B"));
        QJsonObject failure = started.value(QStringLiteral("lastFailure")).toObject();
        QCOMPARE(failure.value(QStringLiteral("timeoutFailureInfo")).toObject().value(QStringLiteral("timeoutType")).toString(),
                 QStringLiteral("TIMEOUT_TYPE_HEARTBEAT"));
        const qint64 waitedMs = killedAt.msecsTo(eventTime(startedEvent));
        qInfo("attempt 2 started %lld ms after the kill (%lld of %d processed then)", waitedMs, processedWhenKilled, n);
        QVERIFY2(waitedMs >= 5000 && waitedMs < 40000, qPrintable(QString::number(waitedMs)));
        // The run closes once the workflow worker has seen the result.
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(b.workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_COMPLETED"), 30000);
    }

    void aWorkerStoppedMidBatchHandsItsTaskBack()
    {
        // SIGTERM with no grace: the worker stops after its groups in flight,
        // records the counts and fails the attempt as retryable, at once; the
        // next worker resumes after the counts, and the batch ends exact.
        const int n = 3000;
        const Batch b = startMidBatch(QStringLiteral("stop-"), n, QStringLiteral("stop-A"), {QStringLiteral("--grace"), QStringLiteral("0")});
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(::kill(pid_t(b.worker->processId()), SIGTERM), 0);
        QVERIFY2(b.worker->waitForFinished(10000), "the worker did not stop within 10 s of SIGTERM");
        const QByteArray said = b.worker->readAll();
        QVERIFY2(b.worker->exitStatus() == QProcess::NormalExit && b.worker->exitCode() == 0, said.constData());
        QVERIFY2(said.contains("handed back after"), said.constData());
        const qint64 recorded = processed(b.requestId);
        QVERIFY2(recorded > 0 && recorded < n, qPrintable(QString::number(recorded)));

        QProcess *second = startWorker(QStringLiteral("stop-B"), {QStringLiteral("--max-tasks"), QStringLiteral("1")});
        QVERIFY(second);
        QVERIFY2(second->waitForFinished(60000), second->readAll().constData());
        QCOMPARE(second->exitCode(), 0);
        verifyEnd(b.batchId, b.requestId, QStringLiteral("completed"), n);
        QJsonObject started;
        lastEvent(m_stack.history(b.workflowId), QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_STARTED"), &started);
        QCOMPARE(started.value(QStringLiteral("attempt")).toInt(), 2);
        QCOMPARE(started.value(QStringLiteral("identity")).toString(), QStringLiteral("stop-B"));
        const QJsonObject failure = started.value(QStringLiteral("lastFailure")).toObject();
        QCOMPARE(failure.value(QStringLiteral("applicationFailureInfo")).toObject().value(QStringLiteral("type")).toString(),
                 QStringLiteral("WorkerShutdown"));
        qInfo("handed back after %lld of %d; attempt 2 finished the rest", recorded, n);
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(b.workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_COMPLETED"), 30000);
    }

    void aWorkerStoppedWithGraceFinishesItsTask()
    {
        // SIGTERM with time to spare: no new task is taken, the one held
        // is finished on the same attempt, and the worker exits.
        const int n = 2000;
        const Batch b = startMidBatch(QStringLiteral("grace-"), n, QStringLiteral("grace-A"), {QStringLiteral("--grace"), QStringLiteral("60")});
        if (QTest::currentTestFailed())
            return;
        QCOMPARE(::kill(pid_t(b.worker->processId()), SIGTERM), 0);
        QVERIFY2(b.worker->waitForFinished(60000), "the worker did not finish within its grace");
        const QByteArray said = b.worker->readAll();
        QVERIFY2(b.worker->exitCode() == 0, said.constData());
        QVERIFY2(said.contains("no new tasks"), said.constData());
        verifyEnd(b.batchId, b.requestId, QStringLiteral("completed"), n);
        QJsonObject started;
        lastEvent(m_stack.history(b.workflowId), QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_STARTED"), &started);
        QCOMPARE(started.value(QStringLiteral("attempt")).toInt(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(b.workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_COMPLETED"), 30000);
    }

    void aTemporalRestartMidBatchLosesNothing()
    {
        const int n = 5000;
        const Batch b = startMidBatch(QStringLiteral("restart-"), n, QStringLiteral("restart-A"),
                                      {QStringLiteral("--max-tasks"), QStringLiteral("1")});
        if (QTest::currentTestFailed())
            return;

        QProcess restart;
        restart.setProcessChannelMode(QProcess::MergedChannels);
        restart.start(QStringLiteral(STACK_SH),
                      {QStringLiteral("restart"), QStringLiteral("temporal"), QStringLiteral("--dir"),
                       qEnvironmentVariable("MEMBATCH_STACK_DIR")});
        QVERIFY(restart.waitForFinished(60000));
        const QByteArray said = restart.readAll();
        QVERIFY2(restart.exitCode() == 0, said.constData());
        qInfo("%s", said.trimmed().constData());
        const qint64 processedAfterRestart = processed(b.requestId);
        QVERIFY2(processedAfterRestart < n, "the batch ended before the restart: make it larger");

        // The worker rides it out and finishes the same task.
        QVERIFY2(b.worker->waitForFinished(90000), b.worker->readAll().constData());
        QCOMPARE(b.worker->exitCode(), 0);
        verifyEnd(b.batchId, b.requestId, QStringLiteral("completed"), n);
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(b.workflowId),
                                  QStringLiteral("WORKFLOW_EXECUTION_STATUS_COMPLETED"), 30000);
        QJsonObject started;
        lastEvent(m_stack.history(b.workflowId), QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_STARTED"), &started);
        QCOMPARE(started.value(QStringLiteral("attempt")).toInt(), 1);
    }

    void aCancelMidBatchStopsTheWorkerAndRecordsWhatItStored()
    {
        const int n = 10000; // the cancel arrives with the next heartbeat, up to 3.3 s later
        // Two tasks: the batch, then the workflow's settling (which finds the
        // request already canceled by the worker, and leaves it).
        const Batch b = startMidBatch(QStringLiteral("cancel-"), n, QStringLiteral("cancel-A"),
                                      {QStringLiteral("--max-tasks"), QStringLiteral("2")});
        if (QTest::currentTestFailed())
            return;
        // The batch was made with the master key and no ACL: the stack's
        // user cannot see it, so cannot cancel it either.
        const Run notYours = membatch({QStringLiteral("cancel"), b.batchId}, false);
        QCOMPARE(notYours.exitCode, 1);
        QVERIFY2(notYours.output.contains("not visible to"), notYours.output.constData());
        QCOMPARE(m_stack.workflowStatus(b.workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_RUNNING"));

        const Run cancel = membatch({QStringLiteral("cancel"), b.batchId, QStringLiteral("--wait"), QStringLiteral("--reason"),
                                     QStringLiteral("tst_takeover")}, true);
        QVERIFY2(cancel.exitCode == 0, cancel.output.constData());
        QVERIFY2(cancel.output.contains("cancel requested") && cancel.output.contains(": canceled"), cancel.output.constData());

        QVERIFY2(b.worker->waitForFinished(60000), b.worker->readAll().constData());
        QCOMPARE(b.worker->exitCode(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(b.workflowId),
                                  QStringLiteral("WORKFLOW_EXECUTION_STATUS_CANCELED"), 30000);
        const QJsonObject r = m_stack.request(b.requestId);
        const qint64 stored = r.value(QStringLiteral("successCount")).toInteger();
        qInfo("canceled after %lld of %d", stored, n);
        QVERIFY(stored >= 200 && stored < n);
        QCOMPARE(r.value(QStringLiteral("processedCount")).toInteger(), stored);
        verifyEnd(b.batchId, b.requestId, QStringLiteral("canceled"), stored);
        // The workflow waited for the worker's report: the activity was
        // canceled by the worker before the run closed.
        const QJsonArray events = m_stack.history(b.workflowId);
        QVERIFY(!lastEvent(events, QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_CANCELED")).isEmpty());
        QJsonObject requested;
        lastEvent(events, QStringLiteral("EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED"), &requested);
        QCOMPARE(requested.value(QStringLiteral("cause")).toString(), QStringLiteral("tst_takeover"));

        // Once more: it has ended, and says so.
        const Run again = membatch({QStringLiteral("cancel"), b.batchId}, true);
        QCOMPARE(again.exitCode, 0);
        QVERIFY2(again.output.contains("already ended (canceled)"), again.output.constData());
    }

    void aParseOutageMidBatchIsRiddenOut()
    {
        // Parse Server gone for 15 s mid-batch (its supervisor paused, so
        // it stays gone): the worker keeps asking, within the same attempt,
        // and the batch still ends with exactly its memories.
        const int n = 3000;
        const Batch b = startMidBatch(QStringLiteral("outage-"), n, QStringLiteral("outage-A"),
                                      {QStringLiteral("--max-tasks"), QStringLiteral("1")});
        if (QTest::currentTestFailed())
            return;
        const pid_t supervisor = parseSupervisor();
        QVERIFY(supervisor > 0);
        QCOMPARE(::kill(supervisor, SIGSTOP), 0);
        QCOMPARE(QProcess::execute(QStringLiteral("pkill"), {QStringLiteral("-KILL"), QStringLiteral("-P"), QString::number(supervisor)}), 0);
        const QUrl health = m_stack.parseUrl(QStringLiteral("/health"));
        const bool wentDown = QTest::qWaitFor([&] { return m_stack.send("GET", health).status != 200; }, 10000);
        const qint64 processedWhenDown = processed(b.requestId);
        // The outage: the worker must still be there at its end.
        const bool finishedDuringOutage = b.worker->waitForFinished(15000);
        ::kill(supervisor, SIGCONT); // before any check can fail: the stack must come back
        QVERIFY(wentDown);
        QVERIFY2(!finishedDuringOutage, b.worker->readAll().constData());
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.send("GET", health).status, 200, 30000);
        QVERIFY2(processedWhenDown < n, "the batch ended before the outage: make it larger");

        QVERIFY2(b.worker->waitForFinished(120000), b.worker->readAll().constData());
        QCOMPARE(b.worker->exitCode(), 0);
        verifyEnd(b.batchId, b.requestId, QStringLiteral("completed"), n);
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(b.workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_COMPLETED"), 30000);
        QJsonObject started;
        lastEvent(m_stack.history(b.workflowId), QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_STARTED"), &started);
        QCOMPARE(started.value(QStringLiteral("attempt")).toInt(), 1); // no attempt spent on it
    }

    void aParseServerThatDiesComesBackWhereItWas()
    {
        // The stack supervises Parse Server: killed, it is started again on
        // the same port, and what it stored is still there.
        const QString dir = qEnvironmentVariable("MEMBATCH_STACK_DIR");
        const pid_t supervisor = parseSupervisor();
        QVERIFY(supervisor > 0);
        const QUrl health = m_stack.parseUrl(QStringLiteral("/health"));
        QCOMPARE(m_stack.send("GET", health).status, 200);
        QCOMPARE(QProcess::execute(QStringLiteral("pkill"), {QStringLiteral("-KILL"), QStringLiteral("-P"), QString::number(supervisor)}), 0);
        QTRY_VERIFY_WITH_TIMEOUT(m_stack.send("GET", health).status != 200, 10000);
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.send("GET", health).status, 200, 30000);
        QFile log(dir + QStringLiteral("/parse.log"));
        QVERIFY(log.open(QIODevice::ReadOnly));
        QVERIFY(log.readAll().contains("supervise: parse-server exited"));
        QVERIFY(m_stack.memoryCount(QStringLiteral("no-such-batch")) == 0); // answers queries again
    }

    void aWorkerThatCannotReachParseUsesUpTheRetryPolicy()
    {
        const QString batchId = QStringLiteral("retry-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QString workflowId = QStringLiteral("batch-") + batchId;
        const QString requestId = submit(batchId, 10);
        QVERIFY2(!requestId.contains(QLatin1Char(' ')), qPrintable(requestId));
        QProcess *worker = startWorker(QStringLiteral("retry-A"),
                                       {QStringLiteral("--max-tasks"), QStringLiteral("3"), QStringLiteral("--retry-for"), QStringLiteral("1")},
                                       {{QStringLiteral("MEMBATCH_PARSE_URL"), QStringLiteral("http://127.0.0.1:1/parse")}});
        QVERIFY(worker);
        QVERIFY2(worker->waitForFinished(60000), worker->readAll().constData());

        // Three attempts, 2 s and 4 s apart, all failed: the activity is done.
        QJsonObject failed;
        QTRY_VERIFY_WITH_TIMEOUT(!lastEvent(m_stack.history(workflowId), QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_FAILED"), &failed).isEmpty(), 30000);
        QCOMPARE(failed.value(QStringLiteral("retryState")).toString(), QStringLiteral("RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"));
        QVERIFY2(failed.value(QStringLiteral("failure")).toObject().value(QStringLiteral("message")).toString().contains(QStringLiteral("cannot reach Parse")),
                 QJsonDocument(failed).toJson().constData());
        QJsonArray events = m_stack.history(workflowId);
        QJsonObject started;
        lastEvent(events, QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_STARTED"), &started);
        QCOMPARE(started.value(QStringLiteral("attempt")).toInt(), 3);
        // The batch's activity is the first scheduled (the settling comes after).
        const qint64 spanMs = eventTime(firstEvent(events, QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_SCHEDULED")))
                                  .msecsTo(eventTime(lastEvent(events, QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_FAILED"))));
        qInfo("three attempts in %lld ms", spanMs);
        QVERIFY2(spanMs >= 5800, qPrintable(QString::number(spanMs)));

        // The worker could not say so in Parse; the workflow waits to have
        // the last word on the request, which the next worker gives.
        QCOMPARE(m_stack.workflowStatus(workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_RUNNING"));
        QCOMPARE(m_stack.request(requestId).value(QStringLiteral("status")).toString(), QStringLiteral("pending"));
        QProcess *next = startWorker(QStringLiteral("retry-B"), {QStringLiteral("--max-tasks"), QStringLiteral("1")});
        QVERIFY(next);
        QVERIFY2(next->waitForFinished(60000), next->readAll().constData());
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_FAILED"), 30000);
        const QJsonObject r = m_stack.request(requestId);
        QCOMPARE(r.value(QStringLiteral("status")).toString(), QStringLiteral("failed"));
        const QJsonObject error = r.value(QStringLiteral("errors")).toArray().last().toObject();
        QCOMPARE(error.value(QStringLiteral("stage")).toString(), QStringLiteral("workflow"));
        QVERIFY2(error.value(QStringLiteral("error")).toString().contains(QStringLiteral("cannot reach Parse")),
                 qPrintable(error.value(QStringLiteral("error")).toString()));
        QCOMPARE(m_stack.memoryCount(batchId), 0);
    }

    void aCancelBeforeAnyWorkerTookTheBatchEndsItCanceled()
    {
        const QString batchId = QStringLiteral("early-cancel-") + QUuid::createUuid().toString(QUuid::WithoutBraces);
        const QString workflowId = QStringLiteral("batch-") + batchId;
        const QString requestId = submit(batchId, 10);
        QVERIFY2(!requestId.contains(QLatin1Char(' ')), qPrintable(requestId));
        // Scheduled (the workflow worker ran), and no worker to take it.
        QTRY_VERIFY_WITH_TIMEOUT(!m_stack.temporal("GET", QStringLiteral("/workflows/") + workflowId)
                                      .json().value(QStringLiteral("pendingActivities")).toArray().isEmpty(), 20000);
        QCOMPARE(m_stack.temporal("POST", QStringLiteral("/workflows/%1/cancel").arg(workflowId), R"({"requestId":"early"})").status, 200);
        // The activity is canceled at once; the workflow then settles the
        // request, and waits for a worker to do it.
        QTRY_VERIFY_WITH_TIMEOUT(!lastEvent(m_stack.history(workflowId), QStringLiteral("EVENT_TYPE_ACTIVITY_TASK_CANCELED")).isEmpty(), 20000);
        QCOMPARE(m_stack.workflowStatus(workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_RUNNING"));
        QProcess *worker = startWorker(QStringLiteral("early-A"), {QStringLiteral("--max-tasks"), QStringLiteral("1")});
        QVERIFY(worker);
        QVERIFY2(worker->waitForFinished(60000), worker->readAll().constData());
        QCOMPARE(worker->exitCode(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(m_stack.workflowStatus(workflowId), QStringLiteral("WORKFLOW_EXECUTION_STATUS_CANCELED"), 30000);
        const QJsonObject r = m_stack.request(requestId);
        QCOMPARE(r.value(QStringLiteral("status")).toString(), QStringLiteral("canceled"));
        QCOMPARE(r.value(QStringLiteral("errors")).toArray().last().toObject().value(QStringLiteral("stage")).toString(), QStringLiteral("workflow"));
        QCOMPARE(m_stack.memoryCount(batchId), 0);
    }
};

QTEST_GUILESS_MAIN(tst_Takeover)
#include "tst_takeover.moc"
