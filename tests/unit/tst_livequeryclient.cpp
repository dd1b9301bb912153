// LiveQueryClient against an in-process WebSocket server: what it sends, how
// it comes back after a drop, and what it refuses.
#include "fakelivequery.h"
#include "livequeryclient.h"

#include <QSignalSpy>
#include <QTcpServer>
#include <QTest>

using namespace membatch;

class tst_LiveQueryClient : public QObject
{
    Q_OBJECT

private:
    static LiveQueryClient::Query query()
    {
        return {QStringLiteral("BatchMemoryRequest"),
                QJsonObject{{QStringLiteral("batchId"), QJsonObject{{QStringLiteral("$in"), QJsonArray{QStringLiteral("b1")}}}}},
                {},
                {QStringLiteral("processedCount")}};
    }

    static void fast(LiveQueryClient &client)
    {
        client.setReconnectDelays(5, 20);
        client.setTimeouts(2000, 60000);
    }

private Q_SLOTS:
    void urlFollowsParse_data()
    {
        QTest::addColumn<QUrl>("parse");
        QTest::addColumn<QUrl>("liveQuery");
        QTest::newRow("http") << QUrl(QStringLiteral("http://127.0.0.1:1337/parse")) << QUrl(QStringLiteral("ws://127.0.0.1:1337/parse"));
        QTest::newRow("https") << QUrl(QStringLiteral("https://api.example.com/parse")) << QUrl(QStringLiteral("wss://api.example.com/parse"));
        QTest::newRow("no credentials or query") << QUrl(QStringLiteral("http://u:p@h:1/parse?x=1"))
                                                 << QUrl(QStringLiteral("ws://h:1/parse"));
    }
    void urlFollowsParse()
    {
        QFETCH(QUrl, parse);
        QFETCH(QUrl, liveQuery);
        QCOMPARE(LiveQueryClient::urlFor(parse), liveQuery);
    }

    void reconnectDelay_data()
    {
        QTest::addColumn<int>("attempt");
        QTest::addColumn<double>("random");
        QTest::addColumn<qint64>("delay");
        QTest::newRow("first, top of jitter") << 1 << 0.999 << qint64(499);
        QTest::newRow("first, bottom") << 1 << 0.0 << qint64(0);
        QTest::newRow("third doubles twice") << 3 << 0.5 << qint64(1000);
        QTest::newRow("capped") << 20 << 0.5 << qint64(15000);
        QTest::newRow("huge attempt") << 100000 << 0.5 << qint64(15000);
    }
    void reconnectDelay()
    {
        QFETCH(int, attempt);
        QFETCH(double, random);
        QFETCH(qint64, delay);
        QCOMPARE(LiveQueryClient::reconnectDelayMs(attempt, 500, 30000, random), delay);
    }

