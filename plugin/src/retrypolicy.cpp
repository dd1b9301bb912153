#include "retrypolicy.h"

#include <membatch/job.h>

#include <QNetworkReply>

#include <algorithm>

namespace membatch {

RetryPolicy RetryPolicy::none()
{
    RetryPolicy p;
    p.maxAttempts = 1;
    return p;
}

RetryPolicy::Failure RetryPolicy::classify(const ApiResult &r, bool serverErrorsAreTransient)
{
    if (r.ok())
        return Failure::None;
    if (r.error == Job::NetworkError) {
        if (r.httpStatus == 0
            && (r.networkError == QNetworkReply::ConnectionRefusedError || r.networkError == QNetworkReply::HostNotFoundError))
            return Failure::NeverArrived;
        return Failure::OutcomeUnknown; // reset, timeout, an answer cut off
    }
    if (r.httpStatus == 429 || r.httpStatus == 503)
        return Failure::ServerDeclined;
    if (r.httpStatus == 502 || r.httpStatus == 504 || (serverErrorsAreTransient && r.httpStatus >= 500))
        return Failure::OutcomeUnknown;
    return Failure::None;
}

qint64 RetryPolicy::retryAfterMs(const QByteArray &header, const QDateTime &now)
{
    const QByteArray text = header.trimmed();
    if (text.isEmpty())
        return -1;
    bool ok = false;
    const qint64 seconds = text.toLongLong(&ok);
    if (ok)
        return seconds >= 0 ? seconds * 1000 : -1;
    // An HTTP date (RFC 9110: "Tue, 01 Dec 2026 12:00:07 GMT"), which
    // Qt reads as RFC 2822 once the zone is a number.
    QString date = QString::fromLatin1(text);
    if (date.endsWith(QLatin1String(" GMT")))
        date = date.chopped(3) + QLatin1String("+0000");
    const QDateTime at = QDateTime::fromString(date, Qt::RFC2822Date);
    if (!at.isValid())
        return -1;
    return std::max<qint64>(0, now.msecsTo(at));
}

qint64 RetryPolicy::delayMs(const ApiResult &r, bool idempotent, int attempt, qint64 failingForMs, double random01,
                            const QDateTime &now) const
{
    const Failure failure = classify(r, serverErrorsAreTransient);
    if (failure == Failure::None || (failure == Failure::OutcomeUnknown && !idempotent) || attempt >= maxAttempts)
        return -1;
    qint64 delay = failure == Failure::ServerDeclined ? retryAfterMs(r.retryAfter, now) : -1;
    if (delay > maxRetryAfterMs)
        return -1; // the server asks for longer than we wait: its answer stands
    if (delay < 0) {
        // Full jitter: anywhere up to the exponential cap, so that many
        // clients failing at once do not come back at once.
        const qint64 cap = std::min(maxDelayMs, baseDelayMs << std::min(attempt - 1, 20));
        delay = qint64(std::clamp(random01, 0.0, 1.0) * double(cap));
    }
    if (failingForMs + delay > budgetMs)
        return -1;
    return delay;
}

} // namespace membatch
