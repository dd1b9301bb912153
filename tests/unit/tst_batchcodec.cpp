#include "batchcodec.h"
#include "gzipcodec.h"

#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

using namespace membatch;

class tst_BatchCodec : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void encodeDecodeRoundTrip()
    {
        QList<MemoryItem> items;
        for (int i = 0; i < 500; ++i) {
            MemoryItem item;
            item.content = QStringLiteral("memory %1 — ünïcode").arg(i);
            if (i % 2)
                item.tags = {QStringLiteral("odd")};
            if (i % 3 == 0)
                item.metadata = {{QStringLiteral("i"), i}};
            if (i % 5 == 0)
                item.embedding = {0.25, -1.5, double(i)};
            items.append(item);
        }
        // As submit writes a chunk: the items' JSON in an array, gzipped by libdeflate.
        QByteArray array = "[";
        for (const MemoryItem &item : std::as_const(items))
            array += QJsonDocument(item.toJson()).toJson(QJsonDocument::Compact) + ',';
        array.back() = ']';
        struct
        {
            QByteArray gzip;
            qint64 rawBytes;
        } encoded{GzipCodec::compressBuffer(array, 6), array.size()};
        QVERIFY(encoded.gzip.size() < encoded.rawBytes / 4);

        const BatchCodec::Decoded decoded = BatchCodec::decode(encoded.gzip);
        QVERIFY2(decoded.error.isEmpty(), qPrintable(decoded.error));
        QCOMPARE(decoded.items.size(), 500);
        // A limit of exactly its size is enough; a byte less is not.
        QVERIFY(BatchCodec::decode(encoded.gzip, encoded.rawBytes).error.isEmpty());
        QVERIFY(BatchCodec::decode(encoded.gzip, encoded.rawBytes - 1).error.contains(QStringLiteral("inflates past")));
        for (int i = 0; i < 500; ++i) {
            MemoryItem back;
            QString error;
            QVERIFY2(MemoryItem::fromJson(decoded.items.at(i).toObject(), &back, &error), qPrintable(error));
            QCOMPARE(back, items.at(i));
        }

        // What the worker reads is plain gzip of a JSON array: the gzip tool agrees.
        QProcess gzip;
        gzip.start(QStringLiteral("gzip"), {QStringLiteral("-dc")});
        QVERIFY(gzip.waitForStarted());
        gzip.write(encoded.gzip);
        gzip.closeWriteChannel();
        QVERIFY(gzip.waitForFinished());
        const QByteArray json = gzip.readAllStandardOutput();
        QCOMPARE(json.size(), encoded.rawBytes);
        QVERIFY(QJsonDocument::fromJson(json).isArray());
    }

    void decodeRefusesNonArrays_data()
    {
        QTest::addColumn<QByteArray>("gzip");
        QTest::addColumn<QString>("expected");
        QTest::newRow("object") << GzipCodec::compress("{\"content\":\"a\"}") << QStringLiteral("not a JSON array");
        QTest::newRow("broken json") << GzipCodec::compress("[{\"content\":") << QStringLiteral("not valid JSON");
        QTest::newRow("not gzip") << QByteArray("[{\"content\":\"a\"}] padding padding") << QStringLiteral("not gzip");
    }

    void decodeRefusesNonArrays()
    {
        QFETCH(QByteArray, gzip);
        QFETCH(QString, expected);
        const BatchCodec::Decoded decoded = BatchCodec::decode(gzip);
        QVERIFY2(decoded.error.contains(expected), qPrintable(decoded.error));
        QVERIFY(decoded.items.isEmpty());
    }
};

QTEST_GUILESS_MAIN(tst_BatchCodec)
#include "tst_batchcodec.moc"
