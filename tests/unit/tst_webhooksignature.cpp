// Standard Webhooks signing and checking, as the worker signs and a
// receiver verifies (the C++ helper membatch ships for receivers).
#include <membatch/webhooksignature.h>

#include <QTest>

using namespace membatch;
using V = WebhookSignature::Verdict;

namespace {
// The specification's own example: secret, id, timestamp, body, signature.
const QByteArray kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const QByteArray kId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const qint64 kTimestamp = 1614265330;
const QByteArray kBody = "{\"test\": 2432232314}";
const QByteArray kSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const QDateTime kThen = QDateTime::fromSecsSinceEpoch(kTimestamp, Qt::UTC);
} // namespace

Q_DECLARE_METATYPE(membatch::WebhookSignature::Verdict)

class tst_WebhookSignature : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void signsAsTheSpecificationDoes()
    {
        QCOMPARE(WebhookSignature::sign(kSecret, kId, kTimestamp, kBody), kSignature);
    }

    void verifies_data()
    {
        QTest::addColumn<QByteArray>("secret");
        QTest::addColumn<QByteArray>("id");
        QTest::addColumn<QByteArray>("timestamp");
        QTest::addColumn<QByteArray>("signature");
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QDateTime>("now");
        QTest::addColumn<V>("verdict");
        const QByteArray ts = QByteArray::number(kTimestamp);
        QTest::newRow("valid") << kSecret << kId << ts << kSignature << kBody << kThen << V::Valid;
        QTest::newRow("valid, among a rotation's") << kSecret << kId << ts << "v1,bm90IGl0 " + kSignature << kBody << kThen << V::Valid;
        QTest::newRow("4:59 late") << kSecret << kId << ts << kSignature << kBody << kThen.addSecs(299) << V::Valid;
        QTest::newRow("a byte of the body changed") << kSecret << kId << ts << kSignature << QByteArray("{\"test\": 2432232315}") << kThen << V::NoMatch;
        QTest::newRow("the body re-serialised") << kSecret << kId << ts << kSignature << QByteArray("{\"test\":2432232314}") << kThen << V::NoMatch;
        QTest::newRow("another id") << kSecret << QByteArray("msg_other") << ts << kSignature << kBody << kThen << V::NoMatch;
        QTest::newRow("another secret") << QByteArray("whsec_") + QByteArray(24, 'k').toBase64() << kId << ts << kSignature << kBody << kThen << V::NoMatch;
        QTest::newRow("a v2 signature only") << kSecret << kId << ts << kSignature.mid(3).prepend("v2,") << kBody << kThen << V::NoMatch;
        QTest::newRow("replayed 6 minutes later") << kSecret << kId << ts << kSignature << kBody << kThen.addSecs(360) << V::TooOld;
        QTest::newRow("from the future") << kSecret << kId << ts << kSignature << kBody << kThen.addSecs(-360) << V::TooNew;
        QTest::newRow("no signature") << kSecret << kId << ts << QByteArray() << kBody << kThen << V::MissingHeader;
        QTest::newRow("no id") << kSecret << QByteArray() << ts << kSignature << kBody << kThen << V::MissingHeader;
        QTest::newRow("timestamp not a number") << kSecret << kId << QByteArray("yesterday") << kSignature << kBody << kThen << V::BadTimestamp;
        QTest::newRow("secret without prefix") << kSecret.mid(6) << kId << ts << kSignature << kBody << kThen << V::BadSecret;
        QTest::newRow("secret too short") << QByteArray("whsec_") + QByteArray(8, 'k').toBase64() << kId << ts << kSignature << kBody << kThen << V::BadSecret;
        QTest::newRow("secret not base64") << QByteArray("whsec_!!!!") << kId << ts << kSignature << kBody << kThen << V::BadSecret;
    }

    void verifies()
    {
        QFETCH(QByteArray, secret);
        QFETCH(QByteArray, id);
        QFETCH(QByteArray, timestamp);
        QFETCH(QByteArray, signature);
        QFETCH(QByteArray, body);
        QFETCH(QDateTime, now);
        QFETCH(V, verdict);
        const V got = WebhookSignature::verify(secret, id, timestamp, signature, body, now);
        QVERIFY2(got == verdict, qPrintable(WebhookSignature::describe(got)));
    }

    void generatedSecretsWorkAndDiffer()
    {
        const QByteArray a = WebhookSignature::generateSecret();
        const QByteArray b = WebhookSignature::generateSecret();
        QVERIFY(a != b);
        QCOMPARE(WebhookSignature::keyFromSecret(a).size(), 32);
        const qint64 now = QDateTime::currentSecsSinceEpoch();
        const QByteArray signature = WebhookSignature::sign(a, "msg_1", now, "{}");
        QCOMPARE(WebhookSignature::verify(a, "msg_1", QByteArray::number(now), signature, "{}"), V::Valid);
        QCOMPARE(WebhookSignature::verify(b, "msg_1", QByteArray::number(now), signature, "{}"), V::NoMatch);
    }
};

QTEST_GUILESS_MAIN(tst_WebhookSignature)
#include "tst_webhooksignature.moc"
