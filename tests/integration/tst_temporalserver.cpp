// What membatch relies on from a Temporal server, checked on the real one
// (the stack's dev server and its workflow worker), through the plugin's own
// TemporalClient: start deduplication, conflicts, describe and close-event
// shapes, and cancel requests.
// The workers' side (heartbeat timeout, SIGKILL, restart, cancel mid-batch,
// retries) is in tst_takeover.
#include "stackclient.h"
#include "temporalclient.h"

#include <QTest>

using namespace membatch;

class tst_TemporalServer : public QObject
{
    Q_OBJECT

private:
    StackClient m_stack;
    QNetworkAccessManager m_nam;

    static QString uuid() { return QUuid::createUuid().toString(QUuid::WithoutBraces); }

    // A workflow type no worker runs: it stays running, on a queue of its own.
    QString startIdle(const QString &workflowId, const QString &requestId)
    {
        const Http r = m_stack.start(workflowId, QJsonObject{}, requestId, QStringLiteral("NoWorkerRunsThis"),
                                     QStringLiteral("idle-") + workflowId);
        return r.status == 200 ? r.json().value(QStringLiteral("runId")).toString() : QString();
    }

    // StartWorkflowExecution through TemporalClient, of a type no worker runs
    // on a queue of its own (the stack's workflow worker would fail its
    // tasks, loudly, again and again).
    ApiResult startWith(const QString &workflowId, const QString &requestId)
    {
        ConnectionSettings idle = m_stack.settings;
        idle.taskQueue = QStringLiteral("idle-") + workflowId;
        TemporalClient client(&m_nam, idle);
        ApiResult result;
        bool done = false;
        QObject context;
        const QJsonArray input{QJsonObject{{QStringLiteral("request_id"), QStringLiteral("r")},
                                           {QStringLiteral("batch_id"), QStringLiteral("b")}}};
        client.startWorkflow(workflowId, QStringLiteral("NoWorkerRunsThis"), input, requestId, QStringLiteral("tst"),
                             &context, [&](const ApiResult &r) {
                                 result = r;
                                 done = true;
                             });
        if (!QTest::qWaitFor([&] { return done; }, 20000))
            result.message = QStringLiteral("<no answer>");
        return result;
    }

    WorkflowState describe(TemporalClient &client, const QString &workflowId, ApiResult *result = nullptr)
    {
        WorkflowState state;
        bool done = false;
        QObject context;
        client.describeWorkflow(workflowId, {}, &context, [&](const ApiResult &r, const WorkflowState &s) {
            state = s;
            if (result)
                *result = r;
            done = true;
        });
        if (!QTest::qWaitFor([&] { return done; }, 20000) && result)
            result->message = QStringLiteral("<no answer>");
        return state;
    }

    void terminate(const QString &workflowId)
    {
        m_stack.temporal("POST", QStringLiteral("/workflows/%1/terminate").arg(workflowId), R"({"reason":"tst_temporalserver"})");
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(!m_stack.settings.temporalUrl.isEmpty(), "the stack's env is not set: run under tests/stack/with-env.sh");
        const Http info = m_stack.send("GET", QUrl(m_stack.settings.temporalUrl.toString() + QStringLiteral("/api/v1/system-info")));
        QCOMPARE(info.status, 200);
        qInfo("Temporal server %s", qPrintable(info.json().value(QStringLiteral("serverVersion")).toString()));
    }

    void aRetriedStartWithTheSameRequestIdGetsTheSameRun()
    {
        // What makes SubmitJob's retried start safe: same requestId, same run.
        const QString id = QStringLiteral("tst-dedup-") + uuid();
        const QString requestId = uuid();
        ApiResult first = startWith(id, requestId);
        QVERIFY2(first.ok(), qPrintable(first.message));
        const ApiResult again = startWith(id, requestId);
        QVERIFY2(again.ok(), qPrintable(again.message));
        QCOMPARE(again.json.value(QStringLiteral("runId")), first.json.value(QStringLiteral("runId")));
        terminate(id);
    }

    void anotherStartOfARunningWorkflowIsAConflict()
    {
        const QString id = QStringLiteral("tst-conflict-") + uuid();
        const QString firstRequest = uuid();
        const ApiResult first = startWith(id, firstRequest);
        QVERIFY2(first.ok(), qPrintable(first.message));
        const ApiResult second = startWith(id, uuid());
        QCOMPARE(second.httpStatus, 409);
        QCOMPARE(second.serviceCode, 6); // ALREADY_EXISTS
        QVERIFY2(second.message.contains(QStringLiteral("already running")), qPrintable(second.message));
        const QJsonObject detail = second.json.value(QStringLiteral("details")).toArray().first().toObject();
        QCOMPARE(detail.value(QStringLiteral("@type")).toString(),
                 QStringLiteral("type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure"));
        QCOMPARE(detail.value(QStringLiteral("runId")), first.json.value(QStringLiteral("runId")));
        QCOMPARE(detail.value(QStringLiteral("startRequestId")).toString(), firstRequest);
        terminate(id);
    }