    void subscribesWithTheSessionToken_data()
    {
        QTest::addColumn<QString>("sessionToken");
        QTest::addColumn<QString>("masterKey");
        QTest::newRow("a user") << QStringLiteral("r:session") << QString();
        QTest::newRow("the master key") << QString() << QStringLiteral("mk");
    }
    void subscribesWithTheSessionToken()
    {
        QFETCH(QString, sessionToken);
        QFETCH(QString, masterKey);
        FakeLiveQuery server;
        QVERIFY(server.listen());
        LiveQueryClient client;
        fast(client);
        client.setUrl(server.url());
        client.setCredentials(QStringLiteral("app"), QStringLiteral("rest"), masterKey);
        client.setSessionToken(sessionToken);
        const int id = client.subscribe(query());
        QSignalSpy subscribed(&client, &LiveQueryClient::subscribed);
        QSignalSpy events(&client, &LiveQueryClient::event);
        client.open();
        QVERIFY(subscribed.wait(5000));
        QCOMPARE(subscribed.first().first().toInt(), id);
        QVERIFY(client.isSubscribed(id));

        const QJsonObject connectOp = server.messages(QStringLiteral("connect")).value(0);
        QCOMPARE(connectOp.value(QStringLiteral("applicationId")).toString(), QStringLiteral("app"));
        QCOMPARE(connectOp.contains(QStringLiteral("masterKey")), !masterKey.isEmpty());
        QCOMPARE(connectOp.value(QStringLiteral("restAPIKey")).toString(), masterKey.isEmpty() ? QStringLiteral("rest") : QString());
        const QJsonObject sub = server.messages(QStringLiteral("subscribe")).value(0);
        // The token in subscribe: a class that requires authentication needs it there.
        QCOMPARE(sub.value(QStringLiteral("sessionToken")).toString(), sessionToken);
        QCOMPARE(sub.contains(QStringLiteral("sessionToken")), !sessionToken.isEmpty());
        QCOMPARE(sub.value(QStringLiteral("requestId")).toInt(), id);
        const QJsonObject q = sub.value(QStringLiteral("query")).toObject();
        QCOMPARE(q.value(QStringLiteral("className")).toString(), QStringLiteral("BatchMemoryRequest"));
        QCOMPARE(q.value(QStringLiteral("where")).toObject(), query().where);
        QCOMPARE(q.value(QStringLiteral("watch")).toArray(), QJsonArray{QStringLiteral("processedCount")});
        QVERIFY(!q.contains(QStringLiteral("keys")));

        const QJsonObject object{{QStringLiteral("batchId"), QStringLiteral("b1")}, {QStringLiteral("processedCount"), 7}};
        server.push(QStringLiteral("update"), object);
        QVERIFY(events.wait(5000));
        QCOMPARE(events.first().at(0).toInt(), id);
        QCOMPARE(events.first().at(1).toString(), QStringLiteral("update"));
        QCOMPARE(events.first().at(2).toJsonObject(), object);
    }

