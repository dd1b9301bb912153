// What `membatch list` prints: a table whose columns line up, with nothing
// from Parse able to drive the terminal, or JSON lines ending with the cursor.
#include "batchtable.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

using namespace membatch;

class tst_BatchTable : public QObject
{
    Q_OBJECT

private:
    static BatchStatus batch(const QString &id, const QString &status, qint64 stored, qint64 total, qint64 failed, int chunks)
    {
        BatchStatus b;
        b.batchId = id;
        b.status = status;
        b.successCount = stored;
        b.totalMemories = total;
        b.failCount = failed;
        b.chunkCount = chunks;
        b.createdAt = QDateTime(QDate(2026, 12, 1), QTime(18, 5, 7, 123), Qt::UTC);
        return b;
    }

private Q_SLOTS:
    void tableLinesUp()
    {
        const QString text = BatchTable::table({batch(QStringLiteral("a1"), QStringLiteral("completed"), 3, 3, 0, 1),
                                                batch(QStringLiteral("long-batch-id"), QStringLiteral("partial_failure"), 997, 1000, 3, 12)});
        const QStringList lines = text.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 3);
        QVERIFY(lines.at(0).startsWith(QStringLiteral("BATCH ID")));
        // Every column starts where its header does; counts end where theirs ends.
        for (const QString &header : {QStringLiteral("STATUS"), QStringLiteral("CREATED")}) {
            const qsizetype at = lines.at(0).indexOf(header);
            QCOMPARE(lines.at(1).mid(at, 4), header == QLatin1String("STATUS") ? QStringLiteral("comp") : QStringLiteral("2026"));
            QCOMPARE(lines.at(2).mid(at, 4), header == QLatin1String("STATUS") ? QStringLiteral("part") : QStringLiteral("2026"));
        }
        const qsizetype storedEnd = lines.at(0).indexOf(QStringLiteral("STORED/TOTAL")) + 12;
        QCOMPARE(lines.at(1).mid(storedEnd - 3, 3), QStringLiteral("3/3"));
        QCOMPARE(lines.at(2).mid(storedEnd - 8, 8), QStringLiteral("997/1000"));
        QVERIFY(lines.at(2).endsWith(QStringLiteral("2026-12-01 18:05:07Z")));
    }

    void nothingFromParseReachesTheTerminalRaw()
    {
        const QString text = BatchTable::table({batch(QStringLiteral("x\x1b[2Jy"), QStringLiteral("completed\r"), 1, 1, 0, 1)});
        QVERIFY(!text.contains(QChar(0x1b)));
        QVERIFY(!text.contains(QLatin1Char('\r')));
        QVERIFY(text.contains(QStringLiteral("x\\u001b[2Jy")));
    }

    void jsonLinesEndWithTheCursor()
    {
        const QString text = BatchTable::jsonLines({batch(QStringLiteral("a1"), QStringLiteral("completed"), 3, 3, 0, 1)}, QStringLiteral("CUR"));
        const QStringList lines = text.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 2);
        QCOMPARE(QJsonDocument::fromJson(lines.at(0).toUtf8()).object().value(QStringLiteral("batchId")).toString(), QStringLiteral("a1"));
        QCOMPARE(QJsonDocument::fromJson(lines.at(1).toUtf8()).object(), (QJsonObject{{QStringLiteral("nextCursor"), QStringLiteral("CUR")}}));
        QCOMPARE(BatchTable::jsonLines({}, {}), QStringLiteral("{\"nextCursor\":\"\"}\n"));
    }
};

QTEST_GUILESS_MAIN(tst_BatchTable)
#include "tst_batchtable.moc"
