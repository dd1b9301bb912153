// ConsoleSession, the console's sign-in and follow logic, with the test-only
// fake plugin (tests/plugins/fakeplugin.cpp) and no session bus, so the
// keyring fails at once: where the password comes from, asking again after
// a refusal, the first full refresh, and a later submission followed too.

#include "consolesession.h"

#include <membatch/dashboard/batchtablemodel.h>

#include <QSignalSpy>
#include <QTest>

using membatch::ConnectionSettings;
using membatch::dashboard::BatchTableModel;

class TestConsoleSession : public QObject
{
    Q_OBJECT

    static ConnectionSettings settings(const QString &username, const QString &password)
    {
        ConnectionSettings s;
        s.parseUrl = QUrl(QStringLiteral("http://127.0.0.1:9/parse"));
        s.appId = QStringLiteral("membatch");
        s.username = username;
        s.password = password;
        return s;
    }

private Q_SLOTS:
    void initTestCase()
    {
        qunsetenv("DBUS_SESSION_BUS_ADDRESS");
    }

    void passwordFromTheEnvironment()
    {
        BatchTableModel model;
        ConsoleSession session(&model);
        QVERIFY2(session.loadPlugin(QStringLiteral(FAKE_PLUGIN), {}), qPrintable(session.errorString()));
        session.setSettings(settings(QStringLiteral("alice"), QStringLiteral("right")));
        QSignalSpy refreshed(&session, &ConsoleSession::refreshed);
        QSignalSpy asked(&session, &ConsoleSession::credentialsNeeded);
        session.start();
        QVERIFY(refreshed.wait(10000));
        QCOMPARE(asked.count(), 0);
        QCOMPARE(model.rowCount(), 7);
        // Every row has had the monitor's state: the stalled one says so.
        QVERIFY(model.index(model.rowOf(QStringLiteral("import-2026-12-01-wiki")), 0).data(BatchTableModel::StalledRole).toBool());
        QCOMPARE(session.who(), QStringLiteral("alice on 127.0.0.1:9"));
    }

    void askedAgainAfterARefusal()
    {
        BatchTableModel model;
        ConsoleSession session(&model);
        QVERIFY(session.loadPlugin(QStringLiteral(FAKE_PLUGIN), {}));
        session.setSettings(settings(QStringLiteral("alice"), QString()));
        QSignalSpy asked(&session, &ConsoleSession::credentialsNeeded);
        QSignalSpy refreshed(&session, &ConsoleSession::refreshed);
        QSignalSpy failed(&session, &ConsoleSession::failed);
        QSignalSpy status(&session, &ConsoleSession::statusMessage);
        session.start();
        QVERIFY(asked.wait(10000)); // not in the keyring, none in the environment
        QCOMPARE(asked.at(0).at(0).toString(), QStringLiteral("alice"));

        session.signIn(QStringLiteral("alice"), QStringLiteral("wrong"), true);
        QVERIFY(asked.wait(10000));
        QVERIFY2(asked.at(1).at(1).toString().contains(QStringLiteral("alice was refused")), qPrintable(asked.at(1).at(1).toString()));
        QCOMPARE(refreshed.count(), 0);

        session.signIn(QStringLiteral("alice"), QStringLiteral("right"), true);
        QVERIFY(refreshed.wait(10000));
        QCOMPARE(failed.count(), 0);
        // Asked to keep it, with no keyring to keep it in: said, not hidden.
        QTRY_VERIFY(std::any_of(status.cbegin(), status.cend(), [](const QList<QVariant> &args) {
            return args.at(0).toString().startsWith(QStringLiteral("The password was not kept"));
        }));
        for (const QList<QVariant> &args : std::as_const(status))
            QVERIFY(!args.at(0).toString().contains(QStringLiteral("right")));
    }

    void withoutAUserItFails()
    {
        BatchTableModel model;
        ConsoleSession session(&model);
        QVERIFY(session.loadPlugin(QStringLiteral(FAKE_PLUGIN), {}));
        session.setSettings(settings(QString(), QString()));
        session.setInteractive(false);
        QSignalSpy failed(&session, &ConsoleSession::failed);
        session.start();
        QVERIFY(failed.count() == 1 || failed.wait(10000));
        QVERIFY(failed.at(0).at(0).toString().contains(QStringLiteral("no user to sign in as")));
    }

    void aSubmissionIsFollowed()
    {
        BatchTableModel model;
        ConsoleSession session(&model);
        QVERIFY(session.loadPlugin(QStringLiteral(FAKE_PLUGIN), {}));
        session.setSettings(settings(QStringLiteral("alice"), QStringLiteral("right")));
        QSignalSpy refreshed(&session, &ConsoleSession::refreshed);
        session.start();
        QVERIFY(refreshed.wait(10000));
        session.submit(QStringLiteral("/data/notes.jsonl"));
        QTRY_VERIFY(model.rowOf(QStringLiteral("submitted-notes.jsonl")) >= 0);
        // The monitor took it up: the submit left it queued, and only the
        // monitor says processing (the pretend world's worker took it).
        QTRY_COMPARE(model.index(model.rowOf(QStringLiteral("submitted-notes.jsonl")), BatchTableModel::StatusColumn).data().toString(),
                     QStringLiteral("processing"));
    }
};

QTEST_MAIN(TestConsoleSession)
#include "tst_consolesession.moc"
