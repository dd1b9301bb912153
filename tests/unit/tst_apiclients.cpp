// How ParseClient and TemporalClient (over RestClient) read every answer
// shape the servers give, against a fake HTTP server.
#include "fakehttpserver.h"
#include "parseclient.h"
#include "temporalclient.h"

#include <membatch/job.h>

#include <QNetworkAccessManager>
#include <QSignalSpy>
#include <QTest>
#include <QUrlQuery>

using namespace membatch;
using Response = FakeHttpServer::Response;

class tst_ApiClients : public QObject
{
    Q_OBJECT

private:
    QNetworkAccessManager m_nam;


    // Runs one call and returns its result; the handler must run exactly once.
    template<typename Call>
    ApiResult runCall(Call call)
    {
        QObject context;
        ApiResult result;
        int calls = 0;
        call(&context, [&](const ApiResult &r) {
            result = r;
            ++calls;
        });
        if (!QTest::qWaitFor([&] { return calls > 0; }, 10000))
            result.message = QStringLiteral("<no answer>");
        return result;
    }

    static ConnectionSettings userSettings(const FakeHttpServer &server)
    {
        ConnectionSettings s = settingsForFake(server);
        s.username = QStringLiteral("ann");
        s.password = QStringLiteral("pw-SECRET");
        return s;
    }

