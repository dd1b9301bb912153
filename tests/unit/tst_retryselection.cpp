// Which items retry-failed sends again, and the identity that makes asking
// twice give one retry.
#include "retryselection.h"

#include <QTest>

using namespace membatch;
using Indices = QList<qint64>;

class tst_RetrySelection : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void select_data()
    {
        QTest::addColumn<qint64>("total");
        QTest::addColumn<qint64>("processed");
        QTest::addColumn<Indices>("failed");
        QTest::addColumn<Indices>("storedBeyond");
        QTest::addColumn<Indices>("expected");
        QTest::newRow("completed") << 5LL << 5LL << Indices{} << Indices{} << Indices{};
        QTest::newRow("partial failure") << 5LL << 5LL << Indices{3, 1} << Indices{} << Indices{1, 3};
        QTest::newRow("a failure told twice") << 5LL << 5LL << Indices{1, 1} << Indices{} << Indices{1};
        QTest::newRow("failed before the first item") << 3LL << 0LL << Indices{} << Indices{} << Indices{0, 1, 2};
        QTest::newRow("canceled half way") << 6LL << 3LL << Indices{2} << Indices{} << Indices{2, 3, 4, 5};
        QTest::newRow("stored after its count") << 6LL << 3LL << Indices{} << Indices{3, 4} << Indices{5};
        // Results of items the counts do not cover, or outside the request,
        // are not the request's to retry (a page written again, a forgery).
        QTest::newRow("results outside the request") << 4LL << 2LL << Indices{-1, 1, 3, 9} << Indices{} << Indices{1, 2, 3};
        QTest::newRow("counts past the total") << 2LL << 7LL << Indices{1} << Indices{} << Indices{1};
        QTest::newRow("no items") << 0LL << 0LL << Indices{} << Indices{} << Indices{};
    }
    void select()
    {
        QFETCH(qint64, total);
        QFETCH(qint64, processed);
        QFETCH(Indices, failed);
        QFETCH(Indices, storedBeyond);
        QFETCH(Indices, expected);
        const QSet<qint64> stored(storedBeyond.cbegin(), storedBeyond.cend());
        QCOMPARE(RetrySelection::select(total, processed, failed, stored), expected);
    }

    void keyFollowsTheBatchAndItsFailures()
    {
        using Chunks = QList<RetrySelection::Chunk>;
        const Chunks two{{QStringLiteral("p-001"), {1, 4}}, {QStringLiteral("p-002"), {0}}};
        const QString key = RetrySelection::idempotencyKey(QStringLiteral("p"), two);
        QVERIFY(key.startsWith(QStringLiteral("retry:p:")));
        QVERIFY(key.size() <= 256);
        // The same again: the same key (one retry).
        QCOMPARE(RetrySelection::idempotencyKey(QStringLiteral("p"), two), key);
        // A chunk with nothing to retry does not change it.
        QCOMPARE(RetrySelection::idempotencyKey(QStringLiteral("p"), two + Chunks{{QStringLiteral("p-003"), {}}}), key);
        // Other items, another chunk, another batch: another retry.
        QVERIFY(RetrySelection::idempotencyKey(QStringLiteral("p"), {{QStringLiteral("p-001"), {1}}, {QStringLiteral("p-002"), {0}}}) != key);
        QVERIFY(RetrySelection::idempotencyKey(QStringLiteral("p"), {{QStringLiteral("p-001"), {1, 4}}, {QStringLiteral("p-003"), {0}}}) != key);
        QVERIFY(RetrySelection::idempotencyKey(QStringLiteral("q"), two) != key);
        // Where one chunk's items end and the next's begin is part of it.
        QVERIFY(RetrySelection::idempotencyKey(QStringLiteral("p"), {{QStringLiteral("p-001"), {1}}, {QStringLiteral("p-002"), {4, 0}}}) != key);
        QCOMPARE(RetrySelection::itemCount(two), 3);
    }
};

QTEST_GUILESS_MAIN(tst_RetrySelection)
#include "tst_retryselection.moc"
