// ParseSession against a fake Parse: jobs that share it sign in once
// however many start at once, a job that comes within the linger takes the
// session over, the last one out logs it out exactly once and before its
// result, a refused session (209) is renewed once, a refused password
// fails every waiting job, a kill while signing in still ends the session,
// and replaced settings end the old session when its holders let go.
#include "batchlistjob.h"
#include "fakehttpserver.h"
#include "parsesession.h"

#include <QNetworkAccessManager>
#include <QPointer>
#include <QSignalSpy>
#include <QTest>

using namespace membatch;
using Response = FakeHttpServer::Response;

class tst_ParseSession : public QObject
{
    Q_OBJECT

private:
    // What the fake Parse was asked and what the jobs said, in order:
    // "login", "me", "logout", "find <token>", "result <error>".
    QStringList m_events;
    int m_logins = 0;
    QStringList m_refused; // tokens a find answers 209 to

    void serve(FakeHttpServer &server, bool passwordOk = true)
    {
        m_events.clear();
        m_logins = 0;
        m_refused.clear();
        connect(&server, &FakeHttpServer::requestReceived, this, [this](const FakeHttpServer::Request &r) {
            if (r.path.endsWith(QLatin1String("/login")))
                m_events.append(QStringLiteral("login"));
            else if (r.path.endsWith(QLatin1String("/logout")))
                m_events.append(QStringLiteral("logout ") + QString::fromUtf8(r.headers.value("x-parse-session-token")));
            else if (r.path.endsWith(QLatin1String("/users/me")))
                m_events.append(QStringLiteral("me"));
            else
                m_events.append(QStringLiteral("find ") + QString::fromUtf8(r.headers.value("x-parse-session-token")));
        });
        server.on("POST", QStringLiteral("/parse/login"), [this, passwordOk](const FakeHttpServer::Request &) {
            if (!passwordOk)
                return Response::json(404, {{QStringLiteral("code"), 101}, {QStringLiteral("error"), QStringLiteral("Invalid username/password.")}});
            ++m_logins;
            return Response::json(200, {{QStringLiteral("objectId"), QStringLiteral("u1")},
                                        {QStringLiteral("sessionToken"), QStringLiteral("r:t%1").arg(m_logins)}});
        });
        server.on("GET", QStringLiteral("/parse/users/me"), Response::json(200, {{QStringLiteral("objectId"), QStringLiteral("u1")}}));
        server.on("POST", QStringLiteral("/parse/logout"), Response::json(200, {}));
        server.on("GET", QStringLiteral("/parse/classes/"), [this](const FakeHttpServer::Request &r) {
            if (m_refused.contains(QString::fromUtf8(r.headers.value("x-parse-session-token"))))
                return Response::json(400, {{QStringLiteral("code"), 209}, {QStringLiteral("error"), QStringLiteral("Invalid session token")}});
            return Response::json(200, {{QStringLiteral("results"), QJsonArray()}});
        });
    }

    static ConnectionSettings userSettings(const FakeHttpServer &server)
    {
        ConnectionSettings s = settingsForFake(server);
        s.masterKey.clear();
        s.username = QStringLiteral("ann");
        s.password = QStringLiteral("pw");
        return s;
    }

    // A list job on the shared session, its result recorded in m_events.
    BatchListJob *listJob(const ConnectionSettings &settings, ParseSession *session)
    {
        auto *job = new BatchListJob(&m_nam, settings, ListOptions{});
        job->setSession(session);
        connect(job, &Job::result, this, [this](Job *j) { m_events.append(QStringLiteral("result %1").arg(j->error())); });
        return job;
    }

    int count(const QString &prefix) const
    {
        return int(std::count_if(m_events.cbegin(), m_events.cend(), [&](const QString &e) { return e.startsWith(prefix); }));
    }