    static ApiResult signIn(ParseClient &parse, QString *userId = nullptr)
    {
        QObject context;
        ApiResult result;
        bool done = false;
        parse.signIn(&context, [&](const ApiResult &r, const QString &id) {
            result = r;
            if (userId)
                *userId = id;
            done = true;
        });
        if (!QTest::qWaitFor([&done] { return done; }, 10000))
            result.message = QStringLiteral("<no answer>");
        return result;
    }

private Q_SLOTS:
    void readsParseAnswers_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<int>("error");
        QTest::addColumn<int>("serviceCode");
        QTest::addColumn<QString>("message");
        QTest::newRow("ok") << 200 << QByteArray(R"({"objectId":"x"})") << int(Job::NoError) << 0 << QString();
        QTest::newRow("wrong key") << 403 << QByteArray(R"({"error":"unauthorized"})") << int(Job::AuthenticationError) << 0
                                   << QStringLiteral("Parse answered 403 to GET {server}/parse/classes/C/x: unauthorized (the application id or key was refused)");
        QTest::newRow("not found") << 404 << QByteArray(R"({"code":101,"error":"Object not found."})") << int(Job::NotFoundError)
                                   << 101 << QStringLiteral("Object not found. (code 101)");
        QTest::newRow("bad session") << 400 << QByteArray(R"({"code":209,"error":"Invalid session token"})")
                                     << int(Job::AuthenticationError) << 209 << QStringLiteral("Invalid session token (code 209)");
        QTest::newRow("duplicate") << 400 << QByteArray(R"({"code":137,"error":"A duplicate value for a field with unique values was provided"})")
                                   << int(Job::ServerError) << 137 << QStringLiteral("(code 137)");
        QTest::newRow("too large, no code") << 413 << QByteArray(R"({"error":"request entity too large"})") << int(Job::ServerError)
                                            << 0 << QStringLiteral("answered 413 to GET");
        QTest::newRow("internal error, message not error") << 500 << QByteArray(R"({"code":1,"message":"Internal server error."})")
                                                           << int(Job::ServerError) << 1 << QStringLiteral("Internal server error. (code 1)");
        QTest::newRow("html page") << 404 << QByteArray("<!DOCTYPE html><html><body><pre>Cannot GET /x</pre></body></html>")
                                   << int(Job::NotFoundError) << 0 << QStringLiteral("<!DOCTYPE html>");
    }

    void readsParseAnswers()
    {
        QFETCH(int, status);
        QFETCH(QByteArray, body);
        QFETCH(int, error);
        QFETCH(int, serviceCode);
        QFETCH(QString, message);
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("GET", QStringLiteral("/parse/classes/C/x"), Response::raw(status, body));
        ParseClient parse(&m_nam, settingsForFake(server), ParseClient::Auth::Master);
        const ApiResult r = runCall([&](QObject *ctx, auto done) { parse.getObject(QStringLiteral("C"), QStringLiteral("x"), ctx, done); });
        QCOMPARE(r.error, error);
        QCOMPARE(r.httpStatus, status);
        QCOMPARE(r.serviceCode, serviceCode);
        message.replace(QStringLiteral("{server}"), server.url().toString());
        QVERIFY2(r.message.contains(message), qPrintable(r.message));
        QVERIFY2(!r.message.contains(QStringLiteral("SECRET")), "a key leaked into the message");

        const FakeHttpServer::Request sent = server.requests.value(0);
        QCOMPARE(sent.headers.value("x-parse-application-id"), QByteArray("app"));
        QCOMPARE(sent.headers.value("x-parse-master-key"), QByteArray("master-SECRET"));
    }

    void sendsTheSessionNotTheMasterKey()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("POST", QStringLiteral("/parse/login"),
                  Response::json(200, {{QStringLiteral("objectId"), QStringLiteral("u1")}, {QStringLiteral("sessionToken"), QStringLiteral("r:tok")}}));
        server.on("GET", QStringLiteral("/parse/classes/C"), Response::json(200, {{QStringLiteral("results"), QJsonArray()}}));
        server.on("POST", QStringLiteral("/parse/logout"), Response::json(200, {}));
        ParseClient parse(&m_nam, userSettings(server), ParseClient::Auth::Session);
        QString userId;
        const ApiResult signedIn = signIn(parse, &userId);
        QVERIFY2(signedIn.ok(), qPrintable(signedIn.message));
        QCOMPARE(userId, QStringLiteral("u1"));
        QCOMPARE(server.requests.first().json().value(QStringLiteral("password")).toString(), QStringLiteral("pw-SECRET"));

        runCall([&](QObject *ctx, auto done) { parse.find(QStringLiteral("C"), {}, ctx, done); });
        const FakeHttpServer::Request find = server.requestsTo("GET", QStringLiteral("/parse/classes/C")).value(0);
        QCOMPARE(find.headers.value("x-parse-session-token"), QByteArray("r:tok"));
        QCOMPARE(find.headers.value("x-parse-rest-api-key"), QByteArray("rest-SECRET"));
        QVERIFY(!find.headers.contains("x-parse-master-key"));
        QVERIFY(find.query.contains(QStringLiteral("order=createdAt,objectId")));

        // A '+' in a value reaches the server as one, not as a space.
        runCall([&](QObject *ctx, auto done) {
            parse.find(QStringLiteral("C"), {{QStringLiteral("batchId"), QStringLiteral("a+b c")}}, ctx, done);
        });
        const FakeHttpServer::Request plus = server.requestsTo("GET", QStringLiteral("/parse/classes/C")).value(1);
        QVERIFY2(plus.query.contains(QStringLiteral("a%2Bb")), qPrintable(plus.query));

        QObject context;
        bool signedOut = false;
        parse.signOut(&context, [&] { signedOut = true; });
        QTRY_VERIFY(signedOut);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/logout")).size(), 1);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/logout")).first().headers.value("x-parse-session-token"), QByteArray("r:tok"));
    }

    void aLongQueryIsSentInTheBody_data()
    {
        QTest::addColumn<QString>("call");
        QTest::addColumn<int>("ids");
        QTest::addColumn<bool>("inBody");
        // 200 ids of 100 characters (what watch takes) pass Node's 16 KiB.
        for (const char *call : {"find", "findKeys", "count"}) {
            QTest::addRow("%s, 3 ids: in the URL", call) << QString::fromLatin1(call) << 3 << false;
            QTest::addRow("%s, 200 ids: in the body", call) << QString::fromLatin1(call) << 200 << true;
        }
    }

    void aLongQueryIsSentInTheBody()
    {
        QFETCH(QString, call);
        QFETCH(int, ids);
        QFETCH(bool, inBody);
        FakeHttpServer server;
        QVERIFY(server.listen());
        const Response found = Response::json(200, {{QStringLiteral("results"), QJsonArray{QJsonObject{{QStringLiteral("objectId"), QStringLiteral("o1")}}}}});
        server.on("GET", QStringLiteral("/parse/classes/C"), found);
        server.on("POST", QStringLiteral("/parse/classes/C"), found);
        ParseClient parse(&m_nam, settingsForFake(server), ParseClient::Auth::Master);
        QStringList list;
        for (int i = 0; i < ids; ++i)
            list << QStringLiteral("%1").arg(i, 100, 10, QLatin1Char('x'));
        const QJsonObject where{{QStringLiteral("batchId"), QJsonObject{{QStringLiteral("$in"), QJsonArray::fromStringList(list)}}}};
        const ApiResult r = runCall([&](QObject *ctx, auto done) {
            if (call == QLatin1String("find"))
                parse.find(QStringLiteral("C"), where, ctx, done, 7, QStringLiteral("-createdAt"));
            else if (call == QLatin1String("findKeys"))
                parse.findKeys(QStringLiteral("C"), where, {QStringLiteral("a"), QStringLiteral("b")}, ctx, done, 7, QStringLiteral("-createdAt"));
            else
                parse.count(QStringLiteral("C"), where, ctx, done);
        });
        QVERIFY2(r.ok(), qPrintable(r.message));
        QCOMPARE(server.requests.size(), 1);
        const FakeHttpServer::Request sent = server.requests.first();
        QVERIFY2(sent.path.size() + sent.query.size() <= ParseClient::MaxGetUrlBytes, qPrintable(QString::number(sent.query.size())));
        QCOMPARE(sent.method, inBody ? QByteArray("POST") : QByteArray("GET"));
        // Either way Parse reads the same query.
        QJsonObject asRead;
        if (inBody) {
            asRead = sent.json();
            QCOMPARE(asRead.take(QStringLiteral("_method")).toString(), QStringLiteral("GET"));
        } else {
            const QUrlQuery q(sent.query);
            for (const auto &[key, value] : q.queryItems(QUrl::FullyDecoded))
                asRead.insert(key, key == QLatin1String("where") ? QJsonValue(QJsonDocument::fromJson(value.toUtf8()).object())
                                   : key == QLatin1String("limit") || key == QLatin1String("count") ? QJsonValue(value.toInt())
                                                                                                    : QJsonValue(value));
        }
        QCOMPARE(asRead.value(QStringLiteral("where")).toObject(), where);
        if (call == QLatin1String("count")) {
            QCOMPARE(asRead.value(QStringLiteral("count")).toInt(), 1);
            QCOMPARE(asRead.value(QStringLiteral("limit")).toInt(-1), 0);
        } else {
            QCOMPARE(asRead.value(QStringLiteral("limit")).toInt(), 7);
            QCOMPARE(asRead.value(QStringLiteral("order")).toString(), QStringLiteral("-createdAt"));
        }
        if (call == QLatin1String("findKeys"))
            QCOMPARE(asRead.value(QStringLiteral("keys")).toString(), QStringLiteral("a,b"));
        QVERIFY(!sent.headers.value("x-parse-master-key").isEmpty());
    }

    void aLongQueryInTheBodyIsRetriedAsAGetWould()
    {
        // A read sent as POST is still a read: after a 502 (did it arrive?)
        // it is asked again, as a GET would be and a create is not.
        FakeHttpServer server;
        QVERIFY(server.listen());
        int calls = 0;
        server.on("POST", QStringLiteral("/parse/classes/C"), [&calls](const FakeHttpServer::Request &) {
            return ++calls == 1 ? Response::json(502, {{QStringLiteral("error"), QStringLiteral("bad gateway")}})
                                : Response::json(200, {{QStringLiteral("results"), QJsonArray()}});
        });
        ParseClient parse(&m_nam, settingsForFake(server), ParseClient::Auth::Master);
        RetryPolicy quick;
        quick.baseDelayMs = 1;
        quick.maxDelayMs = 5;
        parse.setRetryPolicy(quick);
        QStringList list;
        for (int i = 0; i < 200; ++i)
            list << QStringLiteral("%1").arg(i, 100, 10, QLatin1Char('x'));
        const ApiResult r = runCall([&](QObject *ctx, auto done) {
            parse.find(QStringLiteral("C"), {{QStringLiteral("batchId"), QJsonObject{{QStringLiteral("$in"), QJsonArray::fromStringList(list)}}}}, ctx, done);
        });
        QVERIFY2(r.ok(), qPrintable(r.message));
        QCOMPARE(calls, 2);
    }

    void aWrongPasswordIsSaidPlainly()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("POST", QStringLiteral("/parse/login"), Response::json(404, {{QStringLiteral("code"), 101}, {QStringLiteral("error"), QStringLiteral("Invalid username/password.")}}));
        ParseClient parse(&m_nam, userSettings(server), ParseClient::Auth::Session);
        const ApiResult result = signIn(parse);
        QCOMPARE(result.error, int(Job::AuthenticationError));
        QCOMPARE(result.message, QStringLiteral("Parse refused the login of user 'ann': wrong username or password"));
    }

    void aCutOffSuccessIsNotASuccess()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("GET", QStringLiteral("/parse/classes/C/x"), Response{200, "{\"objectId\":\"ab", {}, Response::Kind::CutOff});
        ParseClient parse(&m_nam, settingsForFake(server), ParseClient::Auth::Master);
        const ApiResult r = runCall([&](QObject *ctx, auto done) { parse.getObject(QStringLiteral("C"), QStringLiteral("x"), ctx, done); });
        QCOMPARE(r.error, int(Job::NetworkError));
        QVERIFY2(r.message.contains(QStringLiteral("was cut off")), qPrintable(r.message));
    }

    void anAnswerTooLargeIsRefusedNotHeld()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        QByteArray huge(RestClient::MaxUnreadAnswerBytes + 1024 * 1024, ' ');
        huge[0] = '{';
        huge[huge.size() - 1] = '}';
        server.on("GET", QStringLiteral("/parse/classes/C/x"), Response::raw(200, huge));
        ParseClient parse(&m_nam, settingsForFake(server), ParseClient::Auth::Master);
        const ApiResult r = runCall([&](QObject *ctx, auto done) { parse.getObject(QStringLiteral("C"), QStringLiteral("x"), ctx, done); });
        QCOMPARE(r.error, int(Job::ServerError));
        QVERIFY2(r.message.contains(QStringLiteral("is larger than 64 MiB: refused")), qPrintable(r.message));
        QVERIFY(r.body.isEmpty());
    }

    void aMissingFieldIsAServerError()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("POST", QStringLiteral("/parse/files/"), Response::json(201, {{QStringLiteral("name"), QStringLiteral("n")}}));
        ParseClient parse(&m_nam, settingsForFake(server), ParseClient::Auth::Master);
        ApiResult r = runCall([&](QObject *ctx, auto done) { parse.uploadFile(QStringLiteral("f.gz"), "x", "application/gzip", ctx, done); });
        QVERIFY(r.ok());
        QVERIFY(!r.expectFields({"name", "url"}));
        QCOMPARE(r.error, int(Job::ServerError));
        QVERIFY2(r.message.endsWith(QStringLiteral("/parse/files/f.gz without 'url'")), qPrintable(r.message));
    }

    void keysDoNotFollowRedirects()
    {
        FakeHttpServer elsewhere;
        QVERIFY(elsewhere.listen());
        elsewhere.on("GET", QStringLiteral("/"), Response::json(200, {}));
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("GET", QStringLiteral("/parse/classes/C/x"),
                  Response{307, "{}", {{"Location", elsewhere.url(QStringLiteral("/steal")).toEncoded()}}, Response::Kind::Normal});
        ParseClient parse(&m_nam, settingsForFake(server), ParseClient::Auth::Master);
        const ApiResult r = runCall([&](QObject *ctx, auto done) { parse.getObject(QStringLiteral("C"), QStringLiteral("x"), ctx, done); });
        QCOMPARE(r.httpStatus, 307);
        QVERIFY(!r.ok());
        QVERIFY(elsewhere.requests.isEmpty());
    }

    void anUnreachableServerIsSaidSo()
    {
        ConnectionSettings s;
        s.parseUrl = QUrl(QStringLiteral("http://127.0.0.1:1/parse"));
        s.appId = QStringLiteral("app");
        s.masterKey = QStringLiteral("master-SECRET");
        ParseClient parse(&m_nam, s, ParseClient::Auth::Master);
        const ApiResult r = runCall([&](QObject *ctx, auto done) { parse.getObject(QStringLiteral("C"), QStringLiteral("x"), ctx, done); });
        QCOMPARE(r.error, int(Job::NetworkError));
        QCOMPARE(r.httpStatus, 0);
        QVERIFY2(r.message.startsWith(QStringLiteral("cannot reach Parse (GET http://127.0.0.1:1/parse/classes/C/x)")), qPrintable(r.message));
    }

    void aDeletedContextNeverHearsTheAnswer()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("GET", QStringLiteral("/parse/classes/C/x"), Response{200, "{}", {}, Response::Kind::Never});
        ParseClient parse(&m_nam, settingsForFake(server), ParseClient::Auth::Master);
        auto *context = new QObject;
        bool called = false;
        parse.getObject(QStringLiteral("C"), QStringLiteral("x"), context, [&](const ApiResult &) { called = true; });
        QSignalSpy received(&server, &FakeHttpServer::requestReceived);
        QVERIFY(received.wait(5000));
        delete context; // aborts the reply it owns
        bool drained = false;
        QMetaObject::invokeMethod(this, [&drained] { drained = true; }, Qt::QueuedConnection);
        QTRY_VERIFY(drained);
        QVERIFY(!called);
    }

    void readsTemporalAnswers()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("POST", QStringLiteral("/api/v1/namespaces/default/workflows/"),
                  Response::json(409, {{QStringLiteral("code"), 6},
                                       {QStringLiteral("message"), QStringLiteral("Workflow execution is already running. WorkflowId: w, RunId: r.")}}));
        TemporalClient temporal(&m_nam, settingsForFake(server));
        const ApiResult r = runCall([&](QObject *ctx, auto done) {
            temporal.startWorkflow(QStringLiteral("batch-1"), QStringLiteral("T"), QJsonArray{QJsonObject{{QStringLiteral("request_id"), QStringLiteral("r1")}}},
                                   QStringLiteral("req-uuid"), QStringLiteral("me"), ctx, done);
        });
        QCOMPARE(r.error, int(Job::ServerError));
        QCOMPARE(r.serviceCode, 6);
        QVERIFY2(r.message.contains(QStringLiteral("Temporal answered 409 to POST")) && r.message.contains(QStringLiteral("already running")),
                 qPrintable(r.message));

        const QJsonObject body = server.requests.value(0).json();
        QCOMPARE(server.requests.value(0).path, QStringLiteral("/api/v1/namespaces/default/workflows/batch-1"));
        QCOMPARE(body.value(QStringLiteral("workflowType")).toObject().value(QStringLiteral("name")).toString(), QStringLiteral("T"));
        QCOMPARE(body.value(QStringLiteral("taskQueue")).toObject().value(QStringLiteral("name")).toString(), QStringLiteral("membatch-batches"));
        QCOMPARE(body.value(QStringLiteral("requestId")).toString(), QStringLiteral("req-uuid"));
        QCOMPARE(body.value(QStringLiteral("input")).toArray().first().toObject().value(QStringLiteral("request_id")).toString(), QStringLiteral("r1"));
    }

    void describesAWorkflow()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("GET", QStringLiteral("/api/v1/namespaces/default/workflows/batch-1"),
                  Response::raw(200, R"({"workflowExecutionInfo":{"execution":{"workflowId":"batch-1","runId":"r9"},"status":"WORKFLOW_EXECUTION_STATUS_TIMED_OUT"}})"));
        TemporalClient temporal(&m_nam, settingsForFake(server));
        QObject context;
        WorkflowState state;
        bool done = false;
        temporal.describeWorkflow(QStringLiteral("batch-1"), QStringLiteral("r9"), &context, [&](const ApiResult &r, const WorkflowState &s) {
            QVERIFY(r.ok());
            state = s;
            done = true;
        });
        QTRY_VERIFY(done);
        QCOMPARE(state.runId, QStringLiteral("r9"));
        QCOMPARE(state.status, QStringLiteral("timed_out"));
        QVERIFY(!state.isOpen());
        QCOMPARE(server.requests.value(0).query, QStringLiteral("execution.runId=r9"));
    }
};

QTEST_GUILESS_MAIN(tst_ApiClients)
#include "tst_apiclients.moc"
