// InputScanner, the first pass of a submission: formats, pieces of any
// size, every error path, deduplication, the report and the chunk cuts.
#include "gzipcodec.h"
#include "inputscanner.h"

#include <QBuffer>
#include <QCryptographicHash>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

using namespace membatch;

namespace {

// Hands out at most a few bytes a read, as a slow pipe would.
class TrickleDevice : public QIODevice
{
public:
    TrickleDevice(QByteArray data, qint64 step)
        : m_data(std::move(data))
        , m_step(step)
    {
        open(QIODevice::ReadOnly);
    }
    bool isSequential() const override { return true; }
    bool atEnd() const override { return m_pos >= m_data.size() && QIODevice::atEnd(); }

protected:
    qint64 readData(char *data, qint64 max) override
    {
        const qint64 n = std::min({max, m_step, qint64(m_data.size()) - m_pos});
        memcpy(data, m_data.constData() + m_pos, size_t(n));
        m_pos += n;
        return n;
    }
    qint64 writeData(const char *, qint64) override { return -1; }

private:
    QByteArray m_data;
    qint64 m_step;
    qint64 m_pos = 0;
};

struct Scanned
{
    InputScanner::Result result;
    QByteArray spool;
};

Scanned scan(QIODevice *input, const InputScanner::Options &options = {})
{
    QBuffer spool;
    spool.open(QIODevice::WriteOnly);
    Scanned s{InputScanner::scan(input, QStringLiteral("in"), options, &spool), spool.data()};
    return s;
}

Scanned scan(const QByteArray &text, const InputScanner::Options &options = {})
{
    QBuffer input;
    input.setData(text);
    input.open(QIODevice::ReadOnly);
    return scan(&input, options);
}

// count memories as JSON lines: "memory 0", "memory 1" ...
QByteArray numberedLines(int count)
{
    QByteArray text;
    for (int i = 0; i < count; ++i)
        text += "{\"content\":\"memory " + QByteArray::number(i) + "\"}\n";
    return text;
}

QByteArray hashOf(const char *content)
{
    return QCryptographicHash::hash(content, QCryptographicHash::Sha256);
}

} // namespace