    QNetworkAccessManager m_nam;

private Q_SLOTS:
    void concurrentJobsSignInOnce_data()
    {
        QTest::addColumn<int>("jobs");
        QTest::addColumn<int>("lingerMs");
        for (int n : {1, 2, 6}) {
            QTest::addRow("%d jobs, no linger", n) << n << 0;
            QTest::addRow("%d jobs, linger", n) << n << 50;
        }
    }
    void concurrentJobsSignInOnce()
    {
        QFETCH(int, jobs);
        QFETCH(int, lingerMs);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ParseSession session(&m_nam, userSettings(server));
        session.setLinger(lingerMs);
        for (int i = 0; i < jobs; ++i)
            listJob(userSettings(server), &session)->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), jobs, 20000);
        QCOMPARE(count(QStringLiteral("result 0")), jobs);
        QCOMPARE(count(QStringLiteral("login")), 1);
        QCOMPARE(count(QStringLiteral("find r:t1")), count(QStringLiteral("find")));
        // The last result comes after the one logout: a host may exit on it.
        QCOMPARE(count(QStringLiteral("logout")), 1);
        QCOMPARE(m_events.last(), QStringLiteral("result 0"));
        QVERIFY(m_events.indexOf(QStringLiteral("logout r:t1")) < m_events.size() - 1);
        QCOMPARE(session.holders(), 0);
        QVERIFY(session.token().isEmpty());
        // Nothing more comes later: no second logout within another linger.
        QVERIFY(!QTest::qWaitFor([&] { return count(QStringLiteral("logout")) > 1; }, lingerMs + 100));
    }

    // A job that comes while the last one lingers takes the session over:
    // no second login, and the lingering one's done comes at once.
    void laterJobTakesTheSessionOver()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ParseSession session(&m_nam, userSettings(server));
        session.setLinger(60000); // not waited for: the second holder takes it over
        QObject first, second;
        bool firstReady = false, secondReady = false, firstDone = false, secondDone = false;
        session.acquire(&first, [&](const ApiResult &r) { firstReady = r.ok(); });
        QTRY_VERIFY(firstReady);
        QCOMPARE(session.token(), QStringLiteral("r:t1"));
        QCOMPARE(session.userId(), QStringLiteral("u1"));
        session.release(&first, [&] { firstDone = true; });
        QVERIFY(!firstDone); // lingering
        session.acquire(&second, [&](const ApiResult &r) { secondReady = r.ok(); });
        QTRY_VERIFY(firstDone);
        QTRY_VERIFY(secondReady);
        QCOMPARE(session.token(), QStringLiteral("r:t1"));
        QCOMPARE(count(QStringLiteral("login")), 1);
        QCOMPARE(count(QStringLiteral("logout")), 0);
        session.setLinger(20);
        session.release(&second, [&] { secondDone = true; });
        QTRY_VERIFY(secondDone);
        QCOMPARE(count(QStringLiteral("logout r:t1")), 1);
        QCOMPARE(count(QStringLiteral("login")), 1);
    }

    // After the logout the next job signs in anew.
    void jobAfterTheLogoutSignsInAgain()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ParseSession session(&m_nam, userSettings(server));
        session.setLinger(0);
        listJob(userSettings(server), &session)->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), 1, 20000);
        listJob(userSettings(server), &session)->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), 2, 20000);
        QCOMPARE(m_events, (QStringList{QStringLiteral("login"), QStringLiteral("find r:t1"), QStringLiteral("logout r:t1"), QStringLiteral("result 0"),
                                        QStringLiteral("login"), QStringLiteral("find r:t2"), QStringLiteral("logout r:t2"), QStringLiteral("result 0")}));
    }

    void refusedSessionIsRenewedOnce_data()
    {
        QTest::addColumn<QStringList>("refused");
        QTest::addColumn<int>("error");
        QTest::addColumn<QStringList>("events");
        QTest::newRow("the first token") << QStringList{QStringLiteral("r:t1")} << int(Job::NoError)
                                         << QStringList{QStringLiteral("login"), QStringLiteral("find r:t1"), QStringLiteral("login"),
                                                        QStringLiteral("find r:t2"), QStringLiteral("logout r:t2"), QStringLiteral("result 0")};
        // Refused again: no third login, and the job says why.
        QTest::newRow("every token") << QStringList{QStringLiteral("r:t1"), QStringLiteral("r:t2"), QStringLiteral("r:t3")}
                                     << int(Job::AuthenticationError)
                                     << QStringList{QStringLiteral("login"), QStringLiteral("find r:t1"), QStringLiteral("login"),
                                                    QStringLiteral("find r:t2"), QStringLiteral("logout r:t2"),
                                                    QStringLiteral("result %1").arg(int(Job::AuthenticationError))};
    }
    void refusedSessionIsRenewedOnce()
    {
        QFETCH(QStringList, refused);
        QFETCH(int, error);
        QFETCH(QStringList, events);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        m_refused = refused;
        ParseSession session(&m_nam, userSettings(server));
        session.setLinger(0);
        QPointer<BatchListJob> job = listJob(userSettings(server), &session);
        QString errorString;
        connect(job, &Job::result, this, [&](Job *j) { errorString = j->errorString(); });
        job->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), 1, 20000);
        QCOMPARE(m_events, events);
        if (error)
            QVERIFY2(errorString.contains(QLatin1String("209")), qPrintable(errorString));
        QVERIFY(!errorString.contains(QLatin1String("r:t")));
    }

    // Two jobs whose requests are refused at once renew the session once.
    void concurrentRefusalsRenewOnce()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ParseSession session(&m_nam, userSettings(server));
        session.setLinger(0);
        QObject holder;
        bool ready = false;
        session.acquire(&holder, [&](const ApiResult &r) { ready = r.ok(); });
        QTRY_VERIFY(ready);
        m_refused = QStringList{QStringLiteral("r:t1")};
        for (int i = 0; i < 3; ++i)
            listJob(userSettings(server), &session)->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), 3, 20000);
        QCOMPARE(count(QStringLiteral("result 0")), 3);
        QCOMPARE(count(QStringLiteral("login")), 2);
        QCOMPARE(count(QStringLiteral("logout")), 0); // the holder still holds it
        QCOMPARE(session.token(), QStringLiteral("r:t2"));
        bool done = false;
        session.release(&holder, [&] { done = true; });
        QTRY_VERIFY(done);
        QCOMPARE(count(QStringLiteral("logout r:t2")), 1);
    }

    void refusedPasswordFailsEveryJob_data()
    {
        QTest::addColumn<int>("jobs");
        QTest::newRow("one") << 1;
        QTest::newRow("four") << 4;
    }
    void refusedPasswordFailsEveryJob()
    {
        QFETCH(int, jobs);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server, false);
        ParseSession session(&m_nam, userSettings(server));
        QList<QString> errors;
        for (int i = 0; i < jobs; ++i) {
            BatchListJob *job = listJob(userSettings(server), &session);
            connect(job, &Job::result, this, [&errors](Job *j) { errors.append(j->errorString()); });
            job->start();
        }
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), jobs, 20000);
        QCOMPARE(count(QStringLiteral("result %1").arg(int(Job::AuthenticationError))), jobs);
        QCOMPARE(count(QStringLiteral("login")), 1);
        QCOMPARE(count(QStringLiteral("logout")), 0);
        QCOMPARE(count(QStringLiteral("find")), 0);
        for (const QString &e : std::as_const(errors)) {
            QVERIFY2(e.contains(QLatin1String("wrong username or password")), qPrintable(e));
            QVERIFY(!e.contains(QLatin1String("pw")));
        }
        QCOMPARE(session.holders(), 0);
    }

    // A job killed while the login is on its way: the session it asked for
    // is still ended, and a job that waits with it gets it.
    void killWhileSigningIn_data()
    {
        QTest::addColumn<bool>("another");
        QTest::newRow("alone") << false;
        QTest::newRow("with another job") << true;
    }
    void killWhileSigningIn()
    {
        QFETCH(bool, another);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ParseSession session(&m_nam, userSettings(server));
        session.setLinger(20);
        QPointer<BatchListJob> victim = listJob(userSettings(server), &session);
        // Killed when the login has reached the server, before its answer is read.
        connect(&server, &FakeHttpServer::requestReceived, this, [victim](const FakeHttpServer::Request &r) {
            if (r.path.endsWith(QLatin1String("/login")) && victim)
                victim->kill();
        });
        victim->start();
        if (another)
            listJob(userSettings(server), &session)->start();
        QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("logout")), 1, 20000);
        QTRY_COMPARE(count(QStringLiteral("result")), another ? 2 : 1);
        QCOMPARE(count(QStringLiteral("result %1").arg(int(Job::KilledError))), 1);
        QCOMPARE(count(QStringLiteral("result 0")), another ? 1 : 0);
        QCOMPARE(count(QStringLiteral("login")), 1);
        QCOMPARE(count(QStringLiteral("find")), another ? 1 : 0);
        QCOMPARE(count(QStringLiteral("logout r:t1")), 1);
        QTRY_VERIFY(!victim);
        QCOMPARE(session.holders(), 0);
    }

    // A token given in the settings is checked once, shared, never ended;
    // the master key needs no session.
    void givenTokenAndMasterKey_data()
    {
        QTest::addColumn<bool>("master");
        QTest::newRow("session token") << false;
        QTest::newRow("master key") << true;
    }
    void givenTokenAndMasterKey()
    {
        QFETCH(bool, master);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ConnectionSettings s = settingsForFake(server);
        if (!master) {
            s.masterKey.clear();
            s.sessionToken = QStringLiteral("r:given");
        }
        ParseSession session(&m_nam, s);
        session.setLinger(0);
        QCOMPARE(session.isMaster(), master);
        for (int round = 0; round < 2; ++round) {
            for (int i = 0; i < 3; ++i)
                listJob(s, &session)->start();
            QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), 3 * (round + 1), 20000);
        }
        QCOMPARE(count(QStringLiteral("result 0")), 6);
        QCOMPARE(count(QStringLiteral("login")), 0);
        QCOMPARE(count(QStringLiteral("logout")), 0);
        QCOMPARE(count(QStringLiteral("me")), master ? 0 : 1);
        QCOMPARE(count(QStringLiteral("find r:given")), master ? 0 : 6);
        // A refused token given cannot be renewed: the request fails.
        if (!master) {
            m_refused = QStringList{QStringLiteral("r:given")};
            listJob(s, &session)->start();
            QTRY_COMPARE_WITH_TIMEOUT(count(QStringLiteral("result")), 7, 20000);
            QCOMPARE(count(QStringLiteral("result %1").arg(int(Job::AuthenticationError))), 1);
            QCOMPARE(count(QStringLiteral("login")), 0);
        }
    }

    void differsFrom_data()
    {
        QTest::addColumn<QString>("field");
        QTest::addColumn<bool>("differs");
        QTest::newRow("same") << QString() << false;
        QTest::newRow("username") << QStringLiteral("username") << true;
        QTest::newRow("password") << QStringLiteral("password") << true;
        QTest::newRow("sessionToken") << QStringLiteral("sessionToken") << true;
        QTest::newRow("parseUrl") << QStringLiteral("parseUrl") << true;
        QTest::newRow("appId") << QStringLiteral("appId") << true;
        QTest::newRow("task queue: not Parse's") << QStringLiteral("taskQueue") << false;
    }
    void differsFrom()
    {
        QFETCH(QString, field);
        QFETCH(bool, differs);
        ConnectionSettings a;
        a.parseUrl = QUrl(QStringLiteral("http://127.0.0.1:1/parse"));
        a.appId = QStringLiteral("app");
        a.username = QStringLiteral("ann");
        a.password = QStringLiteral("pw");
        ConnectionSettings b = a;
        if (field == QLatin1String("username"))
            b.username = QStringLiteral("bob");
        else if (field == QLatin1String("password"))
            b.password = QStringLiteral("other");
        else if (field == QLatin1String("sessionToken"))
            b.sessionToken = QStringLiteral("r:x");
        else if (field == QLatin1String("parseUrl"))
            b.parseUrl = QUrl(QStringLiteral("http://127.0.0.1:2/parse"));
        else if (field == QLatin1String("appId"))
            b.appId = QStringLiteral("other");
        else if (field == QLatin1String("taskQueue"))
            b.taskQueue = QStringLiteral("other");
        ParseSession session(&m_nam, a);
        QCOMPARE(session.differsFrom(b), differs);
    }

    // Settings replaced while a job holds the old session: it keeps it, and
    // it is logged out (no linger) when it lets go; the new one is another.
    void retiredSessionEndsWhenLetGo()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        QPointer<ParseSession> old = new ParseSession(&m_nam, userSettings(server));
        old->setLinger(60000);
        QObject holder;
        bool ready = false, done = false;
        old->acquire(&holder, [&](const ApiResult &r) { ready = r.ok(); });
        QTRY_VERIFY(ready);
        old->retire();
        QVERIFY(old);
        QCOMPARE(count(QStringLiteral("logout")), 0);

        ParseSession replacement(&m_nam, userSettings(server));
        QObject other;
        bool otherReady = false;
        replacement.acquire(&other, [&](const ApiResult &r) { otherReady = r.ok(); });
        QTRY_VERIFY(otherReady);
        QCOMPARE(replacement.token(), QStringLiteral("r:t2"));
        QCOMPARE(old->token(), QStringLiteral("r:t1"));

        old->release(&holder, [&] { done = true; });
        QTRY_VERIFY(done);
        QCOMPARE(count(QStringLiteral("logout r:t1")), 1);
        QTRY_VERIFY(!old);
        QCOMPARE(count(QStringLiteral("logout r:t2")), 0);
    }

    // A retired session nobody holds ends at once.
    void retiredIdleSessionGoes()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        QPointer<ParseSession> session = new ParseSession(&m_nam, userSettings(server));
        session->retire();
        QTRY_VERIFY(!session);
        QVERIFY(m_events.isEmpty());
    }

    // A holder deleted without letting go (a job killed and deleted) lets go.
    void destroyedHolderLetsGo()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ParseSession session(&m_nam, userSettings(server));
        session.setLinger(0);
        auto *holder = new QObject;
        bool ready = false;
        session.acquire(holder, [&](const ApiResult &r) { ready = r.ok(); });
        QTRY_VERIFY(ready);
        QCOMPARE(session.holders(), 1);
        delete holder;
        QCOMPARE(session.holders(), 0);
        QTRY_COMPARE(count(QStringLiteral("logout r:t1")), 1);
    }
};

QTEST_MAIN(tst_ParseSession)
#include "tst_parsesession.moc"
