// BatchDashboardWidget on the offscreen platform, with a fake processor:
// Cancel and Retry failed enabled only where they make sense, both calling
// the processor and following the job they get, a failed job's error shown,
// the selected batch's per-item errors, and a grab() that renders.

#include "fakeprocessor.h"

#include <membatch/dashboard/batchdashboardwidget.h>
#include <membatch/dashboard/batchtablemodel.h>

#include <QAction>
#include <QImage>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonObject>
#include <QLabel>
#include <QPixmap>
#include <QSignalSpy>
#include <QTest>
#include <QTextDocument>
#include <QTreeView>
#include <QTreeWidget>

using membatch::BatchProgress;
using membatch::BatchStatus;
using membatch::Job;
using membatch::dashboard::BatchDashboardWidget;
using membatch::dashboard::BatchTableModel;

class TestBatchDashboardWidget : public QObject
{
    Q_OBJECT

    // Four batches, one in each state the actions care about.
    static void fill(BatchDashboardWidget &w)
    {
        const BatchStatus running = fake::batch(QStringLiteral("running"), QStringLiteral("processing"), 100, 30, 0);
        BatchProgress p = fake::progressOf(running, BatchProgress::Phase::Processing);
        p.rate = 42;
        p.etaMs = 100000;
        w.model()->updateBatch(running, p);
        w.model()->updateBatch(fake::batch(QStringLiteral("done"), QStringLiteral("completed"), 10, 10, 0));
        BatchStatus partial = fake::batch(QStringLiteral("partial"), QStringLiteral("partial_failure"), 4, 2, 2);
        partial.errors = QJsonArray{
            QJsonObject{{QStringLiteral("index"), 1}, {QStringLiteral("stage"), QStringLiteral("validate")},
                        {QStringLiteral("error"), QStringLiteral("content is empty")}},
            QJsonObject{{QStringLiteral("index"), 3}, {QStringLiteral("error"), QStringLiteral("tags must be a list")}},
            QJsonObject{{QStringLiteral("stage"), QStringLiteral("workflow")}, {QStringLiteral("error"), QStringLiteral("a batch-wide note")}}};
        w.model()->updateBatch(partial);
        w.model()->updateBatch(fake::batch(QStringLiteral("canceled"), QStringLiteral("canceled"), 10, 4, 0));
    }

private Q_SLOTS:
    void initTestCase()
    {
        QCOMPARE(QGuiApplication::platformName(), QStringLiteral("offscreen"));
        qRegisterMetaType<membatch::Job *>();
    }

    void actionsFollowTheSelection_data()
    {
        QTest::addColumn<QString>("batchId");
        QTest::addColumn<bool>("cancel");
        QTest::addColumn<bool>("retry");
        QTest::newRow("nothing selected") << QString() << false << false;
        QTest::newRow("running") << "running" << true << false;
        QTest::newRow("completed") << "done" << false << false;
        QTest::newRow("partial failure") << "partial" << false << true;
        QTest::newRow("canceled midway") << "canceled" << false << true;
    }

    void actionsFollowTheSelection()
    {
        QFETCH(QString, batchId);
        QFETCH(bool, cancel);
        QFETCH(bool, retry);
        fake::Processor processor;
        BatchDashboardWidget w;
        w.setProcessor(&processor);
        fill(w);
        w.selectBatch(batchId);
        QCOMPARE(w.selectedBatchId(), batchId);
        QCOMPARE(w.cancelAction()->isEnabled(), cancel);
        QCOMPARE(w.retryAction()->isEnabled(), retry);
        // The same actions are the table's context menu.
        QVERIFY(w.view()->actions().contains(w.cancelAction()));
        QVERIFY(w.view()->actions().contains(w.retryAction()));
    }

    void noProcessorNoActions()
    {
        BatchDashboardWidget w;
        fill(w);
        w.selectBatch(QStringLiteral("running"));
        QVERIFY(!w.cancelAction()->isEnabled());
        w.selectBatch(QStringLiteral("partial"));
        QVERIFY(!w.retryAction()->isEnabled());
    }

    void cancelCallsTheProcessor()
    {
        fake::Processor processor;
        BatchDashboardWidget w;
        w.setProcessor(&processor);
        fill(w);
        QSignalSpy started(&w, &BatchDashboardWidget::jobStarted);
        w.selectBatch(QStringLiteral("running"));
        w.cancelAction()->trigger();
        QCOMPARE(processor.canceled, QStringList{QStringLiteral("running")});
        QVERIFY(!processor.cancelReasons.first().isEmpty());
        QCOMPARE(started.count(), 1);
        QPointer<fake::BatchJob> job = processor.last();
        QVERIFY(job);
        QTRY_VERIFY(job->started);
        QVERIFY(w.model()->tracker()->jobs().contains(job.data()));
        // No second cancel while the first is on its way.
        QVERIFY(!w.cancelAction()->isEnabled());

        // The worker stops the batch: the job's result updates the row.
        job->finish(Job::NoError, {}, fake::batch(QStringLiteral("running"), QStringLiteral("canceled"), 100, 35, 0));
        const QModelIndex i = w.model()->index(w.model()->rowOf(QStringLiteral("running")), BatchTableModel::StatusColumn);
        QCOMPARE(i.data().toString(), QStringLiteral("canceled"));
        QVERIFY(!w.cancelAction()->isEnabled());
        QVERIFY(w.retryAction()->isEnabled());
        QVERIFY(w.message().isEmpty());
    }