class tst_InputScanner : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void everyFormatGivesTheSameSpool_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<qint64>("step");
        const QByteArray lines = "{\"content\":\"one\"}\n\n{ \"content\" : \"two\", \"tags\":[\"t\"] }\r\n{\"content\":\"three\"}";
        const QByteArray array = "[\n  {\"content\":\"one\"},\n  {\"content\":\"two\",\"tags\":[\"t\"]},\n  {\"content\":\"three\"}\n]\n";
        QTest::newRow("lines") << lines << qint64(1 << 20);
        QTest::newRow("array") << array << qint64(1 << 20);
        QTest::newRow("lines, a byte at a time") << lines << qint64(1);
        QTest::newRow("array, a byte at a time") << array << qint64(1);
        QTest::newRow("array with a BOM, 2 bytes at a time") << QByteArray("\xEF\xBB\xBF") + array << qint64(2);
        QTest::newRow("lines with a BOM") << QByteArray("\xEF\xBB\xBF") + lines << qint64(1);
        QTest::newRow("gzipped lines") << GzipCodec::compress(lines) << qint64(1 << 20);
        QTest::newRow("gzipped array, 3 bytes at a time") << GzipCodec::compress(array) << qint64(3);
        QTest::newRow("two gzip members") << GzipCodec::compress(array.left(30)) + GzipCodec::compress(array.mid(30)) << qint64(7);
    }

    void everyFormatGivesTheSameSpool()
    {
        QFETCH(QByteArray, text);
        QFETCH(qint64, step);
        TrickleDevice input(text, step);
        const Scanned s = scan(&input);
        QVERIFY2(s.result.error.isEmpty(), qPrintable(s.result.error));
        const QByteArray expected = "{\"content\":\"one\"}\n{\"content\":\"two\",\"tags\":[\"t\"]}\n{\"content\":\"three\"}\n";
        QCOMPARE(s.spool, expected);
        QCOMPARE(s.result.items, 3);
        QCOMPARE(s.result.kept, 3);
        QCOMPARE(s.result.inputSha256, QCryptographicHash::hash(expected, QCryptographicHash::Sha256));
        QCOMPARE(s.result.chunks.size(), 1);
        QCOMPARE(s.result.chunks.first().length, expected.size());
        QCOMPARE(s.result.jsonBytes, expected.size() + 1);
    }

    void errorsNameTheLineOrItem_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("error");
        QTest::newRow("empty") << QByteArray() << QStringLiteral("in: the batch is empty");
        QTest::newRow("blank") << QByteArray(" \n\n ") << QStringLiteral("in: the batch is empty");
        QTest::newRow("empty array") << QByteArray("[ ]") << QStringLiteral("in: the batch is empty");
        QTest::newRow("bad line") << QByteArray("{\"content\":\"a\"}\n{\"content\":1}\n") << QStringLiteral("in:2: 'content' must be a non-empty string");
        QTest::newRow("bad JSON line") << QByteArray("{\"content\":\"a\"}\n\n{\"content\":\"b\"\n") << QStringLiteral("in:3: invalid JSON: expected ',' or '}'");
        QTest::newRow("bad item") << QByteArray("[{\"content\":\"a\"},{\"content\":\"b\",\"x\":1}]") << QStringLiteral("in: item 2: unknown field 'x'");
        QTest::newRow("array not closed") << QByteArray("[{\"content\":\"a\"}") << QStringLiteral("in: ");
        QTest::newRow("array syntax") << QByteArray("[{\"content\":\"a\"} {\"content\":\"b\"}]") << QStringLiteral("in: ");
        QTest::newRow("text after the array") << QByteArray("[{\"content\":\"a\"}] x") << QStringLiteral("in: ");
        QTest::newRow("truncated gzip") << GzipCodec::compress("[{\"content\":\"a\"}]").chopped(4) << QStringLiteral("in: ");
        QTest::newRow("corrupt gzip") << QByteArray("\x1f\x8b\x08\x00garbage that is not deflate") << QStringLiteral("in: ");
        QTest::newRow("duplicate customId") << QByteArray("{\"content\":\"a\",\"customId\":\"x\"}\n{\"content\":\"b\",\"customId\":\"x\"}")
                                            << QStringLiteral("in:2: customId 'x' is item 1's already");
    }

    void errorsNameTheLineOrItem()
    {
        QFETCH(QByteArray, text);
        QFETCH(QString, error);
        const Scanned s = scan(text);
        QVERIFY2(s.result.error.startsWith(error), qPrintable(s.result.error));
        QVERIFY(!s.result.error.isEmpty());
    }

    // Strict: nothing is kept once an item is invalid, and every one is
    // counted; the first ten are named.
    void strictCountsEveryInvalidItem()
    {
        QByteArray text;
        for (int i = 0; i < 30; ++i)
            text += i % 2 ? "{\"content\":\"ok\"}\n" : "{\"content\":\"\"}\n";
        const Scanned s = scan(text + "{\"content\":\"last\"}\n");
        QCOMPARE(s.result.invalid, 15);
        QVERIFY2(!s.result.error.contains(QStringLiteral("in:21:")), qPrintable(s.result.error)); // the eleventh
        QVERIFY2(s.result.error.contains(QStringLiteral("in:19: 'content' must be a non-empty string")), qPrintable(s.result.error));
        QVERIFY2(s.result.error.contains(QStringLiteral("... and 5 more invalid items")), qPrintable(s.result.error));
        QVERIFY2(s.result.error.contains(QStringLiteral("nothing was sent (15 of 31 items are invalid")), qPrintable(s.result.error));
    }

    void skipInvalidReportsEachItemLeftOut()
    {
        QTemporaryDir dir;
        InputScanner::Options options;
        options.skipInvalid = true;
        options.reportPath = dir.filePath(QStringLiteral("report.jsonl"));
        const Scanned s = scan(QByteArray("{\"content\":\"Hello  world\",\"customId\":\"a\"}\nnope\n{\"content\":\" hello world\"}\n"
                                          "{\"content\":\"hello world \",\"customId\":\"c\"}\n{\"content\":\"Hello world\",\"metadata\":{\"m\":1}}\n"),
                               options);
        QVERIFY2(s.result.error.isEmpty(), qPrintable(s.result.error));
        QCOMPARE(s.result.items, 5);
        QCOMPARE(s.result.invalid, 1);
        QCOMPARE(s.result.duplicates, 2); // whitespace is normalised; case is not
        QCOMPARE(s.result.kept, 2);
        QFile report(options.reportPath);
        QVERIFY(report.open(QIODevice::ReadOnly));
        const QList<QByteArray> lines = report.readAll().trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        const QJsonObject invalid = QJsonDocument::fromJson(lines.at(0)).object();
        QCOMPARE(invalid.value(QStringLiteral("kind")).toString(), QStringLiteral("invalid"));
        QCOMPARE(invalid.value(QStringLiteral("index")).toInt(), 1);
        QCOMPARE(invalid.value(QStringLiteral("line")).toInt(), 2);
        QVERIFY(invalid.value(QStringLiteral("reason")).toString().contains(QStringLiteral("invalid JSON: not a JSON value")));
        const QJsonObject dup = QJsonDocument::fromJson(lines.at(2)).object();
        QCOMPARE(dup.value(QStringLiteral("kind")).toString(), QStringLiteral("duplicate"));
        QCOMPARE(dup.value(QStringLiteral("index")).toInt(), 4);
        QCOMPARE(dup.value(QStringLiteral("duplicateOf")).toInt(), 0);
        QCOMPARE(QJsonDocument::fromJson(lines.at(1)).object().value(QStringLiteral("customId")).toString(), QStringLiteral("c"));

        options.reportPath.clear();
        options.dedup = SubmitOptions::Dedup::ContentAndMetadata;
        QCOMPARE(scan(QByteArray("{\"content\":\"x\"}\n{\"content\":\"x\",\"metadata\":{\"m\":1}}\n{\"content\":\"x\",\"metadata\":{}}\n"), options)
                     .result.duplicates,
                 1);
        options.dedup = SubmitOptions::Dedup::Off;
        QCOMPARE(scan(QByteArray("{\"content\":\"x\"}\n{\"content\":\"x\"}\n"), options).result.kept, 2);
    }

    void cutsChunksByCountAndBytes()
    {
        const QByteArray text = numberedLines(25);
        InputScanner::Options options;
        options.chunkItems = 10;
        Scanned s = scan(text, options);
        QCOMPARE(s.result.chunks.size(), 3);
        QCOMPARE(s.result.chunks.at(0).count, 10);
        QCOMPARE(s.result.chunks.at(2).count, 5);
        qint64 offset = 0;
        for (const InputScanner::ChunkSpan &c : std::as_const(s.result.chunks)) {
            QCOMPARE(c.offset, offset);
            QCOMPARE(s.spool.mid(c.offset, c.length).count('\n'), c.count);
            offset += c.length;
        }
        QCOMPARE(offset, s.spool.size());

        // Each line is about 24 bytes: twenty fit 512 bytes as an array.
        options.chunkItems = 1000;
        options.chunkBytes = 512;
        s = scan(text, options);
        for (const InputScanner::ChunkSpan &c : std::as_const(s.result.chunks)) {
            QVERIFY(c.jsonBytes() <= 512);
            QVERIFY(c.offset + c.length == s.spool.size() || c.jsonBytes() + 26 > 512); // the next would not fit
        }
        QCOMPARE(s.result.chunks.size(), 2);
    }

    // With a compression level, the first chunks come gzipped: each the
    // JSON array of its spool lines, as many as the budget takes (a prefix),
    // and none when nothing will be sent.
    void cutChunksAreGzippedWhileReading()
    {
        const QByteArray text = numberedLines(25);
        InputScanner::Options options;
        options.chunkItems = 10;
        options.compressionLevel = 7;
        Scanned s = scan(text, options);
        QCOMPARE(s.result.chunks.size(), 3);
        QCOMPARE(s.result.encoded.size(), 3);
        for (int k = 0; k < 3; ++k) {
            const InputScanner::ChunkSpan &c = s.result.chunks.at(k);
            QByteArray json;
            QString error;
            QVERIFY2(GzipCodec::decompress(s.result.encoded.at(k), &json, &error), qPrintable(error));
            QCOMPARE(json, '[' + s.spool.mid(c.offset, c.length).chopped(1).replace('\n', ',') + ']');
            QCOMPARE(qint64(json.size()), c.jsonBytes());
            // The same from the spool, as the chunks past the budget are.
            QByteArray again;
            QVERIFY(GzipCodec::decompress(InputScanner::encodeChunk('[' + s.spool.mid(c.offset, c.length), 1), &again, &error));
            QCOMPARE(again, json);
        }

        // Many chunks: more are cut than may be gzipped at once (the scan
        // waits for one, or gzips it itself), and each is still its own.
        options.chunkItems = 3;
        s = scan(numberedLines(600), options);
        QCOMPARE(s.result.encoded.size(), 200);
        for (int k = 0; k < 200; ++k) {
            QByteArray json;
            QString error;
            QVERIFY2(GzipCodec::decompress(s.result.encoded.at(k), &json, &error), qPrintable(error));
            QCOMPARE(QJsonDocument::fromJson(json).array().at(0).toObject().value(QStringLiteral("content")).toString(),
                     QStringLiteral("memory %1").arg(k * 3));
        }
        options.chunkItems = 10;

        // A budget of one chunk's JSON: the first only.
        options.encodeAheadBytes = 1;
        QCOMPARE(scan(text, options).result.encoded.size(), 1);
        options.encodeAheadBytes = 0;
        QVERIFY(scan(text, options).result.encoded.isEmpty());
        options.encodeAheadBytes = 1 << 20;
        options.compressionLevel = 0;
        QVERIFY(scan(text, options).result.encoded.isEmpty());

        // An invalid item (strict): nothing is sent, nothing kept encoded.
        options.compressionLevel = 7;
        s = scan(text + "{\"content\":7}\n", options);
        QVERIFY(!s.result.error.isEmpty());
        QVERIFY(s.result.encoded.isEmpty());
        // Left out (--skip-invalid): the chunks of the rest.
        options.skipInvalid = true;
        s = scan("{\"content\":7}\n" + text, options);
        QCOMPARE(s.result.invalid, 1);
        QCOMPARE(s.result.encoded.size(), 3);
    }

    void theDigestIsOfTheNormalisedContent()
    {
        QCOMPARE(InputScanner::contentDigest(QStringLiteral("  one \t two\n"), {}, SubmitOptions::Dedup::Content), hashOf("one two"));
        // NFC: e + combining acute is the precomposed \u00e9.
        QCOMPARE(InputScanner::contentDigest(QStringLiteral("caf") + QChar(u'e') + QChar(0x301), {}, SubmitOptions::Dedup::Content),
                 hashOf("caf\xc3\xa9"));
        QVERIFY(InputScanner::contentDigest(QStringLiteral("x"), {{QStringLiteral("m"), 1}}, SubmitOptions::Dedup::ContentAndMetadata)
                != InputScanner::contentDigest(QStringLiteral("x"), {}, SubmitOptions::Dedup::ContentAndMetadata));
    }

    // The one-pass ASCII way gives what the general one does, byte for
    // byte: whitespace of every kind, at the ends and in runs, and text
    // past ASCII (which takes the general way).
    void theNormalisedContentIsNfcSimplified_data()
    {
        QTest::addColumn<QString>("content");
        QTest::newRow("empty") << QString();
        QTest::newRow("only whitespace") << QStringLiteral(" \t\n\v\f\r ");
        QTest::newRow("plain") << QStringLiteral("one two");
        QTest::newRow("ends and runs") << QStringLiteral("\r\n one\t\t two \v\fthree\n");
        QTest::newRow("one letter") << QStringLiteral("x");
        QTest::newRow("controls that are no space") << QStringLiteral("a\x1f b\x08");
        QTest::newRow("no-break space") << (QStringLiteral("a") + QChar(0xa0) + QStringLiteral(" b "));
        QTest::newRow("next line") << (QStringLiteral(" a") + QChar(0x85) + QStringLiteral("b"));
        QTest::newRow("decomposed") << (QStringLiteral("  cafe") + QChar(0x301) + QStringLiteral("  au lait "));
        QTest::newRow("ideographic space") << (QStringLiteral("a") + QChar(0x3000) + QStringLiteral("b"));
        // Every ASCII character once, in runs with whitespace between.
        QString all;
        for (char16_t u = 1; u < 0x80; ++u)
            all += QChar(u) + QString(u % 3, QLatin1Char(' ')) + QChar(u % 5 == 0 ? u'\t' : u'x');
        QTest::newRow("all of ASCII") << all;
    }

    void theNormalisedContentIsNfcSimplified()
    {
        QFETCH(QString, content);
        QCOMPARE(InputScanner::normalisedContent(content), content.normalized(QString::NormalizationForm_C).simplified().toUtf8());
    }

    void stopsWhenAsked()
    {
        QBuffer spool;
        spool.open(QIODevice::WriteOnly);
        QBuffer input;
        input.setData(QByteArray("{\"content\":\"a\"}\n").repeated(1000));
        input.open(QIODevice::ReadOnly);
        const InputScanner::Result r = InputScanner::scan(&input, QStringLiteral("in"), {}, &spool, [](qint64) { return false; });
        QVERIFY(r.canceled);
        QVERIFY(!r.error.isEmpty());
    }
};

QTEST_GUILESS_MAIN(tst_InputScanner)
#include "tst_inputscanner.moc"
