#include "gzipcodec.h"

#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>

using namespace membatch;

class tst_GzipCodec : public QObject
{
    Q_OBJECT

private:
    static QByteArray runTool(const QStringList &args, const QByteArray &input)
    {
        QProcess gzip;
        gzip.start(QStringLiteral("gzip"), args);
        if (!gzip.waitForStarted())
            return "<gzip did not start>";
        gzip.write(input);
        gzip.closeWriteChannel();
        gzip.waitForFinished(60000);
        if (gzip.exitStatus() != QProcess::NormalExit || gzip.exitCode() != 0)
            return "<gzip failed: " + gzip.readAllStandardError() + ">";
        return gzip.readAllStandardOutput();
    }

private Q_SLOTS:
    void roundTrip_data()
    {
        QTest::addColumn<QByteArray>("data");
        QTest::addColumn<int>("level");
        QTest::newRow("empty") << QByteArray() << 6;
        QTest::newRow("one byte") << QByteArray("x") << 6;
        QTest::newRow("json") << QByteArray(R"([{"content":"hello","tags":["a","b"]}])").repeated(1000) << 6;
        QByteArray random(3 * 1024 * 1024 + 17, Qt::Uninitialized);
        QRandomGenerator gen(42);
        gen.fillRange(reinterpret_cast<quint32 *>(random.data()), random.size() / 4);
        QTest::newRow("3 MiB random, level 1") << random << 1;
        QTest::newRow("3 MiB random, level 9") << random << 9;
        QTest::newRow("utf-8") << QStringLiteral("Grüße, 世界, 🙂 ").repeated(5000).toUtf8() << 6;
    }

    void roundTrip()
    {
        QFETCH(QByteArray, data);
        QFETCH(int, level);
        const QByteArray gz = GzipCodec::compress(data, level);
        QVERIFY(gz.startsWith("\x1f\x8b"));
        QByteArray back;
        QString error;
        QVERIFY2(GzipCodec::decompress(gz, &back, &error), qPrintable(error));
        QCOMPARE(back, data);
    }

    void gzipToolReadsOurs_data() { roundTrip_data(); }
    void gzipToolReadsOurs()
    {
        QFETCH(QByteArray, data);
        QFETCH(int, level);
        QCOMPARE(runTool({QStringLiteral("-dc")}, GzipCodec::compress(data, level)), data);
    }

    void weReadGzipTool_data() { roundTrip_data(); }
    void weReadGzipTool()
    {
        QFETCH(QByteArray, data);
        const QByteArray gz = runTool({QStringLiteral("-c"), QStringLiteral("-n")}, data);
        QVERIFY(gz.startsWith("\x1f\x8b"));
        QByteArray back;
        QString error;
        QVERIFY2(GzipCodec::decompress(gz, &back, &error), qPrintable(error));
        QCOMPARE(back, data);
    }

    void concatenatedMembers()
    {
        const QByteArray gz = GzipCodec::compress("first ") + GzipCodec::compress("second");
        QByteArray back;
        QString error;
        QVERIFY2(GzipCodec::decompress(gz, &back, &error), qPrintable(error));
        QCOMPARE(back, QByteArray("first second"));
        QCOMPARE(runTool({QStringLiteral("-dc")}, gz), QByteArray("first second"));
    }

