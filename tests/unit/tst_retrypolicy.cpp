// RetryPolicy, the one set of rules for retrying a call, with the clock and
// the randomness injected; and RestClient following it against a fake
// server (waits of 0 ms: no test sleeps).
#include "fakehttpserver.h"
#include "restclient.h"
#include "retrypolicy.h"

#include <membatch/job.h>

#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QTimer>
#include <QTest>

using namespace membatch;
using Response = FakeHttpServer::Response;
using Failure = RetryPolicy::Failure;

namespace {

ApiResult answer(int status, QByteArray retryAfter = {})
{
    ApiResult r;
    r.httpStatus = status;
    r.error = status >= 200 && status < 300 ? 0 : (status == 404 ? int(Job::NotFoundError) : int(Job::ServerError));
    r.retryAfter = std::move(retryAfter);
    return r;
}

ApiResult noAnswer(QNetworkReply::NetworkError why)
{
    ApiResult r;
    r.error = Job::NetworkError;
    r.networkError = why;
    return r;
}

} // namespace

class tst_RetryPolicy : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void classifies_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<int>("networkError");
        QTest::addColumn<int>("failure");
        QTest::newRow("200") << 200 << 0 << int(Failure::None);
        QTest::newRow("400") << 400 << 0 << int(Failure::None);
        QTest::newRow("401") << 401 << 0 << int(Failure::None);
        QTest::newRow("404") << 404 << 0 << int(Failure::None);
        QTest::newRow("500") << 500 << 0 << int(Failure::None);
        QTest::newRow("429") << 429 << 0 << int(Failure::ServerDeclined);
        QTest::newRow("503") << 503 << 0 << int(Failure::ServerDeclined);
        QTest::newRow("502") << 502 << 0 << int(Failure::OutcomeUnknown);
        QTest::newRow("504") << 504 << 0 << int(Failure::OutcomeUnknown);
        QTest::newRow("refused") << 0 << int(QNetworkReply::ConnectionRefusedError) << int(Failure::NeverArrived);
        QTest::newRow("no such host") << 0 << int(QNetworkReply::HostNotFoundError) << int(Failure::NeverArrived);
        QTest::newRow("reset") << 0 << int(QNetworkReply::RemoteHostClosedError) << int(Failure::OutcomeUnknown);
        QTest::newRow("timeout") << 0 << int(QNetworkReply::OperationCanceledError) << int(Failure::OutcomeUnknown);
    }

    void classifies()
    {
        QFETCH(int, status);
        QFETCH(int, networkError);
        QFETCH(int, failure);
        const ApiResult r = status ? answer(status) : noAnswer(QNetworkReply::NetworkError(networkError));
        QCOMPARE(int(RetryPolicy::classify(r)), failure);
        if (status == 500)
            QCOMPARE(RetryPolicy::classify(r, true), Failure::OutcomeUnknown); // the worker's view
    }

    void onlyIdempotentCallsRetryAnUnknownOutcome()
    {
        const RetryPolicy p;
        QVERIFY(p.delayMs(noAnswer(QNetworkReply::RemoteHostClosedError), true, 1, 0, 0.5) >= 0);
        QCOMPARE(p.delayMs(noAnswer(QNetworkReply::RemoteHostClosedError), false, 1, 0, 0.5), -1);
        QCOMPARE(p.delayMs(answer(502), false, 1, 0, 0.5), -1);
        // What never arrived, or what the server declined, is always safe.
        QVERIFY(p.delayMs(noAnswer(QNetworkReply::ConnectionRefusedError), false, 1, 0, 0.5) >= 0);
        QVERIFY(p.delayMs(answer(429), false, 1, 0, 0.5) >= 0);
        QVERIFY(p.delayMs(answer(503), false, 1, 0, 0.5) >= 0);
        QCOMPARE(p.delayMs(answer(400), true, 1, 0, 0.5), -1);
        QCOMPARE(p.delayMs(answer(200), true, 1, 0, 0.5), -1);
    }

    void backsOffExponentiallyWithFullJitter()
    {
        RetryPolicy p;
        p.baseDelayMs = 100;
        p.maxDelayMs = 1000;
        p.maxAttempts = 100;
        p.budgetMs = 1000000;
        const ApiResult r = answer(503);
        QCOMPARE(p.delayMs(r, false, 1, 0, 0.0), 0);   // anywhere from nothing ...
        QCOMPARE(p.delayMs(r, false, 1, 0, 0.999), 99); // ... to the cap
        QCOMPARE(p.delayMs(r, false, 2, 0, 0.5), 100);
        QCOMPARE(p.delayMs(r, false, 3, 0, 0.5), 200);
        QCOMPARE(p.delayMs(r, false, 4, 0, 0.5), 400);
        QCOMPARE(p.delayMs(r, false, 10, 0, 0.5), 500); // capped at maxDelayMs
        QCOMPARE(p.delayMs(r, false, 60, 0, 1.0), 1000);
    }

    void followsRetryAfter()
    {
        RetryPolicy p;
        const QDateTime now = QDateTime(QDate(2026, 12, 1), QTime(12, 0), Qt::UTC);
        QCOMPARE(p.delayMs(answer(429, "3"), false, 1, 0, 0.5, now), 3000);
        QCOMPARE(p.delayMs(answer(503, "Tue, 01 Dec 2026 12:00:07 GMT"), false, 1, 0, 0.5, now), 7000);
        QCOMPARE(p.delayMs(answer(503, "Tue, 01 Dec 2026 11:59:00 GMT"), false, 1, 0, 0.5, now), 0); // in the past: now
        QCOMPARE(p.delayMs(answer(429, "garbage"), false, 1, 0, 0.5, now), 250); // unreadable: the backoff
        QCOMPARE(p.delayMs(answer(429, "3600"), false, 1, 0, 0.5, now), -1); // longer than we wait: its answer stands
    }

    void stopsAtItsAttemptsAndItsBudget()
    {
        RetryPolicy p;
        p.maxAttempts = 3;
        p.budgetMs = 10000;
        const ApiResult r = answer(503, "2");
        QCOMPARE(p.delayMs(r, false, 2, 0, 0.5), 2000);
        QCOMPARE(p.delayMs(r, false, 3, 0, 0.5), -1);    // the third has failed: no fourth
        QCOMPARE(p.delayMs(r, false, 1, 8000, 0.5), 2000); // ends at 10 s: still within
        QCOMPARE(p.delayMs(r, false, 1, 8001, 0.5), -1);
        QCOMPARE(RetryPolicy::none().delayMs(r, true, 1, 0, 0.5), -1);
    }

    // RestClient follows the policy: 503s and a reset, then the answer; a
    // POST of unknown outcome is not repeated unless it says it may be.
    void restClientRetriesByThePolicy()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        int calls = 0;
        server.on("GET", QStringLiteral("/flaky"), [&calls](const FakeHttpServer::Request &) {
            switch (++calls) {
            case 1:
                return Response{503, "{}", {{"Retry-After", "0"}}, Response::Kind::Normal};
            case 2:
                return Response{200, "{\"cut\":", {}, Response::Kind::CutOff};
            default:
                return Response::json(200, {{QStringLiteral("ok"), true}});
            }
        });
        server.on("POST", QStringLiteral("/cut"), Response{200, "{\"cut\":", {}, Response::Kind::CutOff});
        QNetworkAccessManager nam;
        RestClient rest(&nam, QStringLiteral("Fake"), [](ApiResult &, QString *) {});
        RetryPolicy fast;
        fast.baseDelayMs = 0;
        rest.setRetryPolicy(fast);
        QObject context;

        ApiResult got;
        bool done = false;
        rest.send("GET", QNetworkRequest(server.url(QStringLiteral("/flaky"))), {}, &context, [&](const ApiResult &r) {
            got = r;
            done = true;
        });
        QTRY_VERIFY(done);
        QVERIFY2(got.ok(), qPrintable(got.message));
        QCOMPARE(calls, 3);

        done = false;
        rest.send("POST", QNetworkRequest(server.url(QStringLiteral("/cut"))), "{}", &context, [&](const ApiResult &r) {
            got = r;
            done = true;
        });
        QTRY_VERIFY(done);
        QCOMPARE(got.error, int(Job::NetworkError));
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/cut")).size(), 1);

        done = false;
        QNetworkRequest idempotent(server.url(QStringLiteral("/cut")));
        idempotent.setAttribute(RestClient::IdempotentAttribute, true);
        rest.send("POST", idempotent, "{}", &context, [&](const ApiResult &r) {
            got = r;
            done = true;
        });
        QTRY_VERIFY(done);
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/cut")).size(), 1 + fast.maxAttempts);
    }

    // abortAll() cancels a retry that is waiting, with the replies.
    void abortAllCancelsAWaitingRetry()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        server.on("GET", QStringLiteral("/busy"), Response{503, "{}", {{"Retry-After", "1"}}, Response::Kind::Normal});
        QNetworkAccessManager nam;
        RestClient rest(&nam, QStringLiteral("Fake"), [](ApiResult &, QString *) {});
        QObject context;
        bool called = false;
        rest.send("GET", QNetworkRequest(server.url(QStringLiteral("/busy"))), {}, &context, [&](const ApiResult &) { called = true; });
        QTRY_COMPARE(server.requests.size(), 1);
        QTRY_VERIFY(!context.findChildren<QTimer *>().isEmpty()); // the retry is waiting
        RestClient::abortAll(&context);
        QVERIFY(context.findChildren<QTimer *>().isEmpty()); // nothing left to fire
        QVERIFY(!called);
    }
};

QTEST_GUILESS_MAIN(tst_RetryPolicy)
#include "tst_retrypolicy.moc"
