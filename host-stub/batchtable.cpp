#include "batchtable.h"

#include <QJsonDocument>
#include <QJsonObject>

namespace {

// A batch id from Parse is printed, never obeyed: no control characters,
// nor bidi overrides, reach the terminal.
QString printable(const QString &text)
{
    QString out;
    out.reserve(text.size());
    for (const QChar c : text)
        out += c.isPrint() && c.category() != QChar::Other_Format ? QString(c) : QStringLiteral("\\u%1").arg(c.unicode(), 4, 16, QLatin1Char('0'));
    return out;
}

} // namespace

QString BatchTable::table(const QList<membatch::BatchStatus> &batches)
{
    const QStringList header{QStringLiteral("BATCH ID"), QStringLiteral("STATUS"), QStringLiteral("STORED/TOTAL"),
                             QStringLiteral("FAILED"), QStringLiteral("CHUNKS"), QStringLiteral("CREATED")};
    QList<QStringList> rows{header};
    for (const membatch::BatchStatus &b : batches)
        rows.append({printable(b.batchId), b.outcome().isEmpty() ? QStringLiteral("-") : printable(b.outcome()),
                     QStringLiteral("%1/%2").arg(b.successCount).arg(b.totalMemories), QString::number(b.failCount),
                     QString::number(b.chunkCount),
                     b.createdAt.isValid() ? b.createdAt.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss'Z'")) : QStringLiteral("-")});
    QList<qsizetype> widths(header.size(), 0);
    for (const QStringList &row : rows)
        for (qsizetype i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], row.at(i).size());
    QString text;
    for (const QStringList &row : rows) {
        QString line;
        for (qsizetype i = 0; i < row.size(); ++i) {
            // Counts line up on the right, words on the left.
            const bool number = i >= 2 && i <= 4;
            const QString cell = number ? row.at(i).rightJustified(widths.at(i)) : row.at(i).leftJustified(widths.at(i));
            line += (i ? QStringLiteral("  ") : QString()) + cell;
        }
        text += line.trimmed() + QLatin1Char('\n');
    }
    return text;
}

QString BatchTable::jsonLines(const QList<membatch::BatchStatus> &batches, const QString &nextCursor)
{
    QString text;
    for (const membatch::BatchStatus &b : batches)
        text += QString::fromUtf8(QJsonDocument(b.toJson()).toJson(QJsonDocument::Compact)) + QLatin1Char('\n');
    text += QString::fromUtf8(QJsonDocument(QJsonObject{{QStringLiteral("nextCursor"), nextCursor}}).toJson(QJsonDocument::Compact))
        + QLatin1Char('\n');
    return text;
}
