#include "fakejobs.h"

#include "../../host-stub/progressprinter.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTest>

using namespace membatch;
using Phase = BatchProgress::Phase;

namespace {

QStringList linesOf(const QString &text)
{
    return text.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
}

// Three batches of a monitor, as a watch --all would have them.
struct Three
{
    fake::MonitorJob monitor;
    Three()
    {
        monitor.setAutoDelete(false);
        for (const char *id : {"batch-one", "batch-two", "batch-three"})
            monitor.addBatch(QString::fromLatin1(id));
    }
    void report(const char *id, const char *status, qint64 processed, Phase phase, qint64 failed = 0)
    {
        const BatchStatus b = fake::batch(QString::fromLatin1(id), QString::fromLatin1(status), 100, processed, failed);
        monitor.report(b, fake::progress(b, phase));
    }
    void endAll()
    {
        report("batch-one", "completed", 100, Phase::Done);
        report("batch-two", "partial_failure", 100, Phase::Done, 7);
        report("batch-three", "completed", 100, Phase::Done);
    }
};

} // namespace

class tst_ProgressPrinter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void line_data()
    {
        QTest::addColumn<BatchProgress>("progress");
        QTest::addColumn<QString>("expected");
        BatchProgress p;
        p.batchId = QStringLiteral("0123456789abcdef");
        p.phase = Phase::Processing;
        p.total = 200;
        p.processed = 50;
        p.succeeded = 48;
        p.failed = 2;
        QTest::newRow("no rate or ETA from the plugin: none shown")
            << p << QStringLiteral("01234567 processing  50/200 (25%)  stored 48  failed 2");
        BatchProgress timed = p;
        timed.rate = 12.5;
        timed.etaMs = 65000;
        QTest::newRow("the plugin's rate and ETA")
            << timed << QStringLiteral("01234567 processing  50/200 (25%)  stored 48  failed 2  12.5/s  ETA 1 min 05 s");
        BatchProgress hours = timed;
        hours.etaMs = 2 * 3600 * 1000 + 3 * 60 * 1000;
        QTest::newRow("ETA in hours")
            << hours << QStringLiteral("01234567 processing  50/200 (25%)  stored 48  failed 2  12.5/s  ETA 2 h 03 min");
        BatchProgress stalled = p;
        stalled.stalled = true;
        stalled.reason = QStringLiteral("no progress since 10:04:00");
        QTest::newRow("stalled")
            << stalled << QStringLiteral("01234567 processing  50/200 (25%)  stored 48  failed 2  STALLED: no progress since 10:04:00");
        BatchProgress retrying = p;
        retrying.reason = QStringLiteral("worker retrying after a 503");
        QTest::newRow("a reason while running")
            << retrying << QStringLiteral("01234567 processing  50/200 (25%)  stored 48  failed 2  (worker retrying after a 503)");
        BatchProgress upload;
        upload.batchId = QStringLiteral("b1");
        upload.phase = Phase::Uploading;
        upload.bytesDone = 2048;
        upload.rate = 1536;
        upload.etaMs = 2000;
        QTest::newRow("uploading: bytes a second")
            << upload << QStringLiteral("b1 uploading   2.00 KiB uploaded  1.50 KiB/s  ETA 2 s");
        BatchProgress failed = p;
        failed.phase = Phase::Done;
        failed.status = QStringLiteral("failed");
        failed.reason = QStringLiteral("workflow terminated:\nby an operator\x1b[2J");
        failed.rate = 3;
        failed.etaMs = 0;
        QTest::newRow("ended badly: the reason, no ETA, no escape codes")
            << failed
            << QStringLiteral("01234567 done        50/200 (25%)  stored 48  failed 2  failed: workflow terminated: by an operator\\u001b[2J");
    }
    void line()
    {
        QFETCH(BatchProgress, progress);
        QFETCH(QString, expected);
        QCOMPARE(ProgressPrinter::line(progress), expected);
    }

    void hostileTextIsWrittenOutNotObeyed_data()
    {
        QTest::addColumn<QString>("call");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        // A server's error, a journal's lock holder: escapes, C1 controls,
        // a bidi override that shows "exe.txt" as "txt.exe".
        QTest::newRow("error: an escape") << "error" << "bad \x1b]0;owned\x07" << "membatch: bad \\u001b]0;owned\\u0007\n";
        QTest::newRow("error: a C1 CSI") << "error" << QStringLiteral("x\u009b2J") << "membatch: x\\u009b2J\n";
        QTest::newRow("error: a bidi override") << "error" << QStringLiteral("id \u202Etxt.exe") << "membatch: id \\u202etxt.exe\n";
        QTest::newRow("warning: a zero-width space") << "warning" << QStringLiteral("a\u200Bb") << "membatch: warning: a\\u200bb\n";
    }

    void hostileTextIsWrittenOutNotObeyed()
    {
        QFETCH(QString, call);
        QFETCH(QString, text);
        QFETCH(QString, expected);
        QString out, err;
        ProgressPrinter printer(ProgressPrinter::Mode::Lines, &out, &err);
        if (call == QLatin1String("error"))
            printer.error(text);
        else
            printer.warning(text);
        QCOMPARE(err, expected);
    }

    void aBatchIdWithANewlineStaysOnItsLine()
    {
        // The terminal's block is redrawn by counting its lines.
        BatchProgress p;
        p.batchId = QStringLiteral("two\nlines");
        p.status = QStringLiteral("pro\ncessing");
        p.phase = Phase::Done;
        for (int width : {0, 12})
            QVERIFY2(!ProgressPrinter::line(p, width).contains(QLatin1Char('\n')), qPrintable(ProgressPrinter::line(p, width)));
    }

    void singleBatchJobAsBefore()
    {
        QString out, err;
        ProgressPrinter printer(ProgressPrinter::Mode::Lines, &out, &err);
        printer.setCommand(QStringLiteral("watch"));
        fake::BatchJob job;
        job.setAutoDelete(false);
        printer.registerJob(&job);
        BatchStatus b = fake::batch(QStringLiteral("b1"), QStringLiteral("processing"), 10, 5);
        b.requestId = QStringLiteral("R1");
        job.report(b, fake::progress(b, Phase::Processing));
        b = fake::batch(QStringLiteral("b1"), QStringLiteral("completed"), 10, 10);
        b.requestId = QStringLiteral("R1");
        job.report(b, fake::progress(b, Phase::Done));
        job.end();
        const QStringList lines = linesOf(out);
        QVERIFY2(lines.size() >= 3, qPrintable(out));
        QCOMPARE(lines.at(0), QStringLiteral("b1 processing  5/10 (50%)  stored 5  failed 0"));
        QCOMPARE(lines.at(1), QStringLiteral("b1 done        10/10 (100%)  stored 10  failed 0  completed"));
        QCOMPARE(lines.at(2), QStringLiteral("batch b1: completed"));
        QVERIFY(err.isEmpty());
    }

    void piped_oneLineEachAtMostOnceASecondAndOneFinal()
    {
        QString out, err;
        ProgressPrinter printer(ProgressPrinter::Mode::Lines, &out, &err);
        printer.setCommand(QStringLiteral("watch"));
        Three t;
        printer.registerJob(&t.monitor);
        for (int i = 1; i <= 10; ++i) {
            t.report("batch-one", "processing", i, Phase::Processing);
            t.report("batch-two", "processing", i, Phase::Processing);
        }
        t.report("batch-three", "pending", 0, Phase::Queued);
        // The first state of each at once; the rest held back.
        QStringList lines = linesOf(out);
        QCOMPARE(lines.size(), 3);
        QVERIFY2(lines.at(0).startsWith(QLatin1String("batch-one   processing  1/100")), qPrintable(lines.at(0)));
        QVERIFY2(lines.at(1).startsWith(QLatin1String("batch-two   processing  1/100")), qPrintable(lines.at(1)));
        QVERIFY2(lines.at(2).startsWith(QLatin1String("batch-three queued")), qPrintable(lines.at(2)));
        // A second later, the latest state of those that moved.
        QTRY_COMPARE_WITH_TIMEOUT(linesOf(out).size(), 5, 3000);
        lines = linesOf(out);
        QVERIFY2(lines.at(3).contains(QLatin1String("10/100")) && lines.at(4).contains(QLatin1String("10/100")), qPrintable(out));

        t.endAll();
        t.report("batch-one", "completed", 100, Phase::Done); // seen again: no line
        t.monitor.end(Job::BatchFailedError, QStringLiteral("batch batch-two ended partial_failure"));
        lines = linesOf(out);
        QCOMPARE(lines.size(), 9);
        QCOMPARE(lines.at(5), QStringLiteral("batch-one   done        100/100 (100%)  stored 100  failed 0  completed"));
        QCOMPARE(lines.at(6), QStringLiteral("batch-two   done        100/100 (100%)  stored 93  failed 7  partial_failure"));
        QCOMPARE(lines.at(7), QStringLiteral("batch-three done        100/100 (100%)  stored 100  failed 0  completed"));
        QCOMPARE(lines.at(8), QStringLiteral("3 batches: 2 completed, 1 partial_failure"));
        QVERIFY(!out.contains(QChar(0x1b)));
        QCOMPARE(err, QStringLiteral("membatch: batch batch-two ended partial_failure\n"));
    }

    void piped_aBatchThatNeverEndedGetsItsLastLine()
    {
        QString out, err;
        ProgressPrinter printer(ProgressPrinter::Mode::Lines, &out, &err);
        Three t;
        printer.registerJob(&t.monitor);
        t.report("batch-one", "processing", 1, Phase::Processing);
        t.report("batch-one", "processing", 2, Phase::Processing); // held back
        t.monitor.end(Job::KilledError, QStringLiteral("interrupted"));
        const QStringList lines = linesOf(out);
        QCOMPARE(lines.size(), 3);
        QVERIFY2(lines.at(1).startsWith(QLatin1String("batch-one   processing  2/100")), qPrintable(out));
        QCOMPARE(lines.at(2), QStringLiteral("3 batches: 1 not ended (processing), 2 not ended (unknown)"));
    }

    void piped_aFailedWorkflowEndsTheBatch()
    {
        QString out, err;
        ProgressPrinter printer(ProgressPrinter::Mode::Lines, &out, &err);
        fake::MonitorJob monitor;
        monitor.setAutoDelete(false);
        monitor.addBatch(QStringLiteral("b1"));
        printer.registerJob(&monitor);
        // Parse still says processing; the workflow was terminated.
        BatchStatus b = fake::batch(QStringLiteral("b1"), QStringLiteral("processing"), 100, 40, 1);
        b.workflowStatus = QStringLiteral("terminated");
        BatchProgress p = fake::progress(b, Phase::Processing);
        p.reason = QStringLiteral("workflow terminated by an operator");
        p.rate = 9;
        monitor.report(b, p);
        monitor.end(Job::BatchFailedError, QStringLiteral("batch b1 failed"));
        const QStringList lines = linesOf(out);
        QCOMPARE(lines.size(), 2);
        QCOMPARE(lines.at(0), QStringLiteral("b1       done        40/100 (40%)  stored 39  failed 1  failed: workflow terminated by an operator"));
        QCOMPARE(lines.at(1), QStringLiteral("1 batch: 1 failed"));
    }

    void terminal_redrawnInPlace()
    {
        QString out, err;
        ProgressPrinter printer(ProgressPrinter::Mode::Terminal, &out, &err);
        printer.setWidth(50);
        Three t;
        printer.registerJob(&t.monitor);
        t.report("batch-one", "processing", 1, Phase::Processing);
        t.report("batch-two", "processing", 1, Phase::Processing);
        t.report("batch-three", "pending", 0, Phase::Queued);
        // Drawn together, once, on the next redraw: three lines, no cursor move yet.
        QTRY_VERIFY(out.count(QLatin1Char('\n')) == 3);
        QVERIFY(!out.contains(QLatin1String("\x1b[3A")));
        QVERIFY2(out.contains(QStringLiteral("\r\x1b[2Kbatch-one   processing  1/100 (1%)  stored 1  fa\u2026\n")), qPrintable(out));
        out.clear();
        t.report("batch-one", "processing", 60, Phase::Processing);
        QTRY_VERIFY(!out.isEmpty());
        // Up three lines, then each line cleared and drawn again, cut to fit.
        QVERIFY2(out.startsWith(QLatin1String("\x1b[3A\r\x1b[2Kbatch-one   processing  60/100")), qPrintable(out));
        QCOMPARE(out.count(QLatin1String("\x1b[2K")), 3);
        for (QString l : linesOf(out))
            QVERIFY2(l.remove(QLatin1String("\x1b[3A")).remove(QLatin1String("\r\x1b[2K")).size() < 50, qPrintable(l));

        // A message goes above the lines, which are drawn again below it.
        out.clear();
        printer.info(QStringLiteral("worker gone"));
        QVERIFY2(out.startsWith(QLatin1String("\x1b[3A\r\x1b[Jworker gone\n\r\x1b[2Kbatch-one")), qPrintable(out));
        QCOMPARE(out.count(QLatin1Char('\n')), 4);

        // So does a warning on stderr, which shares the terminal.
        out.clear();
        printer.warning(QStringLiteral("journal /x/journal.json: cannot write it"));
        QCOMPARE(err, QStringLiteral("membatch: warning: journal /x/journal.json: cannot write it\n"));
        QVERIFY2(out.startsWith(QLatin1String("\x1b[3A\r\x1b[J\r\x1b[2Kbatch-one")), qPrintable(out));
        QCOMPARE(out.count(QLatin1Char('\n')), 3);
        err.clear();

        out.clear();
        t.endAll();
        t.monitor.end(Job::BatchFailedError, QStringLiteral("not all completed"));
        QVERIFY2(out.contains(QStringLiteral("\r\x1b[2Kbatch-two   done        100/100 (100%)  stored 9\u2026\n")), qPrintable(out));
        QVERIFY(out.endsWith(QLatin1String("3 batches: 2 completed, 1 partial_failure\n")));
    }

    void terminal_aChangeTheLinesDoNotShowDrawsNothing()
    {
        QString out, err;
        ProgressPrinter printer(ProgressPrinter::Mode::Terminal, &out, &err);
        printer.setWidth(200);
        Three t;
        printer.registerJob(&t.monitor);
        t.report("batch-one", "processing", 5, Phase::Processing);
        t.report("batch-two", "processing", 5, Phase::Processing);
        t.report("batch-three", "processing", 5, Phase::Processing);
        QTRY_VERIFY(out.count(QLatin1Char('\n')) == 3);
        out.clear();
        BatchStatus same = fake::batch(QStringLiteral("batch-one"), QStringLiteral("processing"), 100, 5);
        same.workflowStatus = QStringLiteral("running"); // not on the line
        QSignalSpy changed(&t.monitor, &MonitorJob::batchChanged);
        t.monitor.report(same, fake::progress(same, Phase::Processing));
        QCOMPARE(changed.count(), 1);
        t.monitor.end(); // draws at once what is left to draw
        QCOMPARE(out, QStringLiteral("3 batches: 3 not ended (processing)\n"));
    }

    void terminal_moreBatchesThanFitShowTheRunningFirst()
    {
        QString out, err;
        ProgressPrinter printer(ProgressPrinter::Mode::Terminal, &out, &err);
        printer.setWidth(200);
        printer.setHeight(4);
        fake::MonitorJob monitor;
        monitor.setAutoDelete(false);
        printer.registerJob(&monitor);
        const char *ids[] = {"b1", "b2", "b3", "b4", "b5"};
        for (const char *id : ids)
            monitor.addBatch(QString::fromLatin1(id));
        for (int i = 0; i < 5; ++i) {
            const bool ended = i < 2;
            const BatchStatus b = fake::batch(QString::fromLatin1(ids[i]), ended ? "completed" : "processing", 10, ended ? 10 : i);
            monitor.report(b, fake::progress(b, ended ? Phase::Done : Phase::Processing));
        }
        QTRY_VERIFY(!out.isEmpty());
        const QStringList lines = linesOf(out);
        QCOMPARE(lines.size(), 3); // a screen of 4 rows: 2 batches, the rest counted, the cursor's row
        QVERIFY2(lines.at(0).startsWith(QLatin1String("\r\x1b[2Kb3 ")), qPrintable(out));
        QVERIFY2(lines.at(1).startsWith(QLatin1String("\r\x1b[2Kb4 ")), qPrintable(out));
        QCOMPARE(lines.at(2), QStringLiteral("\r\x1b[2K... 3 more (2 ended)"));
    }

    void json_lineOfEachBatchWithItsId()
    {
        QString out, err;
        ProgressPrinter printer(ProgressPrinter::Mode::Json, &out, &err);
        printer.setCommand(QStringLiteral("watch"));
        Three t;
        printer.registerJob(&t.monitor);
        BatchStatus b = fake::batch(QStringLiteral("batch-two"), QStringLiteral("processing"), 100, 30);
        BatchProgress p = fake::progress(b, Phase::Processing);
        p.batchId.clear(); // the printer names it from the batch
        p.rate = 4.5;
        p.etaMs = 15000;
        p.estimatedCompletion = QDateTime(QDate(2026, 12, 1), QTime(20, 0), Qt::UTC);
        t.monitor.report(b, p);
        t.endAll();
        t.monitor.end();
        const QStringList lines = linesOf(out);
        QCOMPARE(lines.size(), 5);
        QList<QJsonObject> events;
        for (const QString &l : lines) {
            QJsonParseError error;
            const QJsonDocument doc = QJsonDocument::fromJson(l.toUtf8(), &error);
            QVERIFY2(error.error == QJsonParseError::NoError && doc.isObject(), qPrintable(l));
            events << doc.object();
        }
        QCOMPARE(events.at(0).value(QStringLiteral("event")).toString(), QStringLiteral("progress"));
        QCOMPARE(events.at(0).value(QStringLiteral("batchId")).toString(), QStringLiteral("batch-two"));
        QCOMPARE(events.at(0).value(QStringLiteral("rate")).toDouble(), 4.5);
        QCOMPARE(events.at(0).value(QStringLiteral("etaMs")).toInteger(), 15000);
        QCOMPARE(events.at(0).value(QStringLiteral("estimatedCompletion")).toString(), QStringLiteral("2026-12-01T20:00:00.000Z"));
        QCOMPARE(events.at(2).value(QStringLiteral("batchId")).toString(), QStringLiteral("batch-two"));
        QCOMPARE(events.at(2).value(QStringLiteral("status")).toString(), QStringLiteral("partial_failure"));
        const QJsonObject result = events.at(4);
        QCOMPARE(result.value(QStringLiteral("event")).toString(), QStringLiteral("result"));
        QCOMPARE(result.value(QStringLiteral("command")).toString(), QStringLiteral("watch"));
        QCOMPARE(result.value(QStringLiteral("ok")).toBool(), true);
        const QJsonArray batches = result.value(QStringLiteral("batches")).toArray();
        QCOMPARE(batches.size(), 3);
        QCOMPARE(batches.at(1).toObject().value(QStringLiteral("batchId")).toString(), QStringLiteral("batch-two"));
        QCOMPARE(batches.at(1).toObject().value(QStringLiteral("failCount")).toInteger(), 7);
        QVERIFY(err.isEmpty());
    }
};

QTEST_GUILESS_MAIN(tst_ProgressPrinter)
#include "tst_progressprinter.moc"
