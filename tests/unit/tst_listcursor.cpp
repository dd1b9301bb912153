// The keyset cursor of `list`: what list gives back decodes to the same
// key, and anything else is refused with a reason, never read as a page.
#include "listcursor.h"

#include <QJsonArray>
#include <QTest>

using namespace membatch;

class tst_ListCursor : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void roundTrips_data()
    {
        QTest::addColumn<QDateTime>("createdAt");
        QTest::addColumn<QString>("objectId");
        QTest::newRow("ours") << QDateTime(QDate(2026, 12, 1), QTime(18, 5, 7, 123), Qt::UTC) << "0a1b2c3d4e5f60718293a4b5";
        QTest::newRow("parse's own id") << QDateTime(QDate(2001, 1, 1), QTime(0, 0), Qt::UTC) << "Ab3dE6gH9k";
        QTest::newRow("local time is the same instant")
            << QDateTime(QDate(2026, 6, 30), QTime(23, 59, 59, 999), Qt::OffsetFromUTC, 7200) << "x";
    }
    void roundTrips()
    {
        QFETCH(QDateTime, createdAt);
        QFETCH(QString, objectId);
        const ListCursor cursor{createdAt, objectId};
        const QString text = cursor.encode();
        QVERIFY(!text.isEmpty());
        QVERIFY2(!text.contains(QLatin1Char('=')) && !text.contains(QLatin1Char('+')) && !text.contains(QLatin1Char('/')),
                 qPrintable(text)); // safe on a command line and in a URL
        ListCursor back;
        QString why;
        QVERIFY2(ListCursor::decode(text, &back, &why), qPrintable(why));
        QCOMPARE(back.createdAt.toMSecsSinceEpoch(), createdAt.toMSecsSinceEpoch());
        QCOMPARE(back.objectId, objectId);
    }

    void refusesWhatListDidNotWrite_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("reason");
        const auto b64 = [](const QByteArray &raw) {
            return QString::fromLatin1(raw.toBase64(QByteArray::Base64UrlEncoding | QByteArray::OmitTrailingEquals));
        };
        QTest::newRow("not base64") << "abc$def" << "not base64url";
        QTest::newRow("spaces") << "abc def" << "not base64url";
        QTest::newRow("another version") << b64("2:1764612307123:abc") << "unknown format";
        QTest::newRow("two parts") << b64("1:1764612307123") << "unknown format";
        QTest::newRow("four parts") << b64("1:1764612307123:abc:d") << "unknown format";
        QTest::newRow("time not a number") << b64("1:soon:abc") << "no valid time";
        QTest::newRow("time before 2000") << b64("1:1000:abc") << "no valid time";
        QTest::newRow("negative time") << b64("1:-5:abc") << "no valid time";
        QTest::newRow("empty id") << b64("1:1764612307123:") << "no valid object id";
        QTest::newRow("id with a quote") << b64("1:1764612307123:ab\"c") << "no valid object id";
        QTest::newRow("id that is a query") << b64("1:1764612307123:{\"$gt\":\"\"}") << "unknown format";
        QTest::newRow("too long") << QString(300, QLatin1Char('A')) << "too long";
    }
    void refusesWhatListDidNotWrite()
    {
        QFETCH(QString, text);
        QFETCH(QString, reason);
        ListCursor cursor;
        QString why;
        QVERIFY(!ListCursor::decode(text, &cursor, &why));
        QVERIFY2(why.contains(reason), qPrintable(why));
        QVERIFY2(why.contains(QStringLiteral("not one that list gave")), qPrintable(why));
        QVERIFY(cursor.isNull());
    }

    void afterIsTheKeysetCondition()
    {
        const ListCursor cursor{QDateTime(QDate(2026, 12, 1), QTime(18, 0, 0, 5), Qt::UTC), QStringLiteral("abc")};
        const QJsonArray either = cursor.after().value(QStringLiteral("$or")).toArray();
        QCOMPARE(either.size(), 2);
        const QJsonObject older = either.at(0).toObject().value(QStringLiteral("createdAt")).toObject().value(QStringLiteral("$lt")).toObject();
        QCOMPARE(older.value(QStringLiteral("iso")).toString(), QStringLiteral("2026-12-01T18:00:00.005Z"));
        const QJsonObject same = either.at(1).toObject();
        QCOMPARE(same.value(QStringLiteral("createdAt")).toObject().value(QStringLiteral("iso")).toString(),
                 QStringLiteral("2026-12-01T18:00:00.005Z"));
        QCOMPARE(same.value(QStringLiteral("objectId")).toObject().value(QStringLiteral("$lt")).toString(), QStringLiteral("abc"));
    }

    void nullEncodesEmpty()
    {
        QVERIFY(ListCursor{}.encode().isEmpty());
    }
};

QTEST_GUILESS_MAIN(tst_ListCursor)
#include "tst_listcursor.moc"