    void aDroppedSocketReconnectsAndResubscribes()
    {
        FakeLiveQuery server;
        QVERIFY(server.listen());
        LiveQueryClient client;
        fast(client);
        client.setUrl(server.url());
        client.setCredentials(QStringLiteral("app"), QStringLiteral("rest"));
        client.setSessionToken(QStringLiteral("r:s"));
        const int id = client.subscribe(query());
        QSignalSpy subscribed(&client, &LiveQueryClient::subscribed);
        QSignalSpy unavailable(&client, &LiveQueryClient::unavailable);
        client.open();
        QVERIFY(subscribed.wait(5000));

        for (int drop = 1; drop <= 3; ++drop) {
            server.drop();
            QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), drop + 1, 5000); // the owner is told again: it re-queries
            QCOMPARE(subscribed.last().first().toInt(), id);
            QCOMPARE(unavailable.size(), drop); // once per outage
        }
        QCOMPARE(server.connections, 4);
        QCOMPARE(client.drops(), 3);
        const QList<QJsonObject> subs = server.messages(QStringLiteral("subscribe"));
        QCOMPARE(subs.size(), 4);
        for (const QJsonObject &s : subs)
            QCOMPARE(s.value(QStringLiteral("sessionToken")).toString(), QStringLiteral("r:s"));
    }

    void refusesOversizedMessages()
    {
        FakeLiveQuery server;
        QVERIFY(server.listen());
        LiveQueryClient client;
        fast(client);
        client.setMaxMessageBytes(4096);
        client.setUrl(server.url());
        client.subscribe(query());
        QSignalSpy subscribed(&client, &LiveQueryClient::subscribed);
        QSignalSpy events(&client, &LiveQueryClient::event);
        QSignalSpy unavailable(&client, &LiveQueryClient::unavailable);
        client.open();
        QVERIFY(subscribed.wait(5000));

        server.push(QStringLiteral("update"), {{QStringLiteral("batchId"), QStringLiteral("b1")},
                                               {QStringLiteral("junk"), QString(64 * 1024, QLatin1Char('x'))}});
        QVERIFY(unavailable.wait(5000));
        QVERIFY2(unavailable.first().first().toString().contains(QStringLiteral("over 4096 bytes")),
                 qPrintable(unavailable.first().first().toString()));
        QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 2, 5000); // and it comes back
        QCOMPARE(events.size(), 0);

        // A small event after the reconnect still arrives.
        server.push(QStringLiteral("create"), {{QStringLiteral("batchId"), QStringLiteral("b1")}});
        QVERIFY(events.wait(5000));
    }

    void dropsWhatIsNotJson()
    {
        FakeLiveQuery server;
        QVERIFY(server.listen());
        LiveQueryClient client;
        fast(client);
        client.setUrl(server.url());
        client.subscribe(query());
        QSignalSpy subscribed(&client, &LiveQueryClient::subscribed);
        client.open();
        QVERIFY(subscribed.wait(5000));
        server.sendRaw(QStringLiteral("[1, 2"));
        QTRY_COMPARE_WITH_TIMEOUT(subscribed.size(), 2, 5000);
        QCOMPARE(client.drops(), 1);
    }

    void ignoresEventsOfOtherRequests()
    {
        FakeLiveQuery server;
        QVERIFY(server.listen());
        LiveQueryClient client;
        fast(client);
        client.setUrl(server.url());
        const int id = client.subscribe(query());
        QSignalSpy subscribed(&client, &LiveQueryClient::subscribed);
        QSignalSpy events(&client, &LiveQueryClient::event);
        client.open();
        QVERIFY(subscribed.wait(5000));
        server.push(QStringLiteral("update"), {{QStringLiteral("n"), 1}}, id + 41);
        server.push(QStringLiteral("frobnicate"), {{QStringLiteral("n"), 2}});
        server.push(QStringLiteral("enter"), {{QStringLiteral("n"), 3}});
        QVERIFY(events.wait(5000));
        QCOMPARE(events.size(), 1);
        QCOMPARE(events.first().at(2).toJsonObject().value(QStringLiteral("n")).toInt(), 3);
    }

    void aRefusedSubscriptionIsSaid()
    {
        FakeLiveQuery server;
        server.refuseSubscribe = true;
        QVERIFY(server.listen());
        LiveQueryClient client;
        fast(client);
        client.setUrl(server.url());
        const int id = client.subscribe(query());
        QSignalSpy failed(&client, &LiveQueryClient::subscriptionFailed);
        client.open();
        QVERIFY(failed.wait(5000));
        QCOMPARE(failed.first().at(0).toInt(), id);
        QVERIFY(failed.first().at(1).toString().contains(QStringLiteral("Permission denied")));
        QVERIFY(!client.isSubscribed(id));
    }

    void unreachableIsSaid_data()
    {
        QTest::addColumn<bool>("listening"); // a server that accepts and never answers connect
        QTest::newRow("nothing listens") << false;
        QTest::newRow("no answer to connect") << true;
    }
    void unreachableIsSaid()
    {
        QFETCH(bool, listening);
        FakeLiveQuery server;
        server.answerConnect = false;
        QVERIFY(server.listen());
        QUrl url = server.url();
        if (!listening) {
            QTcpServer probe; // a port that was free a moment ago
            QVERIFY(probe.listen(QHostAddress::LocalHost, 0));
            url.setPort(probe.serverPort());
        }
        LiveQueryClient client;
        client.setReconnectDelays(5, 20);
        client.setTimeouts(200, 60000);
        client.setUrl(url);
        client.subscribe(query());
        QSignalSpy unavailable(&client, &LiveQueryClient::unavailable);
        client.open();
        QVERIFY(unavailable.wait(5000));
        QVERIFY(!client.isConnected());
        // It keeps trying, without saying so again.
        QTRY_VERIFY_WITH_TIMEOUT(client.drops() >= 3, 5000);
        QCOMPARE(unavailable.size(), 1);
    }

    void noUrlIsUnavailable()
    {
        LiveQueryClient client;
        client.setUrl(QUrl(QStringLiteral("http://127.0.0.1:1/parse")));
        QSignalSpy unavailable(&client, &LiveQueryClient::unavailable);
        client.open();
        QCOMPARE(unavailable.size(), 1);
    }
};

QTEST_GUILESS_MAIN(tst_LiveQueryClient)
#include "tst_livequeryclient.moc"
