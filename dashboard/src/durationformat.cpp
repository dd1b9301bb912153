#include "durationformat.h"

#include <QCoreApplication>
#include <QLocale>

namespace membatch::dashboard {

QString formatDuration(qint64 ms)
{
    if (ms < 0)
        return {};
    const qint64 s = (ms + 500) / 1000;
    if (s < 60)
        return QCoreApplication::translate("membatch::dashboard", "%1s").arg(s);
    if (s < 3600)
        return QCoreApplication::translate("membatch::dashboard", "%1m %2s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    if (s < 86400)
        return QCoreApplication::translate("membatch::dashboard", "%1h %2m")
            .arg(s / 3600)
            .arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
    return QCoreApplication::translate("membatch::dashboard", "%1d %2h").arg(s / 86400).arg((s % 86400) / 3600);
}

QString formatRate(double perSecond, bool bytes)
{
    if (!(perSecond > 0))
        return {};
    const QLocale locale;
    if (bytes)
        return QCoreApplication::translate("membatch::dashboard", "%1/s").arg(locale.formattedDataSize(qint64(perSecond)));
    if (perSecond >= 10000)
        return QCoreApplication::translate("membatch::dashboard", "%1k/s").arg(locale.toString(perSecond / 1000, 'f', 1));
    return QCoreApplication::translate("membatch::dashboard", "%1/s").arg(locale.toString(perSecond, 'f', perSecond < 10 ? 1 : 0));
}

} // namespace membatch::dashboard
