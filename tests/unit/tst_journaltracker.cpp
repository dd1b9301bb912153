#include "fakejobs.h"

#include <membatch/journal.h>

#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace membatch;
using Phase = BatchProgress::Phase;

namespace {
const QString Server = JournalEntry::serverKey(QStringLiteral("http://127.0.0.1:1337/parse"), QStringLiteral("app"));
const QString User = QStringLiteral("alice");
}

class tst_JournalTracker : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    int m_n = 0;
    QString freshPath() { return m_dir.filePath(QStringLiteral("j%1/journal.json").arg(++m_n)); }

    static JournalEntry only(const Journal &journal)
    {
        const QList<JournalEntry> all = journal.entries();
        return all.size() == 1 ? all.first() : JournalEntry();
    }

private Q_SLOTS:
    void submissionRecordedOnceItsIdIsKnown()
    {
        Journal journal(freshPath());
        JournalTracker tracker(&journal, Server, User);
        QSignalSpy failures(&tracker, &JournalTracker::journalFailed);
        tracker.setSource(QStringLiteral("memories.jsonl"));
        fake::BatchJob job;
        job.setAutoDelete(false);
        tracker.registerJob(&job);

        // Reading: no id yet, nothing to record.
        BatchProgress reading;
        reading.phase = Phase::Reading;
        reading.processed = 10;
        job.report(BatchStatus(), reading);
        QVERIFY(journal.entries().isEmpty());

        const BatchStatus pending = fake::batch(QStringLiteral("b1"), QStringLiteral("pending"), 10);
        job.report(pending, fake::progress(pending, Phase::Uploading));
        JournalEntry e = only(journal);
        QCOMPARE(e.batchId, QStringLiteral("b1"));
        QCOMPARE(e.server, Server);
        QCOMPARE(e.user, User);
        QCOMPARE(e.source, QStringLiteral("memories.jsonl"));
        QCOMPARE(e.status, QStringLiteral("pending"));
        QVERIFY(e.submittedAt.isValid());
        QVERIFY(!e.isFinished());

        // --wait: it follows the batch, and the journal with it.
        const BatchStatus processing = fake::batch(QStringLiteral("b1"), QStringLiteral("processing"), 10, 4);
        job.report(processing, fake::progress(processing, Phase::Processing));
        QCOMPARE(only(journal).status, QStringLiteral("processing"));
        QVERIFY(!only(journal).isFinished());
        const BatchStatus done = fake::batch(QStringLiteral("b1"), QStringLiteral("completed"), 10, 10);
        job.report(done, fake::progress(done, Phase::Done));
        job.end();
        e = only(journal);
        QCOMPARE(e.status, QStringLiteral("completed"));
        QVERIFY(e.isFinished());
        QCOMPARE(e.submittedAt.isValid(), true);
        QCOMPARE(failures.count(), 0);
    }

    void submissionStoppedBeforeSentIsUnsent_data()
    {
        QTest::addColumn<int>("phase");
        QTest::addColumn<int>("error");
        QTest::addColumn<bool>("unsent");
        QTest::newRow("upload failed") << int(Phase::Uploading) << int(Job::NetworkError) << true;
        QTest::newRow("killed while uploading") << int(Phase::Uploading) << int(Job::KilledError) << true;
        QTest::newRow("id taken") << int(Phase::Starting) << int(Job::InvalidInputError) << true;
        // Sent, then the watch of --wait lost the server: it runs on.
        QTest::newRow("watch failed after sending") << int(Phase::Processing) << int(Job::NetworkError) << false;
        QTest::newRow("queued, no wait") << int(Phase::Queued) << int(Job::NoError) << false;
    }
    void submissionStoppedBeforeSentIsUnsent()
    {
        QFETCH(int, phase);
        QFETCH(int, error);
        QFETCH(bool, unsent);
        Journal journal(freshPath());
        JournalTracker tracker(&journal, Server, User);
        tracker.setSource(QStringLiteral("-"));
        fake::BatchJob job;
        job.setAutoDelete(false);
        tracker.registerJob(&job);
        const BatchStatus b = fake::batch(QStringLiteral("b1"), QStringLiteral("pending"), 10);
        job.report(b, fake::progress(b, Phase(phase)));
        job.end(error, QStringLiteral("it broke"));
        const JournalEntry e = only(journal);
        QCOMPARE(e.batchId, QStringLiteral("b1"));
        QCOMPARE(e.isFinished(), unsent);
        QCOMPARE(e.status, unsent ? QStringLiteral("unsent") : QStringLiteral("pending"));
    }

    void watchUpdatesButNeverAdds()
    {
        Journal journal(freshPath());
        JournalTracker tracker(&journal, Server, User);
        fake::BatchJob job;
        job.setAutoDelete(false);
        tracker.registerJob(&job); // no source: a watch
        const BatchStatus b = fake::batch(QStringLiteral("another-hosts"), QStringLiteral("completed"), 3, 3);
        job.report(b, fake::progress(b, Phase::Done));
        job.end();
        QVERIFY(journal.entries().isEmpty());
        QVERIFY(!QFile::exists(journal.path()));
    }

    void monitorEndsEntriesAndPrunes()
    {
        Journal journal(freshPath());
        const QDateTime now = QDateTime::currentDateTimeUtc();
        for (const char *id : {"b1", "b2", "b3", "long-ago"}) {
            JournalEntry e;
            e.batchId = QString::fromLatin1(id);
            e.server = Server;
            e.user = User;
            e.submittedAt = now.addDays(-10);
            e.status = QStringLiteral("processing");
            QVERIFY(journal.record(e));
        }
        QVERIFY(journal.update(Server, QStringLiteral("long-ago"), QStringLiteral("completed"), true, now.addDays(-8)));

        JournalTracker tracker(&journal, Server, User);
        tracker.setKeepFinished(7LL * 24 * 3600 * 1000);
        fake::MonitorJob monitor;
        monitor.setAutoDelete(false);
        for (const char *id : {"b1", "b2", "b3"})
            monitor.addBatch(QString::fromLatin1(id));
        tracker.registerJob(&monitor);

        const BatchStatus b1 = fake::batch(QStringLiteral("b1"), QStringLiteral("completed"), 5, 5);
        monitor.report(b1, fake::progress(b1, Phase::Done));
        BatchStatus b2 = fake::batch(QStringLiteral("b2"), QStringLiteral("processing"), 5, 1);
        b2.workflowStatus = QStringLiteral("terminated"); // one true state: it will not go on
        monitor.report(b2, fake::progress(b2, Phase::Processing));
        const BatchStatus b3 = fake::batch(QStringLiteral("b3"), QStringLiteral("processing"), 5, 2);
        monitor.report(b3, fake::progress(b3, Phase::Processing));
        monitor.end(Job::KilledError, QStringLiteral("interrupted")); // before b3 ended

        QHash<QString, JournalEntry> byId;
        const QList<JournalEntry> all = journal.entries();
        for (const JournalEntry &e : all)
            byId.insert(e.batchId, e);
        QVERIFY(!byId.contains(QStringLiteral("long-ago"))); // pruned when one ended
        QCOMPARE(byId.value(QStringLiteral("b1")).status, QStringLiteral("completed"));
        QVERIFY(byId.value(QStringLiteral("b1")).isFinished());
        QCOMPARE(byId.value(QStringLiteral("b2")).status, QStringLiteral("failed"));
        QVERIFY(byId.value(QStringLiteral("b2")).isFinished());
        QCOMPARE(byId.value(QStringLiteral("b3")).status, QStringLiteral("processing"));
        QVERIFY(!byId.value(QStringLiteral("b3")).isFinished());
        QCOMPARE(journal.unfinished(Server, User).size(), 1);
    }

    void failureSaidOnceAChange()
    {
        // The journal's directory is a file: nothing can be written.
        const QString blocker = m_dir.filePath(QStringLiteral("blocker"));
        QFile f(blocker);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        Journal journal(blocker + QStringLiteral("/journal.json"));
        JournalTracker tracker(&journal, Server, User);
        QSignalSpy failures(&tracker, &JournalTracker::journalFailed);
        tracker.setSource(QStringLiteral("memories.jsonl"));
        fake::BatchJob job;
        job.setAutoDelete(false);
        tracker.registerJob(&job);
        BatchStatus b = fake::batch(QStringLiteral("b1"), QStringLiteral("processing"), 100);
        for (int i = 0; i < 20; ++i) {
            b.processedCount = i;
            job.report(b, fake::progress(b, Phase::Processing));
        }
        QCOMPARE(failures.count(), 1);
        QVERIFY2(failures.first().first().toString().contains(blocker), qPrintable(failures.first().first().toString()));
        QVERIFY(!tracker.errorString().isEmpty());
        b.status = QStringLiteral("completed");
        job.report(b, fake::progress(b, Phase::Done));
        QCOMPARE(failures.count(), 2);
    }

    void jobDeletedWithoutResultIsForgotten()
    {
        Journal journal(freshPath());
        JournalTracker tracker(&journal, Server, User);
        tracker.setSource(QStringLiteral("memories.jsonl"));
        auto *job = new fake::BatchJob;
        tracker.registerJob(job);
        delete job;
        QVERIFY(tracker.jobs().isEmpty());
        // A new job, maybe at the same address, is a watch now.
        tracker.setSource(QString());
        fake::BatchJob watch;
        watch.setAutoDelete(false);
        tracker.registerJob(&watch);
        const BatchStatus b = fake::batch(QStringLiteral("b9"), QStringLiteral("pending"));
        watch.report(b, fake::progress(b, Phase::Queued));
        QVERIFY(journal.entries().isEmpty());
    }
};

QTEST_GUILESS_MAIN(tst_JournalTracker)
#include "tst_journaltracker.moc"
