#include <membatch/webhooksignature.h>

#include <QCryptographicHash>
#include <QList>
#include <QMessageAuthenticationCode>
#include <QRandomGenerator>

namespace membatch::WebhookSignature {

namespace {
const QByteArray kPrefix = QByteArrayLiteral("whsec_");
constexpr qsizetype kMinKeyBytes = 24;
constexpr qsizetype kMaxKeyBytes = 64;

// Equal, in a time that depends only on the lengths: no byte-by-byte oracle.
bool constantTimeEquals(const QByteArray &a, const QByteArray &b)
{
    if (a.size() != b.size())
        return false;
    unsigned char difference = 0;
    for (qsizetype i = 0; i < a.size(); ++i)
        difference |= static_cast<unsigned char>(a.at(i) ^ b.at(i));
    return difference == 0;
}
} // namespace

QByteArray keyFromSecret(const QByteArray &secret)
{
    if (!secret.startsWith(kPrefix))
        return {};
    const auto decoded = QByteArray::fromBase64Encoding(secret.mid(kPrefix.size()), QByteArray::AbortOnBase64DecodingErrors);
    if (!decoded || decoded.decoded.size() < kMinKeyBytes || decoded.decoded.size() > kMaxKeyBytes)
        return {};
    return decoded.decoded;
}

QByteArray generateSecret()
{
    QByteArray key(32, Qt::Uninitialized);
    QRandomGenerator::system()->generate(reinterpret_cast<quint32 *>(key.data()),
                                         reinterpret_cast<quint32 *>(key.data() + key.size()));
    return kPrefix + key.toBase64();
}

QByteArray sign(const QByteArray &secret, const QByteArray &messageId, qint64 timestamp, const QByteArray &body)
{
    const QByteArray key = keyFromSecret(secret);
    if (key.isEmpty())
        return {};
    QMessageAuthenticationCode mac(QCryptographicHash::Sha256, key);
    mac.addData(messageId);
    mac.addData(".");
    mac.addData(QByteArray::number(timestamp));
    mac.addData(".");
    mac.addData(body);
    return "v1," + mac.result().toBase64();
}

Verdict verify(const QByteArray &secret, const QByteArray &messageId, const QByteArray &timestamp,
               const QByteArray &signatureHeader, const QByteArray &body, const QDateTime &now, qint64 toleranceSeconds)
{
    if (keyFromSecret(secret).isEmpty())
        return Verdict::BadSecret;
    if (messageId.isEmpty() || timestamp.isEmpty() || signatureHeader.isEmpty())
        return Verdict::MissingHeader;
    bool ok = false;
    const qint64 sent = timestamp.toLongLong(&ok);
    if (!ok)
        return Verdict::BadTimestamp;
    const qint64 clock = now.toSecsSinceEpoch();
    if (sent < clock - toleranceSeconds)
        return Verdict::TooOld;
    if (sent > clock + toleranceSeconds)
        return Verdict::TooNew;
    const QByteArray expected = sign(secret, messageId, sent, body);
    bool matched = false;
    for (const QByteArray &candidate : signatureHeader.split(' '))
        matched |= constantTimeEquals(candidate.trimmed(), expected); // every one compared
    return matched ? Verdict::Valid : Verdict::NoMatch;
}

QString describe(Verdict verdict)
{
    switch (verdict) {
    case Verdict::Valid:
        return QStringLiteral("valid");
    case Verdict::BadSecret:
        return QStringLiteral("the secret is not \"whsec_\" followed by the base64 of 24 to 64 bytes");
    case Verdict::MissingHeader:
        return QStringLiteral("a webhook-id, webhook-timestamp or webhook-signature header is missing");
    case Verdict::BadTimestamp:
        return QStringLiteral("webhook-timestamp is not a number of seconds");
    case Verdict::TooOld:
        return QStringLiteral("webhook-timestamp is too old (a replay?)");
    case Verdict::TooNew:
        return QStringLiteral("webhook-timestamp is in the future");
    case Verdict::NoMatch:
        return QStringLiteral("no signature matches");
    }
    return {};
}

} // namespace membatch::WebhookSignature
