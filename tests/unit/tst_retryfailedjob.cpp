// RetryFailedJob against a fake Parse: what it refuses before it submits
// anything (a batch still running, a file elsewhere, a file that fails or
// holds fewer items than its request says), and that it reads only the
// batch's own file, from the first item it needs. The happy path, through
// SubmitJob, runs on the real stack (tst_listretry).
#include "fakehttpserver.h"
#include "gzipcodec.h"
#include "retryfailedjob.h"

#include <QSignalSpy>
#include <QTest>

using namespace membatch;
using Response = FakeHttpServer::Response;

class tst_RetryFailedJob : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;

    static QJsonObject request(const QString &status, qint64 total, qint64 processed, const QUrl &file)
    {
        return {{QStringLiteral("objectId"), QStringLiteral("r1")},
                {QStringLiteral("batchId"), QStringLiteral("b1")},
                {QStringLiteral("status"), status},
                {QStringLiteral("totalMemories"), total},
                {QStringLiteral("processedCount"), processed},
                {QStringLiteral("successCount"), processed},
                {QStringLiteral("failCount"), 0},
                {QStringLiteral("createdAt"), QStringLiteral("2026-12-01T10:00:00.000Z")},
                {QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                                              {QStringLiteral("name"), QStringLiteral("x.json.gz")},
                                                              {QStringLiteral("url"), file.toString()}}}};
    }

    static void serve(FakeHttpServer &server, const QJsonObject &request)
    {
        server.on("POST", QStringLiteral("/parse/login"),
                  Response::json(200, {{QStringLiteral("objectId"), QStringLiteral("u1")}, {QStringLiteral("sessionToken"), QStringLiteral("r:tok")}}));
        server.on("POST", QStringLiteral("/parse/logout"), Response::json(200, {}));
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"), Response::json(200, {{QStringLiteral("results"), QJsonArray{request}}}));
        server.on("GET", QStringLiteral("/parse/classes/Memory"), Response::json(200, {{QStringLiteral("results"), QJsonArray()}}));
    }

    static ConnectionSettings settingsFor(const FakeHttpServer &server)
    {
        ConnectionSettings s = settingsForFake(server);
        s.masterKey.clear();
        s.username = QStringLiteral("ann");
        s.password = QStringLiteral("pw");
        return s;
    }

    struct Outcome
    {
        int error = -1;
        QString errorString;
    };
    Outcome run(const FakeHttpServer &server)
    {
        RetryFailedJob job(&m_nam, settingsFor(server), QStringLiteral("b1"), {});
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        if (!result.wait(20000))
            return {};
        return {job.error(), job.errorString()};
    }

