#pragma once

#include <membatch/batchstatus.h>

#include <QList>
#include <QString>
#include <QTextStream>

// What `membatch list` prints: a table (batch id, status, stored/total,
// failed, chunks, created), or with --json one BatchStatus a line and a
// last line {"nextCursor": ...} ("" after the last page).
class BatchTable
{
public:
    static QString table(const QList<membatch::BatchStatus> &batches);
    static QString jsonLines(const QList<membatch::BatchStatus> &batches, const QString &nextCursor);
};
