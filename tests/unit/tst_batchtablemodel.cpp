// BatchTableModel: rows from a monitor's changes, a submit job's progress,
// a list, a parent of chunks; dataChanged for the changed row alone; the
// raw roles; and QAbstractItemModelTester watching every change.

#include "fakeprocessor.h"

#include <membatch/dashboard/batchtablemodel.h>

#include <QAbstractItemModelTester>
#include <QJsonArray>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>
#include <QTextDocument>

using membatch::BatchProgress;
using membatch::BatchStatus;
using membatch::Job;
using membatch::dashboard::BatchTableModel;

class TestBatchTableModel : public QObject
{
    Q_OBJECT

    static QString cellText(const BatchTableModel &model, const QString &batchId, int column)
    {
        return model.index(model.rowOf(batchId), column).data().toString();
    }

private Q_SLOTS:
    void monitorChangesMakeRows()
    {
        BatchTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QPointer<fake::MonitorJob> monitor = new fake::MonitorJob;
        model.registerJob(monitor);
        monitor->addBatch(QStringLiteral("b1"));
        monitor->addBatch(QStringLiteral("b2"));
        QCOMPARE(model.rowCount(), 0); // no state yet, no row

        QSignalSpy added(&model, &BatchTableModel::batchAdded);
        const BatchStatus b1 = fake::batch(QStringLiteral("b1"), QStringLiteral("processing"), 100, 40, 0);
        monitor->push(b1, fake::progressOf(b1, BatchProgress::Phase::Processing));
        const BatchStatus b2 = fake::batch(QStringLiteral("b2"), QStringLiteral("pending"), 10, 0, 0);
        monitor->push(b2, fake::progressOf(b2, BatchProgress::Phase::Queued));
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(added.count(), 2);
        QCOMPARE(model.columnCount(), int(BatchTableModel::ColumnCount));
        QCOMPARE(cellText(model, QStringLiteral("b1"), BatchTableModel::StatusColumn), QStringLiteral("processing"));
        QCOMPARE(cellText(model, QStringLiteral("b2"), BatchTableModel::StatusColumn), QStringLiteral("queued"));
        QCOMPARE(model.index(model.rowOf(QStringLiteral("b1")), 0).data(BatchTableModel::PercentRole).toInt(), 40);
        QCOMPARE(cellText(model, QStringLiteral("b1"), BatchTableModel::ProcessedColumn), QStringLiteral("40 / 100"));
        monitor->finish();
    }

    void dataChangedOnlyForTheChangedRow()
    {
        BatchTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        auto *monitor = new fake::MonitorJob;
        model.registerJob(monitor);
        for (const char *id : {"a", "b", "c"}) {
            monitor->addBatch(QLatin1String(id));
            const BatchStatus s = fake::batch(QLatin1String(id), QStringLiteral("processing"), 100, 0, 0);
            monitor->push(s, fake::progressOf(s, BatchProgress::Phase::Processing));
        }
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy reset(&model, &QAbstractItemModel::modelReset);

        BatchStatus b = fake::batch(QStringLiteral("b"), QStringLiteral("processing"), 100, 50, 2);
        BatchProgress p = fake::progressOf(b, BatchProgress::Phase::Processing);
        p.rate = 120;
        p.etaMs = 400000;
        p.elapsedMs = 65000;
        monitor->push(b, p);
        QCOMPARE(changed.count(), 1);
        const int row = model.rowOf(QStringLiteral("b"));
        const QModelIndex topLeft = changed.at(0).at(0).toModelIndex();
        const QModelIndex bottomRight = changed.at(0).at(1).toModelIndex();
        QCOMPARE(topLeft.row(), row);
        QCOMPARE(bottomRight.row(), row);
        QCOMPARE(topLeft.column(), 0);
        QCOMPARE(bottomRight.column(), int(BatchTableModel::ColumnCount) - 1);
        QCOMPARE(inserted.count(), 0);
        QCOMPARE(reset.count(), 0);
        QCOMPARE(cellText(model, QStringLiteral("b"), BatchTableModel::RateColumn), QStringLiteral("120/s"));
        QCOMPARE(cellText(model, QStringLiteral("b"), BatchTableModel::EtaColumn), QStringLiteral("6m 40s"));
        QCOMPARE(cellText(model, QStringLiteral("b"), BatchTableModel::ElapsedColumn), QStringLiteral("1m 05s"));
        QCOMPARE(cellText(model, QStringLiteral("b"), BatchTableModel::FailedColumn), QStringLiteral("2"));

        // The same state again is no change: nothing emitted.
        monitor->push(b, p);
        QCOMPARE(changed.count(), 1);
        monitor->finish();
    }

