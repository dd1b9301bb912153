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
    void readsGoodInput_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<int>("count");
        QTest::newRow("array") << QByteArray(R"([{"content":"a"},{"content":"b","tags":["x"]}])") << 2;
        QTest::newRow("array with whitespace and BOM") << QByteArray("\xEF\xBB\xBF \n [\n{\"content\":\"a\"}\n]\n") << 1;
        QTest::newRow("json lines") << QByteArray("{\"content\":\"a\"}\n\n{\"content\":\"b\"}\r\n{\"content\":\"c\"}") << 3;
        QTest::newRow("gzipped lines") << GzipCodec::compress("{\"content\":\"a\"}\n{\"content\":\"b\"}\n") << 2;
        QTest::newRow("all fields")
            << QByteArray(R"({"content":"c","metadata":{"k":1},"embedding":[0.5,1,-2],"source":"s","tags":["t"]})") << 1;
    }

    void readsGoodInput()
    {
        QFETCH(QByteArray, input);
        QFETCH(int, count);
        const BatchReadResult r = readBatch(input, QStringLiteral("in.json"));
        QVERIFY2(r.error.isEmpty(), qPrintable(r.error));
        QCOMPARE(r.items.size(), count);
    }

    void reportsWhereInputIsBad_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QString>("expected");
        QTest::newRow("empty file") << QByteArray() << QStringLiteral("in.json: the batch is empty");
        QTest::newRow("whitespace only") << QByteArray(" \n\n ") << QStringLiteral("in.json: the batch is empty");
        QTest::newRow("empty array") << QByteArray("[]") << QStringLiteral("in.json: the batch is empty");
        QTest::newRow("array syntax error on line 3")
            << QByteArray("[\n{\"content\":\"a\"},\n{\"content\": oops}\n]") << QStringLiteral("in.json:3:");
        QTest::newRow("json lines error on line 2")
            << QByteArray("{\"content\":\"a\"}\n{\"content\":\n{\"content\":\"c\"}") << QStringLiteral("in.json:2: invalid JSON");
        QTest::newRow("missing content") << QByteArray("{\"content\":\"a\"}\n{\"tags\":[]}") << QStringLiteral("in.json:2: 'content' must be a non-empty string");
        QTest::newRow("blank content") << QByteArray(R"([{"content":"  "}])") << QStringLiteral("in.json: item 1: 'content'");
        QTest::newRow("unknown field") << QByteArray(R"([{"content":"a"},{"contnet":"b"}])") << QStringLiteral("item 2: unknown field 'contnet'");
        QTest::newRow("not an object") << QByteArray(R"([{"content":"a"}, 5])") << QStringLiteral("item 2: not a JSON object");
        QTest::newRow("bad embedding") << QByteArray(R"([{"content":"a","embedding":[1,"x"]}])") << QStringLiteral("'embedding' element 1");
        QTest::newRow("bad tags") << QByteArray(R"([{"content":"a","tags":"x"}])") << QStringLiteral("'tags' must be an array");
        QTest::newRow("bad metadata") << QByteArray(R"([{"content":"a","metadata":[1]}])") << QStringLiteral("'metadata' must be an object");
        QTest::newRow("a bare number") << QByteArray("42") << QStringLiteral("in.json:1: invalid JSON");
        QTest::newRow("a line holding an array") << QByteArray("{\"content\":\"a\"}\n[1]") << QStringLiteral("in.json:2: not a JSON object");
        QByteArray lines;
        for (int i = 0; i < 1000; ++i)
            lines += "{\"content\":\"memory " + QByteArray::number(i * 7919) + "\"}\n";
        const QByteArray gz = GzipCodec::compress(lines);
        QTest::newRow("truncated gzip") << gz.left(gz.size() / 2) << QStringLiteral("in.json: gzip data is truncated");
    }

    void reportsWhereInputIsBad()
    {
        QFETCH(QByteArray, input);
        QFETCH(QString, expected);
        const BatchReadResult r = readBatch(input, QStringLiteral("in.json"));
        QVERIFY2(r.error.contains(expected), qPrintable(r.error));
    }

    void reportsManyErrorsBriefly()
    {
        QByteArray input;
        for (int i = 0; i < 50; ++i)
            input += "{\"nope\":1}\n";
        const BatchReadResult r = readBatch(input, QStringLiteral("in.jsonl"));
        QVERIFY(r.error.contains(QStringLiteral("in.jsonl:1:")));
        QVERIFY(r.error.contains(QStringLiteral("and 40 more invalid items")));
    }

    void refusesOversizeContent()
    {
        const QByteArray big(MemoryItem::MaxContentBytes + 1, 'x');
        const BatchReadResult r = readBatch("{\"content\":\"" + big + "\"}", QStringLiteral("big.jsonl"));
        QVERIFY2(r.error.contains(QStringLiteral("big.jsonl:1: 'content' is")), qPrintable(r.error));
    }

    void missingFile()
    {
        const BatchReadResult r = readBatchFile(QStringLiteral("/nonexistent/batch.json"));
        QVERIFY2(r.error.startsWith(QStringLiteral("/nonexistent/batch.json: cannot read")), qPrintable(r.error));
    }

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
        const BatchCodec::Encoded encoded = BatchCodec::encode(items, 6);
        QCOMPARE(encoded.count, 500);
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
