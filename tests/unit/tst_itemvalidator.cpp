// ItemValidator: everything QJsonDocument lets through and Parse would then
// refuse or silently change is refused here, naming the field.
#include "itemvalidator.h"

#include <QTest>

using namespace membatch;

class tst_ItemValidator : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void checks_data()
    {
        QTest::addColumn<QByteArray>("text");
        QTest::addColumn<QString>("error"); // a part of it; empty: valid

        QTest::newRow("plain") << QByteArray("{\"content\":\"a\"}") << QString();
        QTest::newRow("every field") << QByteArray("{\"content\":\"a\",\"metadata\":{\"k\":[1,2.5,true,null]},\"embedding\":[0.1,-2e-3],"
                                                   "\"source\":\"s\",\"tags\":[\"t\"],\"customId\":\"c1\"}")
                                     << QString();
        QTest::newRow("raw NUL") << QByteArray("{\"content\":\"a\0b\"}", 17) << QStringLiteral("content: a string holds a NUL character");
        QTest::newRow("escaped NUL") << QByteArray("{\"content\":\"a\\u0000b\"}") << QStringLiteral("content: a string holds \\u0000 (NUL)");
        QTest::newRow("NUL in a metadata key") << QByteArray("{\"content\":\"a\",\"metadata\":{\"k\\u0000\":1}}") << QStringLiteral("metadata: a string holds \\u0000");
        QTest::newRow("lone high surrogate") << QByteArray("{\"content\":\"a\\ud800b\"}") << QStringLiteral("lone high surrogate \\ud800");
        QTest::newRow("high surrogate at the end") << QByteArray("{\"content\":\"a\\uD83D\"}") << QStringLiteral("lone high surrogate");
        QTest::newRow("lone low surrogate") << QByteArray("{\"content\":\"\\udc00\"}") << QStringLiteral("lone low surrogate \\udc00");
        QTest::newRow("surrogate pair") << QByteArray("{\"content\":\"\\ud83d\\ude00\"}") << QString();
        QTest::newRow("invalid UTF-8") << QByteArray("{\"content\":\"a\xff\"}") << QStringLiteral("content: a string is not valid UTF-8");
        QTest::newRow("overlong UTF-8") << QByteArray("{\"content\":\"\xc0\xaf\"}") << QStringLiteral("not valid UTF-8");
        QTest::newRow("UTF-8 surrogate") << QByteArray("{\"content\":\"\xed\xa0\x80\"}") << QStringLiteral("not valid UTF-8");
        QTest::newRow("truncated UTF-8") << QByteArray("{\"content\":\"\xe2\x82\"}") << QStringLiteral("not valid UTF-8");
        QTest::newRow("4-byte UTF-8") << QByteArray("{\"content\":\"\xf0\x9f\x98\x80\"}") << QString();
        QTest::newRow("duplicate key") << QByteArray("{\"content\":\"a\",\"content\":\"b\"}") << QStringLiteral("the key 'content' appears twice");
        QTest::newRow("duplicate key, escaped") << QByteArray("{\"content\":\"a\",\"metadata\":{\"k\":1,\"\\u006b\":2}}")
                                                << QStringLiteral("metadata: the key 'k' appears twice");
        QTest::newRow("2^53") << QByteArray("{\"content\":\"a\",\"metadata\":{\"n\":9007199254740992}}") << QString();
        QTest::newRow("2^53 + 1") << QByteArray("{\"content\":\"a\",\"metadata\":{\"n\":9007199254740993}}")
                                  << QStringLiteral("metadata.n: the integer 9007199254740993 is beyond 2^53");
        QTest::newRow("-(2^53 + 1)") << QByteArray("{\"content\":\"a\",\"metadata\":{\"n\":[1,-9007199254740993]}}")
                                     << QStringLiteral("metadata.n[1]: the integer -9007199254740993");
        QTest::newRow("20 digits") << QByteArray("{\"content\":\"a\",\"metadata\":{\"n\":12345678901234567890}}") << QStringLiteral("beyond 2^53");
        QTest::newRow("a float is a float") << QByteArray("{\"content\":\"a\",\"metadata\":{\"n\":12345678901234567890.5}}") << QString();
        QTest::newRow("infinite") << QByteArray("{\"content\":\"a\",\"embedding\":[1e400]}") << QStringLiteral("embedding[0]: the number 1e400 is too large");
        QTest::newRow("$ key") << QByteArray("{\"content\":\"a\",\"metadata\":{\"$gt\":1}}") << QStringLiteral("metadata: the key '$gt' starts with '$'");
        QTest::newRow("dotted key") << QByteArray("{\"content\":\"a\",\"metadata\":{\"x\":{\"a.b\":1}}}") << QStringLiteral("metadata.x: the key 'a.b' holds a '.'");
        QTest::newRow("__type") << QByteArray("{\"content\":\"a\",\"metadata\":{\"f\":{\"__type\":\"File\",\"name\":\"x\"}}}")
                                << QStringLiteral("metadata.f: the key '__type' is Parse's own");
        QTest::newRow("__op") << QByteArray("{\"content\":\"a\",\"metadata\":{\"__op\":\"Delete\"}}") << QStringLiteral("the key '__op' is Parse's own");
        QTest::newRow("__op in an array") << QByteArray("{\"content\":\"a\",\"metadata\":{\"l\":[{\"__op\":\"Delete\"}]}}") << QStringLiteral("metadata.l[0]: the key '__op'");
        QTest::newRow("$ in a tag is text") << QByteArray("{\"content\":\"a\",\"tags\":[\"$x.y\"]}") << QString();
        QTest::newRow("__op as a field") << QByteArray("{\"content\":\"a\",\"__op\":\"Delete\"}") << QStringLiteral("unknown field '__op'");
        QTest::newRow("contentHash") << QByteArray("{\"content\":\"a\",\"contentHash\":\"00\"}") << QStringLiteral("'contentHash' is written by membatch");
        QTest::newRow("trailing text") << QByteArray("{\"content\":\"a\"} x") << QStringLiteral("unexpected text after the value");
        QTest::newRow("unclosed string") << QByteArray("{\"content\":\"a}") << QStringLiteral("a string is not closed");
        QTest::newRow("bad escape") << QByteArray("{\"content\":\"\\x\"}") << QStringLiteral("'\\x' is not a JSON escape");
        QTest::newRow("single quotes") << QByteArray("{'content':'a'}") << QStringLiteral("expected a key in double quotes");
        QTest::newRow("trailing comma") << QByteArray("{\"content\":\"a\",}") << QStringLiteral("expected a key");
        QTest::newRow("leading zero") << QByteArray("{\"content\":\"a\",\"metadata\":{\"n\":01}}") << QStringLiteral("expected ',' or '}'");
        QTest::newRow("NaN") << QByteArray("{\"content\":\"a\",\"metadata\":{\"n\":NaN}}") << QStringLiteral("'N' cannot begin a value");
        QTest::newRow("not an object") << QByteArray("[1]") << QStringLiteral("not a JSON object");
        QTest::newRow("deep") << QByteArray("{\"content\":\"a\",\"metadata\":") + QByteArray(40, '[') + QByteArray(40, ']') + "}"
                              << QStringLiteral("nested deeper than");
        QTest::newRow("too many tags") << QByteArray("{\"content\":\"a\",\"tags\":[") + QByteArray("\"t\",").repeated(100) + "\"t\"]}"
                                       << QStringLiteral("'tags' has 101 tags, more than the 100");
        QTest::newRow("empty tag") << QByteArray("{\"content\":\"a\",\"tags\":[\"\"]}") << QStringLiteral("'tags' element 0 must be 1 to 256");
    }

    void checks()
    {
        QFETCH(QByteArray, text);
        QFETCH(QString, error);
        ItemValidator validator{ValidationLimits{}};
        ItemValidator::Checked checked;
        QString why;
        const bool ok = validator.check(text, QStringLiteral("item 1"), &checked, &why);
        if (error.isEmpty()) {
            QVERIFY2(ok, qPrintable(why));
        } else {
            QVERIFY(!ok);
            QVERIFY2(why.contains(error), qPrintable(why));
        }
    }

    void compactsWithoutChangingAByte()
    {
        const QByteArray text = " { \"content\" : \"a  b\\n\" ,\r\n \"tags\" : [ \"x\" , \"y\" ] ,\"metadata\":{ \"k\" : { } } } ";
        ItemValidator validator{ValidationLimits{}};
        ItemValidator::Checked checked;
        QString why;
        QVERIFY2(validator.check(text, QStringLiteral("item 1"), &checked, &why), qPrintable(why));
        QCOMPARE(checked.compact, QByteArray("{\"content\":\"a  b\\n\",\"tags\":[\"x\",\"y\"],\"metadata\":{\"k\":{}}}"));
        QCOMPARE(checked.item.content, QStringLiteral("a  b\n"));
    }

    void embeddingsShareOneDimension()
    {
        ItemValidator validator{ValidationLimits{}};
        ItemValidator::Checked checked;
        QString why;
        QVERIFY(validator.check("{\"content\":\"a\"}", QStringLiteral("item 1"), &checked, &why));
        QVERIFY(validator.check("{\"content\":\"a\",\"embedding\":[1,2,3]}", QStringLiteral("line 2"), &checked, &why));
        QVERIFY(validator.check("{\"content\":\"b\",\"embedding\":[4,5,6]}", QStringLiteral("line 3"), &checked, &why));
        QVERIFY(!validator.check("{\"content\":\"c\",\"embedding\":[1,2]}", QStringLiteral("line 4"), &checked, &why));
        QVERIFY2(why.contains(QStringLiteral("'embedding' has 2 numbers, but line 2's has 3")), qPrintable(why));
    }

    void limitsAreConfigurable()
    {
        ValidationLimits limits;
        limits.maxContentBytes = 4;
        limits.maxItemBytes = 40;
        ItemValidator validator(limits);
        ItemValidator::Checked checked;
        QString why;
        QVERIFY(validator.check("{\"content\":\"abcd\"}", QStringLiteral("item 1"), &checked, &why));
        QVERIFY(!validator.check("{\"content\":\"abcde\"}", QStringLiteral("item 2"), &checked, &why));
        QVERIFY2(why.contains(QStringLiteral("'content' is 5 bytes, more than the 4 allowed")), qPrintable(why));
        QVERIFY(!validator.check("{\"content\":\"a\",\"source\":\"0123456789012345678901234\"}", QStringLiteral("item 3"), &checked, &why));
        QVERIFY2(why.contains(QStringLiteral("more than the 40 a memory may be")), qPrintable(why));

        // Content in UTF-8 bytes: e-acute is two, a clef (a surrogate pair) four.
        QVERIFY(validator.check("{\"content\":\"\\u00e9\\u00e9\"}", QStringLiteral("item 4"), &checked, &why));
        QVERIFY(!validator.check("{\"content\":\"a\\u00e9\\u00e9\"}", QStringLiteral("item 5"), &checked, &why));
        QVERIFY2(why.contains(QStringLiteral("'content' is 5 bytes")), qPrintable(why));
        QVERIFY(validator.check("{\"content\":\"\\ud834\\udd1e\"}", QStringLiteral("item 6"), &checked, &why));
        QVERIFY(!validator.check("{\"content\":\"a\\ud834\\udd1e\"}", QStringLiteral("item 7"), &checked, &why));
        QVERIFY2(why.contains(QStringLiteral("'content' is 5 bytes")), qPrintable(why));
    }

    // Metadata as it is sent, compact: {"k":"abcdefgh"} is 16 bytes, however
    // it was spaced; the whole value is measured, with its own keys.
    void theMetadataLimitIsOfItsCompactText()
    {
        ValidationLimits limits;
        limits.maxMetadataBytes = 16;
        ItemValidator validator(limits);
        ItemValidator::Checked checked;
        QString why;
        QVERIFY2(validator.check("{\"content\":\"a\",\"metadata\": { \"k\" : \"abcdefgh\" } }", QStringLiteral("item 1"), &checked, &why),
                 qPrintable(why));
        QVERIFY(!validator.check("{\"content\":\"a\",\"metadata\":{\"k\":\"abcdefghi\"}}", QStringLiteral("item 2"), &checked, &why));
        QVERIFY2(why.contains(QStringLiteral("'metadata' is 17 bytes of JSON, more than the 16 allowed")), qPrintable(why));
        QVERIFY2(validator.check("{\"content\":\"a\",\"metadata\":{\"metadata\":\"a\"}}", QStringLiteral("item 3"), &checked, &why),
                 qPrintable(why));
        QVERIFY(!validator.check("{\"content\":\"a\",\"metadata\":{\"metadata\":{\"x\":\"abcd\"}}}", QStringLiteral("item 4"), &checked,
                                 &why));
        QVERIFY2(why.contains(QStringLiteral("'metadata' is 25 bytes")), qPrintable(why));
    }
};

QTEST_GUILESS_MAIN(tst_ItemValidator)
#include "tst_itemvalidator.moc"