    void submitProgressMakesARow()
    {
        BatchTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        auto *submit = new fake::BatchJob;
        model.registerJob(submit);

        // Reading: no batch id yet, so no row.
        BatchProgress reading;
        reading.phase = BatchProgress::Phase::Reading;
        reading.processed = 10;
        submit->push({}, reading);
        QCOMPARE(model.rowCount(), 0);

        BatchStatus named;
        named.batchId = QStringLiteral("s1");
        BatchProgress uploading;
        uploading.phase = BatchProgress::Phase::Uploading;
        uploading.batchId = QStringLiteral("s1");
        uploading.total = 500;
        uploading.bytesDone = 512 * 1024;
        uploading.bytesTotal = 1024 * 1024;
        uploading.rate = 256 * 1024;
        submit->push(named, uploading);
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(cellText(model, QStringLiteral("s1"), BatchTableModel::StatusColumn), QStringLiteral("uploading"));
        QCOMPARE(model.index(0, 0).data(BatchTableModel::PercentRole).toInt(), 50);
        QVERIFY2(cellText(model, QStringLiteral("s1"), BatchTableModel::RateColumn).contains(QStringLiteral("KiB/s")),
                 qPrintable(cellText(model, QStringLiteral("s1"), BatchTableModel::RateColumn)));
        QCOMPARE(model.index(0, 0).data(BatchTableModel::CanCancelRole).toBool(), true);

        // Its result: the queued batch, still one row.
        const BatchStatus queued = fake::batch(QStringLiteral("s1"), QStringLiteral("pending"), 500, 0, 0);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        submit->finish(Job::NoError, {}, queued);
        QCOMPARE(model.rowCount(), 1);
        QVERIFY(changed.count() >= 1);
        QCOMPARE(model.batch(QStringLiteral("s1")).requestId, QStringLiteral("req-s1"));
        QCOMPARE(model.index(0, 0).data(BatchTableModel::TotalRole).toLongLong(), 500);
    }

    void parentOfChunksIsOneRow()
    {
        BatchTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        auto *monitor = new fake::MonitorJob;
        model.registerJob(monitor);
        monitor->addBatch(QStringLiteral("parent"));
        BatchStatus parent = fake::batch(QStringLiteral("parent"), QStringLiteral("processing"), 3000, 1500, 0);
        parent.chunkCount = 3;
        parent.chunksFound = 3;
        parent.chunksFinal = 1;
        BatchProgress p = fake::progressOf(parent, BatchProgress::Phase::Processing);
        p.chunks = 3;
        p.chunksDone = 1;
        monitor->push(parent, p);
        QCOMPARE(model.rowCount(), 1);
        const QModelIndex i = model.index(0, 0);
        QCOMPARE(i.data(BatchTableModel::ChunksRole).toInt(), 3);
        QCOMPARE(i.data(BatchTableModel::ChunksFinalRole).toInt(), 1);
        QCOMPARE(cellText(model, QStringLiteral("parent"), BatchTableModel::StatusColumn),
                 QStringLiteral("processing (1/3 chunks)"));
        QCOMPARE(i.data(BatchTableModel::PercentRole).toInt(), 50);
        monitor->finish();
    }

    void finalStates_data()
    {
        QTest::addColumn<QString>("status");
        QTest::addColumn<QString>("workflowStatus");
        QTest::addColumn<qint64>("stored");
        QTest::addColumn<qint64>("failed");
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("canCancel");
        QTest::addColumn<bool>("canRetry");
        QTest::newRow("processing") << "processing" << "running" << qint64(5) << qint64(0) << "processing" << true << false;
        QTest::newRow("completed") << "completed" << "completed" << qint64(10) << qint64(0) << "completed" << false << false;
        QTest::newRow("partial failure") << "partial_failure" << "completed" << qint64(8) << qint64(2) << "partial failure" << false << true;
        QTest::newRow("canceled midway") << "canceled" << "canceled" << qint64(4) << qint64(0) << "canceled" << false << true;
        // Parse still says processing, but the workflow failed: it ended.
        QTest::newRow("workflow failed") << "processing" << "failed" << qint64(3) << qint64(0) << "failed" << false << true;
    }

