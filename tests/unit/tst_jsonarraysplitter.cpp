// The splitter that lets the worker store a batch file's items while the
// rest is still downloading: the same elements however the text is cut,
// every syntax fault of the array itself found, and nothing held that is
// larger than its limit.

#include "jsonarraysplitter.h"

#include <QTest>

using namespace membatch;

namespace {

struct Split
{
    QList<QByteArray> texts;
    QList<qint64> sizes;
    bool ok = false;
    QString error;
};

// Feeds text in pieces of pieceSize bytes (0: whole).
Split split(const QByteArray &text, qsizetype pieceSize, qsizetype max = 1024)
{
    JsonArraySplitter splitter(max);
    QList<JsonArraySplitter::Element> elements;
    Split result;
    result.ok = true;
    const qsizetype step = pieceSize > 0 ? pieceSize : std::max<qsizetype>(text.size(), 1);
    for (qsizetype pos = 0; pos < text.size() && result.ok; pos += step)
        result.ok = splitter.feed(QByteArrayView(text).sliced(pos, std::min(step, text.size() - pos)), &elements);
    if (result.ok)
        result.ok = splitter.finish();
    result.error = splitter.error();
    for (const auto &e : std::as_const(elements)) {
        result.texts << e.text;
        result.sizes << e.bytes;
    }
    return result;
}

} // namespace

class tst_JsonArraySplitter : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void elements_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QList<QByteArray>>("expected");
        QTest::newRow("empty array") << QByteArray(" [ ] \n") << QList<QByteArray>{};
        QTest::newRow("objects") << QByteArray("[{\"a\":1},{\"b\":[1,2,{\"c\":\"}\"}]}]")
                                 << QList<QByteArray>{"{\"a\":1}", "{\"b\":[1,2,{\"c\":\"}\"}]}"};
        QTest::newRow("brackets and quotes in strings")
            << QByteArray("[{\"s\":\"],[{\\\"}\"},{\"t\":\"\\\\\"}]")
            << QList<QByteArray>{"{\"s\":\"],[{\\\"}\"}", "{\"t\":\"\\\\\"}"};
        QTest::newRow("whitespace everywhere") << QByteArray("\n[\r\n\t{\"a\" : 1} ,\n {\"b\":2}\n]\n")
                                              << QList<QByteArray>{"{\"a\" : 1}", "{\"b\":2}"};
        QTest::newRow("scalars") << QByteArray("[1, -2.5e3 ,\"x\",true,null,[]]")
                                 << QList<QByteArray>{"1", "-2.5e3", "\"x\"", "true", "null", "[]"};
        QTest::newRow("byte order mark") << QByteArray("\xEF\xBB\xBF[{}]") << QList<QByteArray>{"{}"};
        QTest::newRow("utf-8") << QByteArray("[{\"c\":\"Grüße 🙂\"}]") << QList<QByteArray>{"{\"c\":\"Grüße 🙂\"}"};
        // Not JSON inside an element is the element's reader's to refuse.
        QTest::newRow("a bad element as it is") << QByteArray("[{\"a\":tru},{}]") << QList<QByteArray>{"{\"a\":tru}", "{}"};
    }

    void elements()
    {
        QFETCH(QByteArray, text);
        QFETCH(QList<QByteArray>, expected);
        for (qsizetype piece : {qsizetype(0), qsizetype(1), qsizetype(2), qsizetype(3), qsizetype(7)}) {
            const Split s = split(text, piece);
            QVERIFY2(s.ok, qPrintable(QStringLiteral("pieces of %1: %2").arg(piece).arg(s.error)));
            QCOMPARE(s.texts, expected);
            for (qsizetype i = 0; i < expected.size(); ++i)
                QCOMPARE(s.sizes.at(i), qint64(expected.at(i).size()));
        }
    }

    void faults_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("expected");
        QTest::newRow("nothing") << QByteArray("  \n") << QStringLiteral("empty");
        QTest::newRow("an object, not an array") << QByteArray("{\"a\":1}") << QStringLiteral("expected a JSON array, found '{' (at byte 0)");
        QTest::newRow("not closed") << QByteArray("[{\"a\":1},{\"b\":") << QStringLiteral("no closing ']'");
        QTest::newRow("cut in a string") << QByteArray("[{\"a\":\"x") << QStringLiteral("no closing ']'");
        QTest::newRow("trailing comma") << QByteArray("[{},]") << QStringLiteral("a comma before the closing ']' (at byte 4)");
        QTest::newRow("leading comma") << QByteArray("[,{}]") << QStringLiteral("an element is missing before ','");
        QTest::newRow("missing comma") << QByteArray("[{} {}]") << QStringLiteral("expected ',' or ']' after element 1, found '{' (at byte 4)");
        QTest::newRow("text after") << QByteArray("[{}] []") << QStringLiteral("more after the array's closing ']' (at byte 5)");
        QTest::newRow("unmatched brace") << QByteArray("[1}]") << QStringLiteral("an unmatched '}'");
    }

    void faults()
    {
        QFETCH(QByteArray, text);
        QFETCH(QString, expected);
        for (qsizetype piece : {qsizetype(0), qsizetype(1)}) {
            const Split s = split(text, piece);
            QVERIFY(!s.ok);
            QVERIFY2(s.error.contains(expected), qPrintable(s.error));
        }
    }

    void aLongElementComesOutWithoutItsText()
    {
        const QByteArray big = "{\"c\":\"" + QByteArray(5000, 'x') + "\"}";
        const QByteArray text = "[{\"a\":1}," + big + ",{\"b\":2}]";
        for (qsizetype piece : {qsizetype(0), qsizetype(100), qsizetype(4096)}) {
            const Split s = split(text, piece, 1000);
            QVERIFY2(s.ok, qPrintable(s.error));
            QCOMPARE(s.texts, (QList<QByteArray>{"{\"a\":1}", QByteArray(), "{\"b\":2}"}));
            QCOMPARE(s.sizes.at(1), qint64(big.size()));
        }
    }

    void countsAndStopsAfterAFault()
    {
        JsonArraySplitter splitter(100);
        QList<JsonArraySplitter::Element> elements;
        QVERIFY(splitter.feed("[1,2", &elements));
        QCOMPARE(splitter.elementCount(), 1); // the 2 may go on: 23
        QVERIFY(!splitter.isComplete());
        QVERIFY(!splitter.feed("]]", &elements));
        QCOMPARE(elements.size(), 2);
        QVERIFY(!splitter.feed("", &elements)); // nothing more is taken
        QVERIFY(!splitter.finish());
    }
};

QTEST_GUILESS_MAIN(tst_JsonArraySplitter)
#include "tst_jsonarraysplitter.moc"
