// ProgressEstimator with explicit timestamps: no clock is read.
#include "progressestimator.h"

#include <QTest>

using namespace membatch;

namespace {
const QDateTime T0 = QDateTime(QDate(2026, 12, 1), QTime(12, 0), Qt::UTC);
QDateTime at(qint64 ms)
{
    return T0.addMSecs(ms);
}
} // namespace

class tst_ProgressEstimator : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void rate_data()
    {
        QTest::addColumn<QList<qint64>>("times");
        QTest::addColumn<QList<qint64>>("counts");
        QTest::addColumn<qint64>("now");
        QTest::addColumn<double>("rate");

        QTest::newRow("nothing yet") << QList<qint64>{} << QList<qint64>{} << qint64(1000) << 0.0;
        QTest::newRow("one sample") << QList<qint64>{0} << QList<qint64>{10} << qint64(1000) << 0.0;
        QTest::newRow("steady 10/s") << QList<qint64>{0, 1000, 2000} << QList<qint64>{0, 10, 20} << qint64(2000) << 10.0;
        // Nothing moved for 2 s after the last count: the rate falls.
        QTest::newRow("decays when idle") << QList<qint64>{0, 2000} << QList<qint64>{0, 20} << qint64(4000) << 5.0;
        // The window (60 s) keeps one anchor before its start: old bursts drop out.
        QTest::newRow("window forgets") << QList<qint64>{0, 1000, 100000, 110000} << QList<qint64>{0, 1000, 1000, 1100}
                                        << qint64(110000) << 100.0 * 1000.0 / 60000.0;
        QTest::newRow("a count again is no progress") << QList<qint64>{0, 1000, 3000} << QList<qint64>{0, 10, 10} << qint64(3000) << 10.0 / 3.0;
        QTest::newRow("started over") << QList<qint64>{0, 1000, 2000, 3000} << QList<qint64>{0, 50, 0, 10} << qint64(3000) << 10.0;
        QTest::newRow("late answer ignored") << QList<qint64>{0, 2000, 1000} << QList<qint64>{0, 20, 5} << qint64(2000) << 10.0;
    }
    void rate()
    {
        QFETCH(QList<qint64>, times);
        QFETCH(QList<qint64>, counts);
        QFETCH(qint64, now);
        QFETCH(double, rate);
        ProgressEstimator e;
        for (qsizetype i = 0; i < times.size(); ++i)
            e.addSample(at(times.at(i)), counts.at(i));
        QCOMPARE(e.rate(at(now)), rate);
    }

    void oneCountHasTheAverageSinceTheStart()
    {
        ProgressEstimator e;
        e.addSample(at(10000), 100); // first seen 10 s after processing began
        QCOMPARE(e.rate(at(10000)), 0.0); // no start known: no rate
        e.setStart(at(0));
        QCOMPARE(e.rate(at(10000)), 10.0);
        QCOMPARE(e.rate(at(20000)), 5.0); // and it falls while nothing moves
        QCOMPARE(e.etaMs(200, at(10000)), qint64(10000));
        e.addSample(at(11000), 150); // two counts: the window's rate
        QCOMPARE(e.rate(at(11000)), 50.0);
        ProgressEstimator later;
        later.setStart(at(5000));
        later.addSample(at(1000), 0); // a count from before the start says nothing
        QCOMPARE(later.rate(at(6000)), 0.0);
    }

    void etaAndCompletion_data()
    {
        QTest::addColumn<qint64>("total");
        QTest::addColumn<qint64>("eta");
        QTest::newRow("100 left at 10/s") << qint64(120) << qint64(10000);
        QTest::newRow("done") << qint64(20) << qint64(0);
        QTest::newRow("no total") << qint64(0) << qint64(-1);
    }
    void etaAndCompletion()
    {
        QFETCH(qint64, total);
        QFETCH(qint64, eta);
        ProgressEstimator e;
        e.addSample(at(0), 0);
        e.addSample(at(2000), 20);
        QCOMPARE(e.etaMs(total, at(2000)), eta);
        QCOMPARE(e.estimatedCompletion(total, at(2000)), eta < 0 ? QDateTime() : at(2000 + eta));
    }

    void noRateNoEta()
    {
        ProgressEstimator e;
        e.addSample(at(0), 5);
        QCOMPARE(e.etaMs(100, at(5000)), qint64(-1));
        QVERIFY(!e.estimatedCompletion(100, at(5000)).isValid());
    }

    void elapsed_data()
    {
        QTest::addColumn<qint64>("origin"); // -1: none
        QTest::addColumn<qint64>("ended");  // -1: not ended
        QTest::addColumn<qint64>("now");
        QTest::addColumn<qint64>("elapsed");
        QTest::newRow("from the origin") << qint64(-5000) << qint64(-1) << qint64(1000) << qint64(6000);
        QTest::newRow("from the first sample") << qint64(-1) << qint64(-1) << qint64(1000) << qint64(1000);
        QTest::newRow("stops at the end") << qint64(-5000) << qint64(3000) << qint64(99000) << qint64(8000);
    }
    void elapsed()
    {
        QFETCH(qint64, origin);
        QFETCH(qint64, ended);
        QFETCH(qint64, now);
        QFETCH(qint64, elapsed);
        ProgressEstimator e;
        if (origin != -1)
            e.setOrigin(at(origin));
        if (ended != -1)
            e.setEnded(at(ended));
        e.addSample(at(0), 0);
        QCOMPARE(e.elapsedMs(at(now)), elapsed);
    }

    void elapsedUnknownWithoutAnything()
    {
        ProgressEstimator e;
        QCOMPARE(e.elapsedMs(at(0)), qint64(-1));
    }

    void stalled_data()
    {
        QTest::addColumn<qint64>("lastMove");
        QTest::addColumn<qint64>("now");
        QTest::addColumn<qint64>("after");
        QTest::addColumn<bool>("stalled");
        QTest::newRow("moving") << qint64(1000) << qint64(1500) << qint64(1000) << false;
        QTest::newRow("just stalled") << qint64(1000) << qint64(2000) << qint64(1000) << true;
        QTest::newRow("long stalled") << qint64(1000) << qint64(60000) << qint64(1000) << true;
        QTest::newRow("never (0)") << qint64(1000) << qint64(999999) << qint64(0) << false;
    }
    void stalled()
    {
        QFETCH(qint64, lastMove);
        QFETCH(qint64, now);
        QFETCH(qint64, after);
        QFETCH(bool, stalled);
        ProgressEstimator e;
        e.addSample(at(0), 0);
        e.addSample(at(lastMove), 10);
        e.addSample(at(lastMove + 200), 10); // the same count again: not a move
        QCOMPARE(e.isStalled(at(now), after), stalled);
        QCOMPARE(e.stalledReason(), QStringLiteral("no progress since 2026-12-01T12:00:01Z"));
    }

    void activityCountsAgainstStalled()
    {
        ProgressEstimator e;
        e.addSample(at(0), 0);
        e.noteActivity(at(5000)); // pending became processing
        QVERIFY(!e.isStalled(at(5500), 1000));
        QVERIFY(e.isStalled(at(6000), 1000));
        e.noteActivity(at(1000)); // older: changes nothing
        QCOMPARE(e.lastActivity(), at(5000));
    }
};

QTEST_GUILESS_MAIN(tst_ProgressEstimator)
#include "tst_progressestimator.moc"
