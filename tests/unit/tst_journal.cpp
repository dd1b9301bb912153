#include <membatch/journal.h>

#include "../../interfaces/src/journal_p.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QLockFile>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>
#include <cstdio>
#include <iostream>

using namespace membatch;

namespace {

const QString ServerA = JournalEntry::serverKey(QStringLiteral("http://127.0.0.1:1337/parse"), QStringLiteral("app"));
const QString ServerB = JournalEntry::serverKey(QStringLiteral("http://127.0.0.1:2337/parse"), QStringLiteral("app"));

JournalEntry entry(const QString &id, const QString &server = ServerA, const QString &user = QStringLiteral("alice"))
{
    JournalEntry e;
    e.batchId = id;
    e.server = server;
    e.user = user;
    e.source = QStringLiteral("memories.jsonl");
    e.submittedAt = QDateTime::currentDateTimeUtc();
    e.status = QStringLiteral("pending");
    return e;
}

QStringList ids(const QList<JournalEntry> &entries)
{
    QStringList list;
    for (const JournalEntry &e : entries)
        list << e.batchId;
    return list;
}

QByteArray contents(const QString &path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray("(unreadable)");
}

// --- the child processes: another host on the same journal ---------------

void killBeforeCommit()
{
    std::fputs("before-commit\n", stdout);
    std::fflush(stdout);
    std::raise(SIGKILL);
}

int child(const QStringList &args)
{
    const QString mode = args.value(2);
    Journal journal(args.value(3));
    if (mode == QLatin1String("record")) {
        // record PATH PREFIX N: N entries, one change each.
        const int n = args.value(5).toInt();
        for (int i = 0; i < n; ++i) {
            if (!journal.record(entry(QStringLiteral("%1-%2").arg(args.value(4)).arg(i)))) {
                std::cerr << qPrintable(journal.errorString()) << '\n';
                return 1;
            }
        }
        return 0;
    }
    if (mode == QLatin1String("crash-before-commit")) {
        // Killed with the change in QSaveFile's temporary file.
        journal_test::setBeforeCommitHook(killBeforeCommit);
        journal.record(entry(args.value(4)));
        return 2; // not reached
    }
    if (mode == QLatin1String("hold-lock")) {
        // Holds the journal's lock until killed.
        QLockFile lock(args.value(3) + QStringLiteral(".lock"));
        if (!lock.lock())
            return 1;
        std::fputs("locked\n", stdout);
        std::fflush(stdout);
        char c;
        while (std::fread(&c, 1, 1, stdin) == 1) {
        }
        return 0;
    }
    return 3;
}

} // namespace