    void refusesBadInput_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QString>("expected");
        const QByteArray good = GzipCodec::compress(QByteArray("some memories ").repeated(500));
        QTest::newRow("not gzip") << QByteArray("[{\"content\":\"plain json, not gzip\"}]") << QStringLiteral("magic");
        QTest::newRow("too short") << QByteArray("\x1f\x8b") << QStringLiteral("shorter");
        QTest::newRow("truncated") << good.left(good.size() / 2) << QStringLiteral("truncated");
        QByteArray corrupt = good;
        corrupt[20] = char(corrupt[20] ^ 0x55);
        corrupt[21] = char(corrupt[21] ^ 0x55);
        QTest::newRow("corrupt") << corrupt << QStringLiteral("corrupt");
        QByteArray badCrc = good;
        badCrc[badCrc.size() - 6] = char(badCrc[badCrc.size() - 6] ^ 1);
        QTest::newRow("bad crc") << badCrc << QStringLiteral("corrupt");
    }

    void refusesBadInput()
    {
        QFETCH(QByteArray, input);
        QFETCH(QString, expected);
        QByteArray out("untouched");
        QString error;
        QVERIFY(!GzipCodec::decompress(input, &out, &error));
        QVERIFY2(error.contains(expected), qPrintable(error));
        QCOMPARE(out, QByteArray("untouched"));
    }

    void refusesPastTheLimit()
    {
        const QByteArray bomb = GzipCodec::compress(QByteArray(8 * 1024 * 1024, '\0'));
        QVERIFY(bomb.size() < 64 * 1024);
        QByteArray out;
        QString error;
        QVERIFY(!GzipCodec::decompress(bomb, &out, &error, 1024 * 1024));
        QVERIFY2(error.contains(QStringLiteral("limit")), qPrintable(error));
        QVERIFY(GzipCodec::decompress(bomb, &out, &error, 8 * 1024 * 1024));
        QCOMPARE(out.size(), 8 * 1024 * 1024);
    }

    // The worker inflates a file as it downloads: the same bytes however
    // the input is cut, members and all.
    void inflatesInPieces()
    {
        QByteArray data;
        for (int i = 0; i < 20000; ++i)
            data += "{\"content\":\"memory " + QByteArray::number(i * 7919) + "\"},";
        const QByteArray gz = GzipCodec::compress(data.left(data.size() / 2)) + GzipCodec::compress(data.mid(data.size() / 2));
        for (qsizetype piece : {qsizetype(1), qsizetype(17), qsizetype(4096), gz.size()}) {
            GzipCodec::Inflater inflater(data.size());
            QByteArray out;
            for (qsizetype pos = 0; pos < gz.size(); pos += piece)
                QVERIFY2(inflater.feed(QByteArrayView(gz).sliced(pos, std::min(piece, gz.size() - pos)), &out),
                         qPrintable(inflater.error()));
            QVERIFY2(inflater.finish(), qPrintable(inflater.error()));
            QCOMPARE(out.size(), data.size());
            QVERIFY(out == data);
            QCOMPARE(inflater.bytesIn(), gz.size());
        }
    }

    void aPieceByPieceBombStopsAtTheLimit()
    {
        const QByteArray bomb = GzipCodec::compress(QByteArray(64 * 1024 * 1024, ' '));
        GzipCodec::Inflater inflater(1024 * 1024);
        QByteArray out;
        bool ok = true;
        qsizetype fed = 0;
        for (; ok && fed < bomb.size(); fed += 1024)
            ok = inflater.feed(QByteArrayView(bomb).sliced(fed, std::min<qsizetype>(1024, bomb.size() - fed)), &out);
        QVERIFY(!ok);
        QVERIFY2(inflater.error().contains(QStringLiteral("past the limit")), qPrintable(inflater.error()));
        QVERIFY(fed < bomb.size() / 4);       // it stopped early in the input...
        QVERIFY(out.size() < 2 * 1024 * 1024); // ...having held little more than the limit
    }

    void aTruncatedStreamIsNotWhole()
    {
        const QByteArray gz = GzipCodec::compress(QByteArray("hello, world"));
        GzipCodec::Inflater inflater(1024);
        QByteArray out;
        QVERIFY(inflater.feed(QByteArrayView(gz).first(gz.size() - 3), &out));
        QVERIFY(!inflater.finish());
        QVERIFY2(inflater.error().contains(QStringLiteral("truncated")), qPrintable(inflater.error()));
    }
};

QTEST_GUILESS_MAIN(tst_GzipCodec)
#include "tst_gzipcodec.moc"
