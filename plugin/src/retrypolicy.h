#pragma once

#include "apiresult.h"

#include <QDateTime>

namespace membatch {

// When a failed call may be sent again, and after how long: the one policy
// behind RestClient's retries (every call of submit, watch, cancel, results
// and gc) and the worker's longer ride through an outage. Pure: the clock
// and the randomness come in, so it is tested without waiting.
//
// What may be retried:
// - the request never reached the server (connection refused, no such
//   host): always;
// - the server says it did nothing (429, 503): always, after its
//   Retry-After if it gives one;
// - the outcome is unknown (a reset or a timeout mid-way, a cut-off
//   answer, 502, 504): only an idempotent call (GET, PUT, DELETE, or a POST
//   that says so: a create with a fixed id, a start with a request id);
// - anything else (4xx, 500, a refusal): never.
struct RetryPolicy
{
    enum class Failure {
        None,           // a success, or not a failure a retry could mend
        NeverArrived,   // refused, or no such host
        ServerDeclined, // 429, 503
        OutcomeUnknown, // reset, timeout, cut off, 502, 504
    };

    int maxAttempts = 5;         // in all, the first included
    qint64 baseDelayMs = 500;    // the first wait at most; doubling after each
    qint64 maxDelayMs = 15000;   // one wait at most (full jitter below it)
    qint64 maxRetryAfterMs = 60000; // a server's Retry-After is followed up to this
    qint64 budgetMs = 60000;     // from the first failure, no retry starts past this
    // A 500 (or another 5xx) as an unknown outcome: for callers whose every
    // call is safe to repeat and who ride out an outage (the worker: Parse
    // answers 500 while its database is away).
    bool serverErrorsAreTransient = false;

    // No retries at all (streams, and callers with a loop of their own).
    static RetryPolicy none();

    static Failure classify(const ApiResult &r, bool serverErrorsAreTransient = false);
    // Retry-After as milliseconds (seconds, or an HTTP date against now);
    // -1 if absent or unreadable.
    static qint64 retryAfterMs(const QByteArray &header, const QDateTime &now);

    // The wait before the next attempt, or -1: give up. attempt: how many
    // have failed so far (1 after the first); failingForMs: since the first
    // failure; random01 in [0, 1) (full jitter).
    qint64 delayMs(const ApiResult &r, bool idempotent, int attempt, qint64 failingForMs, double random01,
                   const QDateTime &now = QDateTime::currentDateTimeUtc()) const;
};

} // namespace membatch