    void retryCallsTheProcessorAndShowsTheNewBatch()
    {
        fake::Processor processor;
        BatchDashboardWidget w;
        w.setProcessor(&processor);
        fill(w);
        w.selectBatch(QStringLiteral("partial"));
        QVERIFY(w.retryAction()->isEnabled());
        w.retrySelected();
        QCOMPARE(processor.retried, QStringList{QStringLiteral("partial")});
        QPointer<fake::BatchJob> job = processor.last();
        QTRY_VERIFY(job && job->started);
        QSignalSpy added(w.model(), &BatchTableModel::batchAdded);
        BatchStatus retry = fake::batch(QStringLiteral("partial-retry"), QStringLiteral("pending"), 2, 0, 0);
        job->push(retry, fake::progressOf(retry, BatchProgress::Phase::Queued));
        QCOMPARE(added.count(), 1);
        QCOMPARE(added.at(0).at(0).toString(), QStringLiteral("partial-retry"));
        QCOMPARE(w.model()->rowCount(), 5);
        job->finish(Job::NoError, {}, retry);
        QVERIFY(w.retryAction()->isEnabled()); // the parent can be asked again (the same retry comes back)
    }

    void failedJobsShowTheirError_data()
    {
        QTest::addColumn<bool>("cancel");
        QTest::addColumn<QString>("expected");
        QTest::newRow("cancel") << true << "Cancel of running failed: cannot reach Temporal at http://127.0.0.1:1";
        QTest::newRow("retry") << false << "Retry of the failed items of partial failed: cannot reach Temporal at http://127.0.0.1:1";
    }

    void failedJobsShowTheirError()
    {
        QFETCH(bool, cancel);
        QFETCH(QString, expected);
        fake::Processor processor;
        BatchDashboardWidget w;
        w.setProcessor(&processor);
        fill(w);
        w.selectBatch(cancel ? QStringLiteral("running") : QStringLiteral("partial"));
        if (cancel)
            w.cancelSelected();
        else
            w.retrySelected();
        QPointer<fake::BatchJob> job = processor.last();
        QTRY_VERIFY(job && job->started);
        job->finish(Job::NetworkError, QStringLiteral("cannot reach Temporal at http://127.0.0.1:1"));
        QCOMPARE(w.message(), expected);
        // The action can be tried again.
        QVERIFY(cancel ? w.cancelAction()->isEnabled() : w.retryAction()->isEnabled());
        w.clearMessage();
        QVERIFY(w.message().isEmpty());
    }

    // A label showing text of its own shows the text: PlainText, or rich
    // text built with the text escaped.
    static void verifyShownAsText(const QWidget &w, const QString &hostile)
    {
        int showing = 0;
        for (const QLabel *label : w.findChildren<QLabel *>()) {
            const bool rich = label->textFormat() == Qt::RichText
                || (label->textFormat() == Qt::AutoText && Qt::mightBeRichText(label->text()));
            if (label->text().contains(hostile)) {
                ++showing;
                QVERIFY2(!rich, qPrintable(QStringLiteral("shown as HTML: ") + label->text()));
            }
            if (rich && label->text().contains(hostile.toHtmlEscaped()))
                ++showing;
        }
        QVERIFY2(showing > 0, "the text is shown nowhere");
    }

    void hostileTextIsShownNotObeyed()
    {
        const QString hostile = QStringLiteral("<img src=\"file:///etc/passwd\"><b>trust me</b>");
        fake::Processor processor;
        BatchDashboardWidget w;
        w.setProcessor(&processor);
        fill(w);
        BatchStatus evil = fake::batch(QStringLiteral("partial"), QStringLiteral("partial_failure"), 4, 2, 2);
        evil.errors = QJsonArray{QJsonObject{{QStringLiteral("index"), 1}, {QStringLiteral("error"), hostile}}};
        evil.workflowFailure = hostile;
        w.model()->updateBatch(evil);
        w.selectBatch(QStringLiteral("partial"));
        verifyShownAsText(w, hostile); // the detail of the selected batch
        const QString tip = w.errorList()->topLevelItem(0)->toolTip(2);
        QTextDocument doc;
        if (Qt::mightBeRichText(tip))
            doc.setHtml(tip);
        else
            doc.setPlainText(tip);
        QCOMPARE(doc.toPlainText(), hostile);

        w.retrySelected();
        QPointer<fake::BatchJob> job = processor.last();
        QTRY_VERIFY(job && job->started);
        job->finish(Job::ServerError, hostile);
        QVERIFY(w.message().contains(hostile));
        verifyShownAsText(w, hostile); // the message bar
    }

