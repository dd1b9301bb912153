#pragma once

#include <QDateTime>
#include <QList>
#include <QString>

namespace membatch {

// Rate, ETA, elapsed time and "stalled" for one batch, from the counts seen
// over time. A pure value: the times come in (no clock is read here), so it
// is tested with explicit timestamps.
//
// The rate is the items processed over a sliding window (windowMs) ending
// now, not at the last sample: when nothing moves the rate falls towards 0
// and the ETA grows, instead of freezing at the last burst.
class ProgressEstimator
{
public:
    explicit ProgressEstimator(qint64 windowMs = 60000);

    // Where elapsed time counts from (the request's createdAt); invalid:
    // the first sample.
    void setOrigin(const QDateTime &origin) { m_origin = origin; }
    // When processing began (the request's startedAt, the count 0 then):
    // until a second count is seen, the rate is the average since then, so
    // a batch first looked at mid-way has a rate and an ETA at once.
    void setStart(const QDateTime &startedAt) { m_start = startedAt; }
    // When the batch ended (elapsed stops there); invalid: not ended.
    void setEnded(const QDateTime &endedAt) { m_endedAt = endedAt; }
    // processed items at a time. A count lower than before (a retried
    // attempt that starts over) restarts the window there.
    void addSample(const QDateTime &at, qint64 processed);
    // Something other than the count moved (pending became processing): it
    // counts against "stalled" like progress does.
    void noteActivity(const QDateTime &at);

    // Items a second over the window up to now; 0: unknown or none.
    double rate(const QDateTime &now) const;
    // Until total is reached at that rate; -1: unknown (no rate, no total).
    qint64 etaMs(qint64 total, const QDateTime &now) const;
    QDateTime estimatedCompletion(qint64 total, const QDateTime &now) const;
    // Since the origin (or the first sample), up to the end or now; -1: unknown.
    qint64 elapsedMs(const QDateTime &now) const;
    // Nothing moved for stalledAfterMs (> 0) up to now.
    bool isStalled(const QDateTime &now, qint64 stalledAfterMs) const;
    // "no progress since <time>" (UTC, to the second).
    QString stalledReason() const;
    QDateTime lastActivity() const { return m_lastActivity; }

private:
    struct Sample
    {
        qint64 atMs;
        qint64 processed;
    };
    qint64 m_windowMs;
    QList<Sample> m_samples; // oldest first; one kept from before the window
    QDateTime m_origin;
    QDateTime m_start;
    QDateTime m_endedAt;
    QDateTime m_lastActivity;
    qint64 m_lastProcessed = -1;
};

} // namespace membatch