class tst_Journal : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    int m_n = 0;

    QString freshPath() { return m_dir.filePath(QStringLiteral("j%1/journal.json").arg(++m_n)); }

    // The test binary again, as another host.
    QProcess *startChild(const QStringList &args)
    {
        auto *p = new QProcess(this);
        p->setProgram(QCoreApplication::applicationFilePath());
        p->setArguments(QStringList{QStringLiteral("--child")} + args);
        p->start();
        return p;
    }
    static bool waitFinished(QProcess *p, int ms = 30000)
    {
        if (p->state() == QProcess::NotRunning)
            return true;
        QSignalSpy spy(p, &QProcess::finished);
        return spy.wait(ms);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
    }

    void defaultPathIsAppData()
    {
        QStandardPaths::setTestModeEnabled(true);
        const QString path = Journal::defaultPath();
        QVERIFY2(path.startsWith(QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)), qPrintable(path));
        QVERIFY(path.endsWith(QLatin1String("/journal.json")));
        QCOMPARE(Journal().path(), path);
    }

    void missingFileIsEmpty()
    {
        const Journal journal(freshPath());
        bool ok = false;
        QVERIFY(journal.entries(&ok).isEmpty());
        QVERIFY(ok);
        QVERIFY(journal.unfinished(ServerA, QStringLiteral("alice"), &ok).isEmpty());
        QVERIFY(ok);
        QVERIFY(!QFile::exists(journal.path())); // reading writes nothing
    }

    void recordKeepsFirstSubmission()
    {
        Journal journal(freshPath());
        JournalEntry first = entry(QStringLiteral("b1"));
        first.submittedAt = QDateTime::currentDateTimeUtc().addSecs(-600);
        QVERIFY2(journal.record(first), qPrintable(journal.errorString()));
        QVERIFY(journal.record(entry(QStringLiteral("b2"))));
        JournalEntry again = entry(QStringLiteral("b1"));
        again.status = QStringLiteral("processing");
        QVERIFY(journal.record(again)); // sent again: the same entry
        const QList<JournalEntry> all = journal.entries();
        QCOMPARE(ids(all), (QStringList{QStringLiteral("b1"), QStringLiteral("b2")}));
        QCOMPARE(all.first().status, QStringLiteral("processing"));
        QCOMPARE(all.first().submittedAt, first.submittedAt.toUTC());
        QCOMPARE(all.first().source, QStringLiteral("memories.jsonl"));
        QCOMPARE(all.first().user, QStringLiteral("alice"));
        QVERIFY(!all.first().isFinished());
    }

    void update_data()
    {
        QTest::addColumn<QString>("status");
        QTest::addColumn<bool>("final");
        QTest::addColumn<bool>("unfinishedAfter");
        QTest::newRow("processing") << QStringLiteral("processing") << false << true;
        QTest::newRow("completed") << QStringLiteral("completed") << true << false;
        QTest::newRow("partial_failure") << QStringLiteral("partial_failure") << true << false;
        QTest::newRow("canceled") << QStringLiteral("canceled") << true << false;
    }
    void update()
    {
        QFETCH(QString, status);
        QFETCH(bool, final);
        QFETCH(bool, unfinishedAfter);
        Journal journal(freshPath());
        QVERIFY(journal.record(entry(QStringLiteral("b1"))));
        QVERIFY(journal.record(entry(QStringLiteral("b2"))));
        const QDateTime at = QDateTime::currentDateTimeUtc().addSecs(-5);
        QVERIFY2(journal.update(ServerA, QStringLiteral("b1"), status, final, at), qPrintable(journal.errorString()));
        const JournalEntry b1 = journal.entries().first();
        QCOMPARE(b1.status, status);
        QCOMPARE(b1.isFinished(), final);
        if (final)
            QCOMPARE(b1.finishedAt, at);
        const QStringList expected = unfinishedAfter ? QStringList{QStringLiteral("b1"), QStringLiteral("b2")} : QStringList{QStringLiteral("b2")};
        QCOMPARE(ids(journal.unfinished(ServerA, QStringLiteral("alice"))), expected);
        // Seen ending again later: it ended when it was first seen to.
        if (final) {
            QVERIFY(journal.update(ServerA, QStringLiteral("b1"), status, true));
            QCOMPARE(journal.entries().first().finishedAt, at);
        }
    }

    void updateOfAnUnknownBatchChangesNothing()
    {
        Journal journal(freshPath());
        QVERIFY(journal.record(entry(QStringLiteral("b1"))));
        const QByteArray before = contents(journal.path());
        QVERIFY(journal.update(ServerA, QStringLiteral("someone-elses"), QStringLiteral("completed"), true));
        QVERIFY(journal.update(ServerB, QStringLiteral("b1"), QStringLiteral("completed"), true)); // another server's b1
        QCOMPARE(contents(journal.path()), before);
    }

    void prune()
    {
        Journal journal(freshPath());
        const QDateTime now = QDateTime::currentDateTimeUtc();
        for (const char *id : {"old", "recent", "running"})
            QVERIFY(journal.record(entry(QString::fromLatin1(id))));
        QVERIFY(journal.update(ServerA, QStringLiteral("old"), QStringLiteral("completed"), true, now.addDays(-8)));
        QVERIFY(journal.update(ServerA, QStringLiteral("recent"), QStringLiteral("failed"), true, now.addDays(-1)));
        QCOMPARE(journal.prune(now.addDays(-7)), 1);
        QCOMPARE(ids(journal.entries()), (QStringList{QStringLiteral("recent"), QStringLiteral("running")}));
        QCOMPARE(journal.prune(now.addDays(-7)), 0);
        QCOMPARE(journal.prune(now), 1); // a batch that has not ended is never pruned
        QCOMPARE(ids(journal.entries()), QStringList{QStringLiteral("running")});
    }

    void serverKey_data()
    {
        QTest::addColumn<QString>("a");
        QTest::addColumn<QString>("b");
        QTest::addColumn<bool>("same");
        QTest::newRow("trailing slash") << "http://h:1337/parse|app" << "http://h:1337/parse/|app" << true;
        QTest::newRow("credentials") << "http://h:1337/parse|app" << "http://u:pw@h:1337/parse|app" << true;
        QTest::newRow("host case") << "http://h:1337/parse|app" << "http://H:1337/parse|app" << true;
        QTest::newRow("another port") << "http://h:1337/parse|app" << "http://h:1338/parse|app" << false;
        QTest::newRow("another app") << "http://h:1337/parse|app" << "http://h:1337/parse|other" << false;
        QTest::newRow("another mount") << "http://h:1337/parse|app" << "http://h:1337/p2|app" << false;
    }
    void serverKey()
    {
        QFETCH(QString, a);
        QFETCH(QString, b);
        QFETCH(bool, same);
        const QString ka = JournalEntry::serverKey(a.section(QLatin1Char('|'), 0, 0), a.section(QLatin1Char('|'), 1));
        const QString kb = JournalEntry::serverKey(b.section(QLatin1Char('|'), 0, 0), b.section(QLatin1Char('|'), 1));
        QCOMPARE(ka == kb, same);
        QVERIFY(!kb.contains(QLatin1String("pw"))); // no password in the file
    }

    void scopedByServerAndUser()
    {
        Journal journal(freshPath());
        QVERIFY(journal.record(entry(QStringLiteral("a-alice"), ServerA, QStringLiteral("alice"))));
        QVERIFY(journal.record(entry(QStringLiteral("a-bob"), ServerA, QStringLiteral("bob"))));
        QVERIFY(journal.record(entry(QStringLiteral("b-alice"), ServerB, QStringLiteral("alice"))));
        QVERIFY(journal.record(entry(QStringLiteral("a-master"), ServerA, QString())));
        // Bob sends under Alice's id (refused by Parse later): Alice's entry stays hers.
        QVERIFY(journal.record(entry(QStringLiteral("a-alice"), ServerA, QStringLiteral("bob"))));
        QCOMPARE(ids(journal.unfinished(ServerA, QStringLiteral("alice"))), QStringList{QStringLiteral("a-alice")});
        QCOMPARE(ids(journal.unfinished(ServerA, QStringLiteral("bob"))), (QStringList{QStringLiteral("a-bob"), QStringLiteral("a-alice")}));
        QCOMPARE(ids(journal.unfinished(ServerB, QStringLiteral("alice"))), QStringList{QStringLiteral("b-alice")});
        QCOMPARE(ids(journal.unfinished(ServerA, QString())), QStringList{QStringLiteral("a-master")});
        QVERIFY(journal.unfinished(ServerB, QStringLiteral("bob")).isEmpty());
        QCOMPARE(journal.entries().size(), 5);
    }

    void corruptIsAnErrorAndLeftAlone_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<QString>("why");
        QTest::newRow("not JSON") << QByteArray("{\"version\":1,\"entries\":[{\"batchId\":") << QStringLiteral("at byte");
        QTest::newRow("empty") << QByteArray() << QStringLiteral("at byte");
        QTest::newRow("an array") << QByteArray("[]") << QStringLiteral("no \"entries\" array");
        QTest::newRow("entries not an array") << QByteArray("{\"entries\":5}") << QStringLiteral("no \"entries\" array");
        QTest::newRow("newer format") << QByteArray("{\"version\":99,\"entries\":[]}") << QStringLiteral("format 99");
        QTest::newRow("entry without id") << QByteArray("{\"version\":1,\"entries\":[{\"server\":\"x\"}]}") << QStringLiteral("entry 0");
        QTest::newRow("entry not an object") << QByteArray("{\"version\":1,\"entries\":[7]}") << QStringLiteral("entry 0");
    }
    void corruptIsAnErrorAndLeftAlone()
    {
        QFETCH(QByteArray, data);
        QFETCH(QString, why);
        Journal journal(freshPath());
        QVERIFY(QDir().mkpath(QFileInfo(journal.path()).absolutePath()));
        {
            QFile f(journal.path());
            QVERIFY(f.open(QIODevice::WriteOnly));
            f.write(data);
        }
        bool ok = true;
        QVERIFY(journal.entries(&ok).isEmpty());
        QVERIFY(!ok);
        QVERIFY2(journal.errorString().contains(journal.path()), qPrintable(journal.errorString()));
        QVERIFY2(journal.errorString().contains(QLatin1String("is not a membatch journal")), qPrintable(journal.errorString()));
        QVERIFY2(journal.errorString().contains(why), qPrintable(journal.errorString()));
        ok = true;
        journal.unfinished(ServerA, QStringLiteral("alice"), &ok);
        QVERIFY(!ok);
        QVERIFY(!journal.record(entry(QStringLiteral("b1"))));
        QVERIFY(journal.errorString().contains(QLatin1String("is not a membatch journal")));
        QVERIFY(!journal.update(ServerA, QStringLiteral("b1"), QStringLiteral("completed"), true));
        QCOMPARE(journal.prune(QDateTime::currentDateTimeUtc()), -1);
        QCOMPARE(contents(journal.path()), data); // never overwritten
    }

    void unwritableIsAnError()
    {
        // The journal's directory cannot be made: a file is in the way.
        const QString blocker = m_dir.filePath(QStringLiteral("a-file"));
        QFile f(blocker);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        Journal journal(blocker + QStringLiteral("/journal.json"));
        QVERIFY(!journal.record(entry(QStringLiteral("b1"))));
        QVERIFY2(journal.errorString().contains(blocker), qPrintable(journal.errorString()));
    }

    void crashBetweenWriteAndRename()
    {
        Journal journal(freshPath());
        QVERIFY(journal.record(entry(QStringLiteral("old"))));
        const QByteArray before = contents(journal.path());

        QProcess *p = startChild({QStringLiteral("crash-before-commit"), journal.path(), QStringLiteral("new")});
        QVERIFY(waitFinished(p));
        QCOMPARE(p->exitStatus(), QProcess::CrashExit);
        // It was killed where it should be: with the new journal written.
        QCOMPARE(p->readAllStandardOutput(), QByteArray("before-commit\n"));

        QCOMPARE(contents(journal.path()), before);
        bool ok = false;
        QCOMPARE(ids(journal.entries(&ok)), QStringList{QStringLiteral("old")});
        QVERIFY(ok);
        // The dead host's lock is stale: taken over, and the next write works.
        journal.setLockTimeout(2000);
        QVERIFY2(journal.record(entry(QStringLiteral("after"))), qPrintable(journal.errorString()));
        QCOMPARE(ids(journal.entries()), (QStringList{QStringLiteral("old"), QStringLiteral("after")}));
    }

    void twoHostsAtOnce()
    {
        const int n = 40;
        Journal journal(freshPath());
        QProcess *a = startChild({QStringLiteral("record"), journal.path(), QStringLiteral("a"), QString::number(n)});
        QProcess *b = startChild({QStringLiteral("record"), journal.path(), QStringLiteral("b"), QString::number(n)});
        QVERIFY(waitFinished(a, 60000));
        QVERIFY(waitFinished(b, 60000));
        QCOMPARE(a->exitCode(), 0);
        QCOMPARE(b->exitCode(), 0);
        const QStringList all = ids(journal.entries());
        QCOMPARE(all.size(), 2 * n);
        for (int i = 0; i < n; ++i) {
            QVERIFY(all.contains(QStringLiteral("a-%1").arg(i)));
            QVERIFY(all.contains(QStringLiteral("b-%1").arg(i)));
        }
    }

    void liveLockWaitedForStaleLockTakenOver()
    {
        Journal journal(freshPath());
        QVERIFY(journal.record(entry(QStringLiteral("b1"))));
        QProcess *p = startChild({QStringLiteral("hold-lock"), journal.path()});
        QVERIFY(p->waitForStarted(10000));
        QSignalSpy ready(p, &QProcess::readyReadStandardOutput);
        QVERIFY(ready.wait(10000));
        QCOMPARE(p->readAllStandardOutput(), QByteArray("locked\n"));

        // A live host's lock is waited for, then reported.
        journal.setLockTimeout(200);
        QVERIFY(!journal.record(entry(QStringLiteral("b2"))));
        QVERIFY2(journal.errorString().contains(QLatin1String("is locked by")), qPrintable(journal.errorString()));
        QVERIFY2(journal.errorString().contains(QString::number(p->processId())), qPrintable(journal.errorString()));

        p->kill();
        QVERIFY(waitFinished(p));
        QVERIFY(QFile::exists(journal.path() + QStringLiteral(".lock"))); // left behind by the dead host
        journal.setLockTimeout(2000);
        QVERIFY2(journal.record(entry(QStringLiteral("b2"))), qPrintable(journal.errorString()));
        QCOMPARE(ids(journal.entries()), (QStringList{QStringLiteral("b1"), QStringLiteral("b2")}));
    }

    void roundTripsThroughJson()
    {
        JournalEntry e = entry(QStringLiteral("b1"));
        e.finishedAt = e.submittedAt.addSecs(30);
        e.status = QStringLiteral("completed");
        const JournalEntry back = JournalEntry::fromJson(e.toJson());
        QCOMPARE(back.batchId, e.batchId);
        QCOMPARE(back.server, e.server);
        QCOMPARE(back.user, e.user);
        QCOMPARE(back.source, e.source);
        QCOMPARE(back.submittedAt, e.submittedAt);
        QCOMPARE(back.finishedAt, e.finishedAt);
        QCOMPARE(back.status, e.status);
        QVERIFY(!JournalEntry::fromJson(entry(QStringLiteral("b2")).toJson()).isFinished());
    }
};

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    if (argc > 1 && qstrcmp(argv[1], "--child") == 0)
        return child(app.arguments());
    tst_Journal test;
    QTEST_SET_MAIN_SOURCE_PATH
    return QTest::qExec(&test, argc, argv);
}

#include "tst_journal.moc"