    void aNewRunRightAfterTheLastOneClosed()
    {
        // Servers from 1.25 were read to answer 429 to a new run within 1 s
        // of the last start (SubmitJob retries a 429 with backoff anyway).
        // The dev server (1.32) takes it at once; and the first run's
        // requestId no longer deduplicates: only the current run's does.
        const QString id = QStringLiteral("tst-reuse-") + uuid();
        const QString firstRequest = uuid();
        const ApiResult first = startWith(id, firstRequest);
        QVERIFY2(first.ok(), qPrintable(first.message));
        terminate(id);
        QElapsedTimer clock;
        clock.start();
        const ApiResult second = startWith(id, uuid());
        QVERIFY2(clock.elapsed() < 1000, "the second start did not go out within the second");
        QVERIFY2(second.ok(), qPrintable(second.message));
        QVERIFY(second.json.value(QStringLiteral("runId")) != first.json.value(QStringLiteral("runId")));
        const ApiResult old = startWith(id, firstRequest);
        QCOMPARE(old.httpStatus, 409);
        terminate(id);
    }

    void describeGivesRunIdAndStatus()
    {
        TemporalClient client(&m_nam, m_stack.settings);
        const QString id = QStringLiteral("tst-describe-") + uuid();
        const QString runId = startIdle(id, uuid());
        QVERIFY(!runId.isEmpty());
        WorkflowState state = describe(client, id);
        QCOMPARE(state.runId, runId);
        QCOMPARE(state.status, QStringLiteral("running"));
        QVERIFY(state.isOpen());
        terminate(id);
        state = describe(client, id);
        QCOMPARE(state.status, QStringLiteral("terminated"));
        QVERIFY(state.endedBadly());

        ApiResult missing;
        describe(client, QStringLiteral("no-such-workflow-") + uuid(), &missing);
        QCOMPARE(missing.error, int(Job::NotFoundError));
        QCOMPARE(missing.httpStatus, 404);
    }

    void aFailedRunsCloseEventCarriesTheWorkflowsMessage()
    {
        // The project's workflow (on the stack's worker) refuses bad input at
        // once; the close event carries its message, which watch shows.
        TemporalClient client(&m_nam, m_stack.settings);
        const QString id = QStringLiteral("tst-badinput-") + uuid();
        const Http started = m_stack.start(id, QJsonObject{{QStringLiteral("request_id"), QStringLiteral("r")}}, uuid());
        QCOMPARE(started.status, 200);
        QTRY_COMPARE_WITH_TIMEOUT(describe(client, id).status, QStringLiteral("failed"), 20000);
        QString failure;
        bool done = false;
        QObject context;
        client.closeFailure(id, {}, &context, [&](const ApiResult &r, const QString &f) {
            QVERIFY2(r.ok(), qPrintable(r.message));
            failure = f;
            done = true;
        });
        QTRY_VERIFY(done);
        QCOMPARE(failure, QStringLiteral("invalid workflow input: 'batch_id' must be a non-empty string"));
    }

    void aCancelIsAlwaysAnOk()
    {
        // Again, or on a closed run: what lets `cancel` be retried blindly.
        TemporalClient client(&m_nam, m_stack.settings);
        const QString id = QStringLiteral("tst-cancel-") + uuid();
        QVERIFY(!startIdle(id, uuid()).isEmpty());
        const QByteArray cancel = R"({"reason":"tst_temporalserver","requestId":"c1"})";
        QCOMPARE(m_stack.temporal("POST", QStringLiteral("/workflows/%1/cancel").arg(id), cancel).status, 200);
        QCOMPARE(m_stack.temporal("POST", QStringLiteral("/workflows/%1/cancel").arg(id), cancel).status, 200);
        QCOMPARE(describe(client, id).status, QStringLiteral("running")); // no worker runs its workflow code
        terminate(id);
        QCOMPARE(m_stack.temporal("POST", QStringLiteral("/workflows/%1/cancel").arg(id), R"({"requestId":"c2"})").status, 200);
    }
};

QTEST_GUILESS_MAIN(tst_TemporalServer)
#include "tst_temporalserver.moc"
