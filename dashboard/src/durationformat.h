#pragma once

#include <QString>

namespace membatch::dashboard {

// "45s", "3m 20s", "2h 05m", "3d 4h": two units at most, for a cell.
QString formatDuration(qint64 ms);
// "120/s", "1.5k/s"; bytes: "820 KiB/s". Empty for an unknown (0) rate.
QString formatRate(double perSecond, bool bytes);

} // namespace membatch::dashboard