private Q_SLOTS:
    void refusesBeforeSubmitting_data()
    {
        QTest::addColumn<QString>("status");
        QTest::addColumn<qint64>("processed");
        QTest::addColumn<QString>("fileHost"); // "" this server's
        QTest::addColumn<int>("fileStatus");
        QTest::addColumn<QByteArray>("fileJson");
        QTest::addColumn<int>("error");
        QTest::addColumn<QString>("says");
        const QByteArray two = "[{\"content\":\"a\"},{\"content\":\"b\"}]";
        QTest::newRow("still running") << "processing" << 1LL << "" << 200 << two << int(Job::InvalidInputError) << "has not ended";
        QTest::newRow("pending") << "pending" << 0LL << "" << 200 << two << int(Job::InvalidInputError) << "has not ended";
        QTest::newRow("all stored") << "completed" << 3LL << "" << 200 << two << int(Job::InvalidInputError) << "nothing to retry";
        QTest::newRow("a file elsewhere") << "failed" << 0LL << "files.example.invalid" << 200 << two << int(Job::ServerError)
                                          << "not on this Parse Server";
        QTest::newRow("the file fails") << "failed" << 0LL << "" << 500 << two << int(Job::ServerError) << "reading the file of batch b1";
        QTest::newRow("the file is gone") << "failed" << 0LL << "" << 404 << two << int(Job::NotFoundError) << "reading the file of batch b1";
        QTest::newRow("fewer items than said") << "failed" << 1LL << "" << 200 << two << int(Job::ServerError) << "item 2 is missing";
        QTest::newRow("not JSON") << "failed" << 0LL << "" << 200 << QByteArray("[{\"content\":") << int(Job::InvalidInputError)
                                  << "reading the file of batch b1";
    }
    void refusesBeforeSubmitting()
    {
        QFETCH(QString, status);
        QFETCH(qint64, processed);
        QFETCH(QString, fileHost);
        QFETCH(int, fileStatus);
        QFETCH(QByteArray, fileJson);
        QFETCH(int, error);
        QFETCH(QString, says);
        FakeHttpServer server;
        QVERIFY(server.listen());
        QUrl file = server.url(QStringLiteral("/parse/files/app/x.json.gz"));
        if (!fileHost.isEmpty())
            file.setHost(fileHost);
        serve(server, request(status, 3, processed, file));
        server.on("GET", QStringLiteral("/parse/files/"), Response::raw(fileStatus, fileStatus == 200 ? GzipCodec::compress(fileJson) : QByteArray("{\"error\":\"no\"}")));
        const Outcome outcome = run(server);
        QCOMPARE(outcome.error, error);
        QVERIFY2(outcome.errorString.contains(says), qPrintable(outcome.errorString));
        QVERIFY(!outcome.errorString.contains(QStringLiteral("SECRET")));
        // Nothing submitted: no upload, no request, no workflow.
        QVERIFY(server.requestsTo("POST", QStringLiteral("/parse/files/")).isEmpty());
        QVERIFY(server.requestsTo("POST", QStringLiteral("/parse/classes/BatchMemoryRequest")).isEmpty());
        QVERIFY(server.requestsTo("POST", QStringLiteral("/api/")).isEmpty());
        if (!fileHost.isEmpty())
            QVERIFY(server.requestsTo("GET", QStringLiteral("/parse/files/")).isEmpty());
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/logout")).size(), 1);
    }

    // A colleague's request under the same batch id, readable through an
    // organization's role, comes back first: the user's own is the one
    // retried (it ended with every item stored: nothing to retry), not the
    // colleague's (still running).
    void theUsersOwnRequestIsTheOneRetried()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        const QUrl file = server.url(QStringLiteral("/parse/files/app/x.json.gz"));
        auto owned = [](QJsonObject o, const QString &user) {
            o.insert(QStringLiteral("user"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("Pointer")},
                                                         {QStringLiteral("className"), QStringLiteral("_User")},
                                                         {QStringLiteral("objectId"), user}});
            return o;
        };
        serve(server, {});
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"),
                  Response::json(200, {{QStringLiteral("results"), QJsonArray{owned(request(QStringLiteral("processing"), 3, 1, file), QStringLiteral("u2")),
                                                                              owned(request(QStringLiteral("completed"), 3, 3, file), QStringLiteral("u1"))}}}));
        const Outcome outcome = run(server);
        QCOMPARE(outcome.error, int(Job::InvalidInputError));
        QVERIFY2(outcome.errorString.contains(QStringLiteral("nothing to retry")), qPrintable(outcome.errorString));
    }

    void anotherUsersBatchIsNotFound()
    {
        // Parse's ACLs hide it: the queries find nothing.
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server, {});
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"), Response::json(200, {{QStringLiteral("results"), QJsonArray()}}));
        const Outcome outcome = run(server);
        QCOMPARE(outcome.error, int(Job::NotFoundError));
        QVERIFY2(outcome.errorString.contains(QStringLiteral("no batch b1")), qPrintable(outcome.errorString));
    }
};

QTEST_GUILESS_MAIN(tst_RetryFailedJob)
#include "tst_retryfailedjob.moc"
