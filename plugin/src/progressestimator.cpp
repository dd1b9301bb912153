#include "progressestimator.h"

#include <QCoreApplication>

#include <cmath>

namespace membatch {

ProgressEstimator::ProgressEstimator(qint64 windowMs)
    : m_windowMs(std::max<qint64>(1000, windowMs))
{
}

void ProgressEstimator::addSample(const QDateTime &at, qint64 processed)
{
    if (!at.isValid())
        return;
    const qint64 atMs = at.toMSecsSinceEpoch();
    if (!m_samples.isEmpty() && atMs < m_samples.last().atMs)
        return; // out of order (a late answer): the newer sample stands
    if (processed < m_lastProcessed)
        m_samples.clear(); // started over: the old counts say nothing of the new rate
    if (processed != m_lastProcessed || !m_lastActivity.isValid())
        m_lastActivity = at;
    m_lastProcessed = processed;
    // The same count again adds nothing: the rate runs from when it was reached.
    if (m_samples.isEmpty() || m_samples.last().processed != processed)
        m_samples.append({atMs, processed});
    // Keep one sample at or before the window's start: the rate's anchor.
    while (m_samples.size() > 2 && m_samples.at(1).atMs <= atMs - m_windowMs)
        m_samples.removeFirst();
}

void ProgressEstimator::noteActivity(const QDateTime &at)
{
    if (at.isValid() && (!m_lastActivity.isValid() || at > m_lastActivity))
        m_lastActivity = at;
}

double ProgressEstimator::rate(const QDateTime &now) const
{
    if (!now.isValid() || m_samples.isEmpty())
        return 0;
    if (m_samples.size() < 2) {
        // One count: the average since processing began, if known.
        const qint64 spanMs = m_start.isValid() ? m_start.msecsTo(now) : 0;
        const qint64 items = m_samples.last().processed;
        return spanMs > 0 && items > 0 && m_start.toMSecsSinceEpoch() < m_samples.last().atMs ? double(items) * 1000.0 / double(spanMs) : 0;
    }
    const qint64 nowMs = std::max(now.toMSecsSinceEpoch(), m_samples.last().atMs);
    const qint64 windowStart = nowMs - m_windowMs;
    // The anchor: the last sample at or before the window's start, else the first.
    qsizetype anchor = 0;
    for (qsizetype i = 0; i < m_samples.size(); ++i) {
        if (m_samples.at(i).atMs <= windowStart)
            anchor = i;
    }
    const Sample &from = m_samples.at(anchor);
    // A count holds until the next sample: at the window's start it was the anchor's.
    const qint64 spanMs = nowMs - std::max(from.atMs, windowStart);
    const qint64 items = m_samples.last().processed - from.processed;
    if (spanMs <= 0 || items <= 0)
        return 0;
    return double(items) * 1000.0 / double(spanMs);
}

qint64 ProgressEstimator::etaMs(qint64 total, const QDateTime &now) const
{
    if (total <= 0 || m_lastProcessed < 0)
        return -1;
    const qint64 left = total - m_lastProcessed;
    if (left <= 0)
        return 0;
    const double r = rate(now);
    if (r <= 0)
        return -1;
    return qint64(std::ceil(double(left) * 1000.0 / r));
}

QDateTime ProgressEstimator::estimatedCompletion(qint64 total, const QDateTime &now) const
{
    const qint64 eta = etaMs(total, now);
    return eta < 0 ? QDateTime() : now.toUTC().addMSecs(eta);
}

qint64 ProgressEstimator::elapsedMs(const QDateTime &now) const
{
    QDateTime from = m_origin;
    if (!from.isValid() && !m_samples.isEmpty())
        from = QDateTime::fromMSecsSinceEpoch(m_samples.first().atMs, Qt::UTC);
    const QDateTime to = m_endedAt.isValid() ? m_endedAt : now;
    if (!from.isValid() || !to.isValid())
        return -1;
    return std::max<qint64>(0, from.msecsTo(to));
}

bool ProgressEstimator::isStalled(const QDateTime &now, qint64 stalledAfterMs) const
{
    return stalledAfterMs > 0 && m_lastActivity.isValid() && now.isValid() && m_lastActivity.msecsTo(now) >= stalledAfterMs;
}

QString ProgressEstimator::stalledReason() const
{
    return QCoreApplication::translate("membatch::ProgressEstimator", "no progress since %1")
        .arg(m_lastActivity.toUTC().toString(Qt::ISODate));
}

} // namespace membatch
