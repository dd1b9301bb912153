#pragma once

#include <membatch/membatch_export.h>

#include <QByteArray>
#include <QDateTime>
#include <QString>

namespace membatch {

// Standard Webhooks signatures (www.standardwebhooks.com), as membatch's
// worker signs the webhook it sends when a batch ends, for a receiver to
// check:
//
//   webhook-id:        msg_<...>, the same on every retry of one message
//   webhook-timestamp: seconds since the epoch, of this attempt
//   webhook-signature: v1,<base64 of HMAC-SHA256(key, id "." timestamp "." body)>
//
// The key is the secret's base64 part: "whsec_" + base64 of 24 to 64 bytes.
// A receiver checks the signature over the body exactly as it arrived (not a
// re-serialisation of it), in constant time, and refuses a timestamp more
// than the tolerance away from its own clock (a replay).
namespace WebhookSignature {

// The key of a "whsec_..." secret, or empty if the secret is not one.
MEMBATCH_EXPORT QByteArray keyFromSecret(const QByteArray &secret);
// A new random secret, "whsec_" + base64 of 32 bytes.
MEMBATCH_EXPORT QByteArray generateSecret();

// The webhook-signature header value for a message: "v1,<base64>".
MEMBATCH_EXPORT QByteArray sign(const QByteArray &secret, const QByteArray &messageId, qint64 timestamp,
                                const QByteArray &body);

enum class Verdict {
    Valid,
    BadSecret,        // the secret is not "whsec_" + base64
    MissingHeader,    // no webhook-id, webhook-timestamp or webhook-signature
    BadTimestamp,     // not a number of seconds
    TooOld,           // further in the past than the tolerance: a replay?
    TooNew,           // further in the future than the tolerance
    NoMatch,          // no v1 signature in the header matches
};

// Checks the three headers' values against the body. The signature header
// may hold several space-separated signatures ("v1,a v1,b", as during a
// secret's rotation): one matching is enough.
MEMBATCH_EXPORT Verdict verify(const QByteArray &secret, const QByteArray &messageId, const QByteArray &timestamp,
                               const QByteArray &signatureHeader, const QByteArray &body,
                               const QDateTime &now = QDateTime::currentDateTimeUtc(), qint64 toleranceSeconds = 300);

MEMBATCH_EXPORT QString describe(Verdict verdict);

} // namespace WebhookSignature
} // namespace membatch
