// The plugin root as a host sees it, against a fake Parse: its jobs share
// one session (one login, one logout, before the last result), and new
// settings start another session while the old one ends with its job, so
// a second user's job never carries the first user's token.
#include "fakehttpserver.h"

#include <membatch/ibatchprocessor.h>
#include <membatch/pluginloader.h>

#include <QSignalSpy>
#include <QTest>

using namespace membatch;
using Response = FakeHttpServer::Response;

class tst_ParseTemporalPlugin : public QObject
{
    Q_OBJECT

private:
    QStringList m_events; // "login <user>", "logout <token>", "find <token>", "result <error>"

    void serve(FakeHttpServer &server)
    {
        m_events.clear();
        connect(&server, &FakeHttpServer::requestReceived, this, [this](const FakeHttpServer::Request &r) {
            const QString token = QString::fromUtf8(r.headers.value("x-parse-session-token"));
            if (r.path.endsWith(QLatin1String("/login")))
                m_events.append(QStringLiteral("login ") + r.json().value(QStringLiteral("username")).toString());
            else if (r.path.endsWith(QLatin1String("/logout")))
                m_events.append(QStringLiteral("logout ") + token);
            else
                m_events.append(QStringLiteral("find ") + token);
        });
        server.on("POST", QStringLiteral("/parse/login"), [](const FakeHttpServer::Request &r) {
            const QString user = r.json().value(QStringLiteral("username")).toString();
            return Response::json(200, {{QStringLiteral("objectId"), QStringLiteral("id-") + user},
                                        {QStringLiteral("sessionToken"), QStringLiteral("r:") + user}});
        });
        server.on("POST", QStringLiteral("/parse/logout"), Response::json(200, {}));
        server.on("GET", QStringLiteral("/parse/classes/"), Response::json(200, {{QStringLiteral("results"), QJsonArray()}}));
    }

    static ConnectionSettings as(const FakeHttpServer &server, const QString &user)
    {
        ConnectionSettings s = settingsForFake(server);
        s.masterKey.clear();
        s.username = user;
        s.password = QStringLiteral("pw");
        return s;
    }

    ListJob *list(IBatchProcessor *processor)
    {
        ListJob *job = processor->list(ListOptions{});
        connect(job, &Job::result, this, [this](Job *j) { m_events.append(QStringLiteral("result %1").arg(j->error())); });
        return job;
    }

    int count(const QString &prefix) const
    {
        return int(std::count_if(m_events.cbegin(), m_events.cend(), [&](const QString &e) { return e.startsWith(prefix); }));
    }

    PluginLoader m_loader;
    IBatchProcessor *m_processor = nullptr;

private Q_SLOTS:
    void init()
    {
        m_processor = m_loader.load({}, {QStringLiteral(MEMBATCH_PLUGIN_DIR)});
        QVERIFY2(m_processor, qPrintable(m_loader.errorString()));
    }

    void jobsShareOneSession_data()
    {
        QTest::addColumn<int>("jobs");
        QTest::newRow("one") << 1;
        QTest::newRow("five") << 5;
    }
    void jobsShareOneSession()
    {
        QFETCH(int, jobs);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        m_processor->setConnection(as(server, QStringLiteral("ann")));
        for (int i = 0; i < jobs; ++i)
            list(m_processor)->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), jobs, 20000);
        QCOMPARE(count(QStringLiteral("result 0")), jobs);
        QCOMPARE(count(QStringLiteral("login")), 1);
        QCOMPARE(count(QStringLiteral("find r:ann")), count(QStringLiteral("find")));
        QCOMPARE(count(QStringLiteral("logout r:ann")), 1);
        QCOMPARE(m_events.last(), QStringLiteral("result 0")); // after the logout
        // The same settings again: the same session object, signed in anew.
        m_processor->setConnection(as(server, QStringLiteral("ann")));
        list(m_processor)->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), jobs + 1, 20000);
        QCOMPARE(count(QStringLiteral("login")), 2);
        QCOMPARE(count(QStringLiteral("logout r:ann")), 2);
    }

    // A host whose jobs follow one another (the console) asks for a linger:
    // the next job takes the idle session over instead of signing in, and
    // the first one's result comes then. Asked to stop lingering, the plugin
    // ends the idle session at once.
    void aLingerAskedForKeepsTheSessionForTheNextJob()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ConnectionSettings settings = as(server, QStringLiteral("ann"));
        settings.sessionLingerMs = 60000;
        m_processor->setConnection(settings);
        list(m_processor)->start();
        QTRY_VERIFY_WITH_TIMEOUT(count(QStringLiteral("find r:ann")) > 0, 20000);
        list(m_processor)->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), 1, 20000);
        QCOMPARE(count(QStringLiteral("logout")), 0);

        settings.sessionLingerMs = 0;
        m_processor->setConnection(settings); // the same session: only the linger changes
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), 2, 20000);
        QCOMPARE(count(QStringLiteral("result 0")), 2);
        QCOMPARE(count(QStringLiteral("login")), 1);
        QCOMPARE(count(QStringLiteral("logout r:ann")), 1);
        QCOMPARE(m_events.last(), QStringLiteral("result 0")); // after the logout
    }

    // Bob's settings while Ann's job runs: Ann's job keeps Ann's session,
    // which ends with it; Bob's job signs in as Bob and carries Bob's token.
    void settingsChangedWhileAJobHoldsTheSession()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        m_processor->setConnection(as(server, QStringLiteral("ann")));
        ListJob *annsJob = list(m_processor);
        bool switched = false;
        connect(&server, &FakeHttpServer::requestReceived, this, [&](const FakeHttpServer::Request &r) {
            if (switched || !r.path.contains(QLatin1String("/classes/")))
                return;
            switched = true; // Ann's find has reached the server: she holds her session
            m_processor->setConnection(as(server, QStringLiteral("bob")));
            list(m_processor)->start();
        });
        bool annLoggedOutFirst = false;
        connect(annsJob, &Job::result, this, [&] { annLoggedOutFirst = m_events.contains(QStringLiteral("logout r:ann")); });
        annsJob->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), 2, 20000);
        QCOMPARE(count(QStringLiteral("result 0")), 2);
        QCOMPARE(count(QStringLiteral("login ann")), 1);
        QCOMPARE(count(QStringLiteral("login bob")), 1);
        QCOMPARE(count(QStringLiteral("find r:ann")), 1);
        QCOMPARE(count(QStringLiteral("find r:bob")), count(QStringLiteral("find")) - 1);
        QCOMPARE(count(QStringLiteral("logout r:ann")), 1);
        QTRY_COMPARE(count(QStringLiteral("logout r:bob")), 1);
        // Ann's session was ended before her result (no linger for a retired one).
        QVERIFY(annLoggedOutFirst);
    }
};

QTEST_MAIN(tst_ParseTemporalPlugin)
#include "tst_parsetemporalplugin.moc"