    void finalStates()
    {
        QFETCH(QString, status);
        QFETCH(QString, workflowStatus);
        QFETCH(qint64, stored);
        QFETCH(qint64, failed);
        QFETCH(QString, text);
        QFETCH(bool, canCancel);
        QFETCH(bool, canRetry);

        BatchTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        BatchStatus b = fake::batch(QStringLiteral("x"), status, 10, stored, failed);
        b.workflowStatus = workflowStatus;
        model.updateBatch(b); // from the state alone, as a list gives it
        const QModelIndex i = model.index(0, BatchTableModel::StatusColumn);
        QCOMPARE(i.data().toString(), text);
        QCOMPARE(i.data(BatchTableModel::CanCancelRole).toBool(), canCancel);
        QCOMPARE(i.data(BatchTableModel::CanRetryRole).toBool(), canRetry);
        QCOMPARE(i.data(BatchTableModel::FinalRole).toBool(), !canCancel);
        QCOMPARE(i.data(BatchTableModel::StoredRole).toLongLong(), stored);
        QCOMPARE(i.data(BatchTableModel::FailedRole).toLongLong(), failed);
        if (!canCancel)
            QVERIFY(model.index(0, BatchTableModel::EtaColumn).data().toString().isEmpty());
    }

    void stalledIsShown()
    {
        BatchTableModel model;
        auto *monitor = new fake::MonitorJob;
        model.registerJob(monitor);
        monitor->addBatch(QStringLiteral("s"));
        const BatchStatus b = fake::batch(QStringLiteral("s"), QStringLiteral("processing"), 100, 10, 0);
        BatchProgress p = fake::progressOf(b, BatchProgress::Phase::Processing);
        p.stalled = true;
        p.reason = QStringLiteral("no progress since 12:00");
        monitor->push(b, p);
        const QModelIndex i = model.index(0, BatchTableModel::StatusColumn);
        QCOMPARE(i.data().toString(), QStringLiteral("processing, stalled"));
        QVERIFY(i.data(BatchTableModel::StalledRole).toBool());
        QCOMPARE(i.data(BatchTableModel::ReasonRole).toString(), QStringLiteral("no progress since 12:00"));
        QVERIFY(i.data(Qt::ToolTipRole).toString().contains(QStringLiteral("no progress since 12:00")));
        monitor->finish();
    }

    // What a tooltip shows, as QToolTip decides it: HTML if it looks so.
    static QString tipAsShown(const QString &tip)
    {
        QTextDocument doc;
        if (Qt::mightBeRichText(tip))
            doc.setHtml(tip);
        else
            doc.setPlainText(tip);
        return doc.toPlainText();
    }

    void hostileTextInATooltipIsShownNotObeyed_data()
    {
        QTest::addColumn<QString>("batchId");
        QTest::addColumn<QString>("reason");
        QTest::newRow("markup in the reason") << "plain" << "<img src=\"file:///etc/passwd\"><b>refused</b> <a href=\"http://x\">x</a>";
        QTest::newRow("markup in the id") << "<h1>big</h1>" << "stalled";
        QTest::newRow("an entity") << "b&amp;c" << "<i>ok</i> &lt;";
    }

    void hostileTextInATooltipIsShownNotObeyed()
    {
        QFETCH(QString, batchId);
        QFETCH(QString, reason);
        BatchTableModel model;
        auto *monitor = new fake::MonitorJob;
        model.registerJob(monitor);
        monitor->addBatch(batchId);
        const BatchStatus b = fake::batch(batchId, QStringLiteral("processing"), 100, 10, 0);
        BatchProgress p = fake::progressOf(b, BatchProgress::Phase::Processing);
        p.stalled = true;
        p.reason = reason;
        monitor->push(b, p);
        const QString shown = tipAsShown(model.index(0, BatchTableModel::StatusColumn).data(Qt::ToolTipRole).toString());
        QVERIFY2(shown.contains(batchId), qPrintable(shown));
        QVERIFY2(shown.contains(reason), qPrintable(shown));
        monitor->finish();
    }

    void aHugeReasonMakesAShortTooltip()
    {
        BatchTableModel model;
        auto *monitor = new fake::MonitorJob;
        model.registerJob(monitor);
        monitor->addBatch(QStringLiteral("long"));
        const BatchStatus b = fake::batch(QStringLiteral("long"), QStringLiteral("processing"), 100, 10, 0);
        BatchProgress p = fake::progressOf(b, BatchProgress::Phase::Processing);
        p.stalled = true;
        p.reason = QString(1000000, QLatin1Char('x'));
        monitor->push(b, p);
        const QString tip = model.index(0, BatchTableModel::StatusColumn).data(Qt::ToolTipRole).toString();
        QVERIFY2(tip.size() < 5000, qPrintable(QString::number(tip.size())));
        monitor->finish();
    }