    void fiveHundredRowsFollowAWatch()
    {
        // 500 batches, each changing: was 16 s for one round of changes
        // (every column measured over every row at each), now a few ms.
        BatchDashboardWidget w;
        w.resize(1200, 800);
        for (int i = 0; i < 500; ++i) {
            const BatchStatus b = fake::batch(QStringLiteral("batch-%1").arg(i), QStringLiteral("processing"), 1000, 1, 0);
            w.model()->updateBatch(b, fake::progressOf(b, BatchProgress::Phase::Processing));
        }
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < 500; ++i) {
            const BatchStatus b = fake::batch(QStringLiteral("batch-%1").arg(i), QStringLiteral("processing"), 1000, 500 + i, 0);
            BatchProgress p = fake::progressOf(b, BatchProgress::Phase::Processing);
            p.rate = 1000 + i;
            w.model()->updateBatch(b, p);
        }
        const qint64 ms = t.elapsed();
        QVERIFY2(ms < 3000, qPrintable(QStringLiteral("%1 ms for 500 changes").arg(ms)));
        // The figures still fit, once the changes settle.
        QAbstractItemView *view = w.findChild<QTreeView *>(); // sizeHintForColumn is public there
        QVERIFY(view);
        QTRY_VERIFY(static_cast<QTreeView *>(view)->columnWidth(BatchTableModel::ProcessedColumn) >= view->sizeHintForColumn(BatchTableModel::ProcessedColumn));
        QTRY_VERIFY(static_cast<QTreeView *>(view)->columnWidth(BatchTableModel::RateColumn) >= view->sizeHintForColumn(BatchTableModel::RateColumn));
    }

    void aPluginWithoutTheCallSaysSo()
    {
        fake::Processor processor;
        processor.refuse = true;
        BatchDashboardWidget w;
        w.setProcessor(&processor);
        fill(w);
        w.selectBatch(QStringLiteral("partial"));
        w.retrySelected();
        QVERIFY2(w.message().contains(QStringLiteral("does not offer")), qPrintable(w.message()));
    }

    void errorListOfTheSelectedBatch()
    {
        BatchDashboardWidget w;
        fill(w);
        w.selectBatch(QStringLiteral("done"));
        QCOMPARE(w.errorList()->topLevelItemCount(), 0);
        w.selectBatch(QStringLiteral("partial"));
        QCOMPARE(w.errorList()->topLevelItemCount(), 3);
        QCOMPARE(w.errorList()->topLevelItem(0)->text(0), QStringLiteral("1"));
        QCOMPARE(w.errorList()->topLevelItem(0)->text(1), QStringLiteral("validate"));
        QCOMPARE(w.errorList()->topLevelItem(1)->text(2), QStringLiteral("tags must be a list"));
        QCOMPARE(w.errorList()->topLevelItem(2)->text(0), QStringLiteral("-")); // no item index
        // Folded until asked for.
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(!w.errorList()->isVisible());
        w.setErrorsExpanded(true);
        QVERIFY(w.errorList()->isVisible());
        QVERIFY(w.errorsExpanded());

        // New errors arrive for the selected batch: the list follows.
        BatchStatus more = w.model()->batch(QStringLiteral("partial"));
        QJsonArray errors = more.errors;
        errors.append(QJsonObject{{QStringLiteral("index"), 9}, {QStringLiteral("error"), QStringLiteral("late")}});
        more.errors = errors;
        w.model()->updateBatch(more);
        QCOMPARE(w.errorList()->topLevelItemCount(), 4);
    }

    void summary()
    {
        BatchDashboardWidget w;
        QCOMPARE(w.summary(), QStringLiteral("No batches"));
        QSignalSpy changed(&w, &BatchDashboardWidget::summaryChanged);
        fill(w);
        QVERIFY(changed.count() >= 1);
        QCOMPARE(w.summary(), QStringLiteral("4 batches: 1 running, 1 canceled, 1 completed, 1 partial failure"));
    }

    void grabRenders()
    {
        BatchDashboardWidget w;
        fill(w);
        w.resize(1000, 420);
        w.selectBatch(QStringLiteral("partial"));
        w.setErrorsExpanded(true);
        const QImage image = w.grab().toImage();
        QCOMPARE(image.size(), QSize(1000, 420));
        // Not one colour: the table, the bars and the text drew something.
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 7)
            for (int x = 0; x < image.width(); x += 7)
                colours.insert(image.pixel(x, y));
        QVERIFY2(colours.size() > 20, qPrintable(QString::number(colours.size())));
        const QString out = QStringLiteral(MEMBATCH_TEST_OUTPUT_DIR "/batchdashboardwidget.png");
        QVERIFY(image.save(out));
    }
};

QTEST_MAIN(TestBatchDashboardWidget)
#include "tst_batchdashboardwidget.moc"
