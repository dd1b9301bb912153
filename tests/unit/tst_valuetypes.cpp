#include <membatch/batchprogress.h>
#include <membatch/batchstatus.h>
#include <membatch/connectionsettings.h>
#include <membatch/memoryitem.h>

#include <QJsonDocument>
#include <QTest>

using namespace membatch;

class tst_ValueTypes : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void memoryItemRoundTrip_data()
    {
        QTest::addColumn<QByteArray>("json");
        QTest::newRow("content only") << QByteArray(R"({"content":"hello"})");
        QTest::newRow("everything")
            << QByteArray(R"({"content":"c","embedding":[0.5,-1,3],"metadata":{"a":{"b":[1,2]}},"source":"s","tags":["x","y"]})");
        QTest::newRow("unicode") << QByteArray(R"({"content":"Grüße 🙂","tags":["日本"]})");
    }

    void memoryItemRoundTrip()
    {
        QFETCH(QByteArray, json);
        const QJsonObject in = QJsonDocument::fromJson(json).object();
        MemoryItem item;
        QString error;
        QVERIFY2(MemoryItem::fromJson(in, &item, &error), qPrintable(error));
        QCOMPARE(item.toJson(), in);
    }

    void memoryItemNullsMeanAbsent()
    {
        MemoryItem item;
        QString error;
        QVERIFY(MemoryItem::fromJson(QJsonDocument::fromJson(R"({"content":"a","metadata":null,"tags":null})").object(),
                                     &item, &error));
        QCOMPARE(item.toJson(), QJsonObject({{QStringLiteral("content"), QStringLiteral("a")}}));
    }

    void progressFromStatus()
    {
        BatchStatus s;
        s.batchId = QStringLiteral("p");
        s.status = QString::fromLatin1(BatchStatus::Processing);
        s.totalMemories = 10;
        s.processedCount = 4;
        s.successCount = 3;
        s.failCount = 1;
        BatchProgress p = BatchProgress::fromStatus(s);
        QCOMPARE(p.phase, BatchProgress::Phase::Processing);
        QCOMPARE(p.processed, qint64(4));
        QCOMPARE(p.succeeded, qint64(3));
        QCOMPARE(p.chunks, 0);
        s.status = QString::fromLatin1(BatchStatus::Pending);
        QCOMPARE(BatchProgress::fromStatus(s).phase, BatchProgress::Phase::Queued);
        // The workflow failed while Parse still says processing: done, failed.
        s.status = QString::fromLatin1(BatchStatus::Processing);
        s.workflowStatus = QStringLiteral("failed");
        p = BatchProgress::fromStatus(s);
        QCOMPARE(p.phase, BatchProgress::Phase::Done);
        QCOMPARE(p.status, QStringLiteral("failed"));
        s.workflowStatus.clear();
        s.chunkCount = 3;
        s.chunksFinal = 1;
        p = BatchProgress::fromStatus(s);
        QCOMPARE(p.chunks, 3);
        QCOMPARE(p.chunksDone, 1);
    }

    void progressRoundTrip()
    {
        BatchProgress p;
        p.phase = BatchProgress::Phase::Processing;
        p.batchId = QStringLiteral("b1");
        p.status = QStringLiteral("processing");
        p.total = 120;
        p.processed = 60;
        p.succeeded = 59;
        p.failed = 1;
        QCOMPARE(p.percent(), 50);
        const QJsonObject json = p.toJson();
        QCOMPARE(json.value(QStringLiteral("phase")).toString(), QStringLiteral("processing"));
        QCOMPARE(BatchProgress::fromJson(json), p);

        p.phase = BatchProgress::Phase::Uploading;
        p.bytesDone = 25;
        p.bytesTotal = 100;
        QCOMPARE(p.percent(), 25);
        QCOMPARE(BatchProgress::fromJson(p.toJson()), p);
    }

    void phaseNames()
    {
        QCOMPARE(BatchProgress::phaseName(BatchProgress::Phase::Queued), QStringLiteral("queued"));
        BatchProgress::Phase phase;
        QVERIFY(BatchProgress::phaseFromName(QStringLiteral("done"), &phase));
        QCOMPARE(phase, BatchProgress::Phase::Done);
        QVERIFY(!BatchProgress::phaseFromName(QStringLiteral("nonsense"), &phase));
    }

    void statusRoundTrip()
    {
        BatchStatus s;
        s.batchId = QStringLiteral("b");
        s.requestId = QStringLiteral("r");
        s.workflowId = QStringLiteral("batch-b");
        s.workflowRunId = QStringLiteral("run");
        s.status = QStringLiteral("partial_failure");
        s.workflowStatus = QStringLiteral("completed");
        s.totalMemories = 10;
        s.processedCount = 10;
        s.successCount = 9;
        s.failCount = 1;
        s.errors = QJsonArray{QJsonObject{{QStringLiteral("index"), 3}, {QStringLiteral("error"), QStringLiteral("x")}}};
        s.dataFileUrl = QUrl(QStringLiteral("http://127.0.0.1/parse/files/app/f.json.gz"));
        s.rawBytes = 1000;
        s.compressedBytes = 100;
        s.createdAt = QDateTime(QDate(2026, 11, 25), QTime(12, 0, 0, 123), Qt::UTC);
        s.completedAt = s.createdAt.addSecs(3);
        s.processingDurationMs = 3000;
        const BatchStatus back = BatchStatus::fromJson(s.toJson());
        QCOMPARE(back.toJson(), s.toJson());
        QCOMPARE(back.createdAt, s.createdAt);
        QCOMPARE(back.errors, s.errors);
    }

    void statusOutcome_data()
    {
        QTest::addColumn<QString>("status");
        QTest::addColumn<QString>("workflowStatus");
        QTest::addColumn<bool>("final");
        QTest::addColumn<QString>("outcome");
        QTest::newRow("pending") << "pending" << "running" << false << "pending";
        QTest::newRow("processing") << "processing" << "running" << false << "processing";
        QTest::newRow("completed") << "completed" << "completed" << true << "completed";
        QTest::newRow("partial") << "partial_failure" << "completed" << true << "partial_failure";
        QTest::newRow("failed, workflow failed") << "failed" << "failed" << true << "failed";
        QTest::newRow("workflow terminated mid-way") << "processing" << "terminated" << true << "failed";
        QTest::newRow("workflow timed out before start") << "pending" << "timed_out" << true << "failed";
        QTest::newRow("workflow unknown") << "processing" << "" << false << "processing";
        QTest::newRow("continued as new") << "processing" << "continued_as_new" << false << "processing";
        QTest::newRow("canceled by the worker") << "canceled" << "canceled" << true << "canceled";
        QTest::newRow("workflow canceled before a worker took it") << "pending" << "canceled" << true << "canceled";
    }

    void statusOutcome()
    {
        QFETCH(QString, status);
        QFETCH(QString, workflowStatus);
        QFETCH(bool, final);
        QFETCH(QString, outcome);
        BatchStatus s;
        s.status = status;
        s.workflowStatus = workflowStatus;
        QCOMPARE(s.isFinal(), final);
        QCOMPARE(s.outcome(), outcome);
        QCOMPARE(s.isCompleted(), status == QLatin1String("completed"));
    }

    void settingsFromEnvironment()
    {
        QProcessEnvironment env;
        env.insert(QStringLiteral("MEMBATCH_PARSE_URL"), QStringLiteral("http://127.0.0.1:1/parse"));
        env.insert(QStringLiteral("MEMBATCH_APP_ID"), QStringLiteral("app"));
        env.insert(QStringLiteral("MEMBATCH_REST_KEY"), QStringLiteral("rest-secret"));
        env.insert(QStringLiteral("MEMBATCH_MASTER_KEY"), QStringLiteral("master-secret"));
        env.insert(QStringLiteral("MEMBATCH_USERNAME"), QStringLiteral("ann"));
        env.insert(QStringLiteral("MEMBATCH_PASSWORD"), QStringLiteral("pw-secret"));
        env.insert(QStringLiteral("MEMBATCH_TEMPORAL_URL"), QStringLiteral("http://127.0.0.1:2"));
        env.insert(QStringLiteral("MEMBATCH_TEMPORAL_ADDRESS"), QStringLiteral("127.0.0.1:3"));
        env.insert(QStringLiteral("MEMBATCH_NAMESPACE"), QStringLiteral("ns"));
        env.insert(QStringLiteral("MEMBATCH_TASK_QUEUE"), QStringLiteral("q"));
        const ConnectionSettings s = ConnectionSettings::fromEnvironment(env);
        QCOMPARE(s.parseUrl, QUrl(QStringLiteral("http://127.0.0.1:1/parse")));
        QCOMPARE(s.masterKey, QStringLiteral("master-secret"));
        QCOMPARE(s.temporalNamespace, QStringLiteral("ns"));
        QCOMPARE(s.temporalApiPrefix, QStringLiteral("/api/v1"));
        QCOMPARE(s.temporalAddress, QStringLiteral("127.0.0.1:3"));
        QVERIFY(s.missingForClient().isEmpty());
        QVERIFY(s.missingForWorker().isEmpty());

        const QString described = s.describe();
        QVERIFY(described.contains(QStringLiteral("ann")));
        QVERIFY2(described.contains(QStringLiteral("gRPC 127.0.0.1:3")), qPrintable(described));
        for (const char *secret : {"rest-secret", "master-secret", "pw-secret"})
            QVERIFY2(!described.contains(QLatin1String(secret)), qPrintable(described));
    }

    void settingsSayWhatIsMissing()
    {
        const ConnectionSettings empty = ConnectionSettings::fromEnvironment(QProcessEnvironment());
        const QString client = empty.missingForClient().join(QLatin1Char(' '));
        QVERIFY(client.contains(QStringLiteral("MEMBATCH_PARSE_URL")));
        QVERIFY(client.contains(QStringLiteral("MEMBATCH_USERNAME")));
        QVERIFY(empty.missingForWorker().contains(QStringLiteral("MEMBATCH_MASTER_KEY")));
        QVERIFY(empty.missingForWorker().contains(QStringLiteral("MEMBATCH_TEMPORAL_ADDRESS")));
        QVERIFY(!empty.missingForClient().contains(QStringLiteral("MEMBATCH_TEMPORAL_ADDRESS"))); // only the worker polls
    }
};

QTEST_GUILESS_MAIN(tst_ValueTypes)
#include "tst_valuetypes.moc"