    void errorsRole()
    {
        BatchTableModel model;
        BatchStatus b = fake::batch(QStringLiteral("e"), QStringLiteral("partial_failure"), 4, 2, 2);
        b.errors = QJsonArray{QJsonObject{{QStringLiteral("index"), 1}, {QStringLiteral("error"), QStringLiteral("content is empty")}},
                              QJsonObject{{QStringLiteral("index"), 2}, {QStringLiteral("error"), QStringLiteral("tags must be a list")}}};
        model.updateBatch(b);
        const QJsonArray errors = model.index(0, 0).data(BatchTableModel::ErrorsRole).toJsonArray();
        QCOMPARE(errors.size(), 2);
        QCOMPARE(errors.at(1).toObject().value(QStringLiteral("error")).toString(), QStringLiteral("tags must be a list"));
        QCOMPARE(model.index(0, 0).data(BatchTableModel::BatchStatusRole).value<BatchStatus>().failCount, 2);
    }

    void listRowsDoNotOverwriteWhatAMonitorKnows()
    {
        BatchTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        auto *monitor = new fake::MonitorJob;
        model.registerJob(monitor);
        monitor->addBatch(QStringLiteral("m"));
        const BatchStatus fresh = fake::batch(QStringLiteral("m"), QStringLiteral("processing"), 100, 90, 0);
        monitor->push(fresh, fake::progressOf(fresh, BatchProgress::Phase::Processing));

        auto *list = new fake::ListJob;
        model.registerJob(list);
        BatchStatus older = fake::batch(QStringLiteral("old"), QStringLiteral("completed"), 5, 5, 0);
        older.createdAt = QDateTime::currentDateTimeUtc().addDays(-1);
        BatchStatus newer = fake::batch(QStringLiteral("new"), QStringLiteral("completed"), 5, 5, 0);
        newer.createdAt = QDateTime::currentDateTimeUtc().addSecs(-60);
        list->finish({newer, fake::batch(QStringLiteral("m"), QStringLiteral("processing"), 100, 20, 0), older});
        QCOMPARE(model.rowCount(), 3);
        QCOMPARE(model.progress(QStringLiteral("m")).processed, 90);
        // Newest first: m (not yet dated, being followed), new, old.
        QCOMPARE(model.batchIds(), QStringList({QStringLiteral("m"), QStringLiteral("new"), QStringLiteral("old")}));
        monitor->finish();
    }

    void anUndatedListKeepsItsOrder()
    {
        BatchTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        auto *list = new fake::ListJob;
        model.registerJob(list);
        list->finish({fake::batch(QStringLiteral("newest"), QStringLiteral("processing"), 5, 1, 0),
                      fake::batch(QStringLiteral("middle"), QStringLiteral("completed"), 5, 5, 0),
                      fake::batch(QStringLiteral("oldest"), QStringLiteral("failed"), 5, 0, 5)});
        QCOMPARE(model.batchIds(), QStringList({QStringLiteral("newest"), QStringLiteral("middle"), QStringLiteral("oldest")}));
        // A submission on its way goes on top.
        BatchProgress p;
        p.phase = BatchProgress::Phase::Uploading;
        p.batchId = QStringLiteral("sending");
        model.updateBatch({}, p);
        QCOMPARE(model.batchIdAt(0), QStringLiteral("sending"));
    }

    void jobErrorsAreReported()
    {
        BatchTableModel model;
        QSignalSpy failed(&model, &BatchTableModel::jobFailed);
        auto *list = new fake::ListJob;
        model.registerJob(list);
        list->finish({}, Job::AuthenticationError, QStringLiteral("signing in: invalid username/password"));
        QCOMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(2).toString(), QStringLiteral("signing in: invalid username/password"));

        // A batch that ended badly is its row's news, not a job failure.
        auto *watch = new fake::BatchJob;
        model.registerJob(watch);
        watch->finish(Job::BatchFailedError, QStringLiteral("ended failed"),
                      fake::batch(QStringLiteral("w"), QStringLiteral("failed"), 3, 0, 3));
        QCOMPARE(failed.count(), 1);
        QCOMPARE(model.rowCount(), 1);

        // Nor is a job stopped on purpose (a monitor replaced on refresh).
        auto *monitor = new fake::MonitorJob;
        model.registerJob(monitor);
        QVERIFY(monitor->kill());
        QCOMPARE(failed.count(), 1);
    }

    void removeAndClear()
    {
        BatchTableModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        for (const char *id : {"r1", "r2", "r3"})
            model.updateBatch(fake::batch(QLatin1String(id), QStringLiteral("pending"), 1, 0, 0));
        model.removeBatch(QStringLiteral("r2"));
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.rowOf(QStringLiteral("r2")), -1);
        QCOMPARE(model.batchIdAt(model.rowOf(QStringLiteral("r3"))), QStringLiteral("r3"));
        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }
};

QTEST_MAIN(TestBatchTableModel)
#include "tst_batchtablemodel.moc"
