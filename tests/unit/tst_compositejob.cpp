#include <membatch/compositejob.h>

#include <QCoreApplication>
#include <QPointer>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>

using namespace membatch;

namespace {

// How many StepJobs run at once, and the most there ever were.
struct Concurrency
{
    int running = 0;
    int most = 0;
};

} // namespace

// A subjob the test drives: it ends when told (finish()), or by itself
// after a delay, or inside its own start; it may refuse a kill, and may
// wind down on stop() instead of being killed.
class StepJob : public Job
{
    Q_OBJECT
public:
    explicit StepJob(Concurrency *count = nullptr)
        : m_count(count)
    {
    }
    ~StepJob() override { leave(); }

    int started = 0;
    int killed = 0;
    int stopped = 0;
    int delayMs = -1;          // >= 0: ends by itself after that long
    int errorCode = NoError;   // what it ends with
    bool endInStart = false;   // ends inside doStart()
    bool refuseKill = false;
    bool windsDown = false;    // stop(): goes on, to be finished by the test

    void report(const BatchProgress &p) { setProgress(p); }
    void info(const QString &m) { emitInfo(m); }
    void finish(int error = NoError)
    {
        leave();
        if (error)
            setError(error, QStringLiteral("step %1 broke").arg(objectName()));
        emitResult();
    }

protected:
    void doStart() override
    {
        ++started;
        if (m_count) {
            m_in = true;
            m_count->most = std::max(m_count->most, ++m_count->running);
        }
        if (endInStart) {
            finish(errorCode);
            return;
        }
        if (delayMs >= 0)
            QTimer::singleShot(delayMs, this, [this] { finish(errorCode); });
    }
    bool doKill() override
    {
        ++killed;
        if (refuseKill)
            return false;
        leave();
        return true;
    }
    bool doStop() override
    {
        ++stopped;
        return windsDown;
    }

private:
    void leave()
    {
        if (m_count && m_in) {
            m_in = false;
            --m_count->running;
        }
    }

    Concurrency *m_count;
    bool m_in = false;
};

// Goes on after a failed subjob, and ends saying how many failed.
class TolerantComposite : public CompositeJob
{
    Q_OBJECT
public:
    using CompositeJob::CompositeJob;
    int failures = 0;
    int done = 0;

protected:
    void subjobFinished(Job *job) override
    {
        ++done;
        if (job->error())
            ++failures;
    }
    void subjobsDrained() override
    {
        if (failures)
            setError(ServerError, QStringLiteral("%1 of %2 failed").arg(failures).arg(done));
        emitResult();
    }
};

class tst_CompositeJob : public QObject
{
    Q_OBJECT

    static QList<QPointer<StepJob>> addSteps(CompositeJob *composite, int n, Concurrency *count = nullptr)
    {
        QList<QPointer<StepJob>> steps;
        for (int i = 0; i < n; ++i) {
            auto *step = new StepJob(count);
            step->setObjectName(QString::number(i + 1));
            steps.append(step);
            if (!composite->addSubjob(step))
                qFatal("addSubjob refused a new job");
        }
        return steps;
    }

private Q_SLOTS:
    void parallelLimitIsNeverExceeded_data()
    {
        QTest::addColumn<int>("subjobs");
        QTest::addColumn<int>("limit");
        QTest::addColumn<int>("expectedMost");
        QTest::newRow("one at a time") << 8 << 1 << 1;
        QTest::newRow("three of ten") << 10 << 3 << 3;
        QTest::newRow("limit above the count") << 3 << 8 << 3;
        QTest::newRow("no limit") << 6 << 0 << 6;
    }
    void parallelLimitIsNeverExceeded()
    {
        QFETCH(int, subjobs);
        QFETCH(int, limit);
        QFETCH(int, expectedMost);
        Concurrency count;
        CompositeJob composite;
        composite.setAutoDelete(false);
        composite.setParallelLimit(limit);
        const auto steps = addSteps(&composite, subjobs, &count);
        for (int i = 0; i < steps.size(); ++i)
            steps[i]->delayMs = (i * 7) % 5; // they end out of order
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QVERIFY(result.wait(5000));
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), int(Job::NoError));
        QCOMPARE(count.most, expectedMost);
        QCOMPARE(count.running, 0);
        QVERIFY(composite.subjobs().isEmpty());
    }

    void queuedSubjobsStartAsSlotsFree()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        composite.setParallelLimit(2);
        const auto steps = addSteps(&composite, 4);
        QCOMPARE(composite.queuedSubjobCount(), 4);
        composite.start();
        QTRY_COMPARE(steps[0]->started + steps[1]->started, 2);
        QCOMPARE(composite.runningSubjobCount(), 2);
        QCOMPARE(composite.queuedSubjobCount(), 2);
        QCOMPARE(composite.subjobs(), (QList<Job *>{steps[0], steps[1], steps[2], steps[3]}));
        QSignalSpy result(&composite, &Job::result);
        steps[1]->finish();
        QCOMPARE(composite.runningSubjobCount(), 2); // the third took its slot
        QTRY_COMPARE(steps[2]->started, 1);
        QCOMPARE(steps[3]->started, 0);
        // Raising the limit starts what waits.
        composite.setParallelLimit(3);
        QTRY_COMPARE(steps[3]->started, 1);
        steps[0]->finish();
        steps[2]->finish();
        QCOMPARE(result.count(), 0);
        steps[3]->finish();
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), int(Job::NoError));
    }

    void firstErrorKillsTheRestAndEndsWithIt()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        composite.setParallelLimit(2);
        const auto steps = addSteps(&composite, 4);
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QTRY_COMPARE(steps[1]->started, 1);
        steps[0]->finish(Job::ServerError);
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), int(Job::ServerError));
        QCOMPARE(composite.errorString(), QStringLiteral("step 1 broke"));
        QCOMPARE(steps[1]->killed, 1);
        QVERIFY(steps[2].isNull()); // the queue is dropped, never started
        QVERIFY(steps[3].isNull());
        QTRY_VERIFY(steps[1].isNull()); // ended subjobs are deleted
        QTRY_VERIFY(steps[0].isNull());
        QCoreApplication::processEvents(); // what is queued has run
        QCOMPARE(result.count(), 1);
    }

    void errorWaitsForASubjobThatCannotBeKilled()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        const auto steps = addSteps(&composite, 2);
        steps[1]->refuseKill = true;
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QTRY_COMPARE(steps[1]->started, 1);
        steps[0]->finish(Job::NetworkError);
        QCOMPARE(steps[1]->killed, 1);
        QCOMPARE(result.count(), 0); // the second still runs
        steps[1]->finish();
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), int(Job::NetworkError));
    }

    void anUnkillableSubjobTakenBackEndsTheWait()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        const auto steps = addSteps(&composite, 2);
        steps[1]->refuseKill = true;
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QTRY_COMPARE(steps[1]->started, 1);
        steps[0]->finish(Job::NetworkError);
        QCOMPARE(result.count(), 0);
        QVERIFY(composite.removeSubjob(steps[1]));
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), int(Job::NetworkError));
        delete steps[1];
    }

    void aSubclassMayTolerateErrors_data()
    {
        QTest::addColumn<QList<int>>("errors");
        QTest::addColumn<int>("expectedError");
        QTest::addColumn<int>("expectedFailures");
        QTest::newRow("none fails") << QList<int>{0, 0, 0} << int(Job::NoError) << 0;
        QTest::newRow("the first fails") << QList<int>{int(Job::ServerError), 0, 0} << int(Job::ServerError) << 1;
        QTest::newRow("two fail") << QList<int>{0, int(Job::NetworkError), int(Job::ServerError)} << int(Job::ServerError) << 2;
    }
    void aSubclassMayTolerateErrors()
    {
        QFETCH(QList<int>, errors);
        QFETCH(int, expectedError);
        QFETCH(int, expectedFailures);
        TolerantComposite composite;
        composite.setAutoDelete(false);
        composite.setParallelLimit(1);
        const auto steps = addSteps(&composite, int(errors.size()));
        for (int i = 0; i < errors.size(); ++i) {
            steps[i]->delayMs = 0;
            steps[i]->errorCode = errors[i];
        }
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QVERIFY(result.wait(5000));
        QCOMPARE(composite.done, int(errors.size())); // every one ran
        QCOMPARE(composite.failures, expectedFailures);
        QCOMPARE(composite.error(), expectedError);
        for (const auto &s : steps)
            QCOMPARE(s ? s->killed : 0, 0);
    }

    void killStopsRunningAndDropsQueued()
    {
        auto *composite = new CompositeJob;
        QPointer<CompositeJob> alive(composite);
        composite->setParallelLimit(2);
        const auto steps = addSteps(composite, 5);
        QSignalSpy result(composite, &Job::result);
        composite->start();
        QTRY_COMPARE(steps[1]->started, 1);
        QVERIFY(composite->kill());
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite->error(), int(Job::KilledError));
        QCOMPARE(steps[0]->killed, 1);
        QCOMPARE(steps[1]->killed, 1);
        for (int i = 2; i < 5; ++i)
            QVERIFY(steps[i].isNull());
        QVERIFY(!composite->kill()); // finished
        QTRY_VERIFY(alive.isNull()); // autodelete, with its subjobs
        QVERIFY(steps[0].isNull());
        QVERIFY(steps[1].isNull());
    }

    void killWaitsForASubjobThatCannotBeKilled()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        const auto steps = addSteps(&composite, 2);
        steps[0]->refuseKill = true;
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QTRY_COMPARE(steps[1]->started, 1);
        QVERIFY(!composite.kill()); // not yet stopped
        QCOMPARE(steps[1]->killed, 1);
        QCOMPARE(result.count(), 0);
        steps[0]->finish();
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), int(Job::KilledError));
    }

    void killBeforeStartDeletesTheQueue()
    {
        auto *composite = new CompositeJob;
        const auto steps = addSteps(composite, 3);
        QSignalSpy result(composite, &Job::result);
        composite->start();
        QVERIFY(composite->kill());
        QCOMPARE(result.count(), 1);
        QTRY_VERIFY(steps[0].isNull());
        for (const auto &s : steps)
            QVERIFY(s.isNull());
    }

    void stopIsPassedDown_data()
    {
        QTest::addColumn<int>("limit");
        QTest::addColumn<int>("expectedError");
        QTest::newRow("queued ones are dropped") << 1 << int(Job::KilledError);
        QTest::newRow("all were running") << 3 << int(Job::NoError);
    }
    void stopIsPassedDown()
    {
        QFETCH(int, limit);
        QFETCH(int, expectedError);
        CompositeJob composite;
        composite.setAutoDelete(false);
        composite.setParallelLimit(limit);
        const auto steps = addSteps(&composite, 3);
        for (const auto &s : steps)
            s->windsDown = true;
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QTRY_COMPARE(steps[0]->started, 1);
        QCoreApplication::processEvents(); // what is queued has run
        QVERIFY(composite.stop());
        QCOMPARE(steps[0]->stopped, 1);
        QCOMPARE(composite.queuedSubjobCount(), 0);
        QCOMPARE(result.count(), 0); // what runs winds down
        auto *late = new StepJob;
        QVERIFY(!composite.addSubjob(late)); // nothing new begins
        delete late;
        for (const auto &s : steps) {
            if (s && s->started)
                s->finish();
        }
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), expectedError);
    }

    void stopAskedAgainIsAskedAgainOfTheSubjobs()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        const auto steps = addSteps(&composite, 1);
        steps[0]->windsDown = true;
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QTRY_COMPARE(steps[0]->started, 1);
        QVERIFY(composite.stop());
        QVERIFY(composite.stop());
        QCOMPARE(steps[0]->stopped, 2);
        QCOMPARE(result.count(), 0);
        steps[0]->windsDown = false; // hurried: it gives up and is killed
        QVERIFY(composite.stop());
        QCOMPARE(steps[0]->killed, 1);
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), int(Job::KilledError));
    }

    void stopKillsSubjobsThatCannotWindDown()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        const auto steps = addSteps(&composite, 2);
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QTRY_COMPARE(steps[1]->started, 1);
        QVERIFY(composite.stop());
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), int(Job::KilledError));
        QCOMPARE(steps[0]->stopped + steps[1]->stopped, 1); // the first's kill ended it, which killed the second
        QCOMPARE(steps[0]->killed + steps[1]->killed, 2);
    }

    void progressAndMessagesAreForwarded()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        const auto steps = addSteps(&composite, 2);
        QSignalSpy progress(&composite, &Job::progressChanged);
        QSignalSpy info(&composite, &Job::infoMessage);
        composite.start();
        QTRY_COMPARE(steps[1]->started, 1);
        BatchProgress p;
        p.phase = BatchProgress::Phase::Uploading;
        p.total = 10;
        p.processed = 4;
        steps[1]->report(p);
        QCOMPARE(progress.count(), 1);
        QCOMPARE(progress.at(0).at(0).value<BatchProgress>(), p);
        QCOMPARE(composite.progress(), p);
        steps[0]->info(QStringLiteral("hello"));
        QCOMPARE(info.count(), 1);
        QCOMPARE(info.at(0).at(0).toString(), QStringLiteral("hello"));
    }

    void killFromInsideAProgressSlot()
    {
        auto *composite = new CompositeJob;
        QPointer<CompositeJob> alive(composite);
        const auto steps = addSteps(composite, 3);
        composite->setParallelLimit(2);
        QSignalSpy result(composite, &Job::result);
        connect(composite, &Job::progressChanged, composite, [composite] { composite->kill(); });
        composite->start();
        QTRY_COMPARE(steps[1]->started, 1);
        BatchProgress p;
        p.processed = 1;
        steps[0]->report(p); // the subjob reporting is killed under its feet
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite->error(), int(Job::KilledError));
        QVERIFY(steps[0]->isFinished());
        QCOMPARE(steps[1]->killed, 1);
        QVERIFY(steps[2].isNull());
        steps[0]->report(BatchProgress()); // late, after the end: ignored
        QCOMPARE(result.count(), 1);
        QTRY_VERIFY(alive.isNull());
    }

    void subjobsEndingInsideTheirStart_data()
    {
        QTest::addColumn<int>("limit");
        QTest::addColumn<int>("failAt"); // -1: none fails
        QTest::newRow("one at a time") << 1 << -1;
        QTest::newRow("all at once") << 0 << -1;
        QTest::newRow("the third fails") << 1 << 2;
    }
    void subjobsEndingInsideTheirStart()
    {
        QFETCH(int, limit);
        QFETCH(int, failAt);
        CompositeJob composite;
        composite.setAutoDelete(false);
        composite.setParallelLimit(limit);
        const auto steps = addSteps(&composite, 5);
        for (int i = 0; i < steps.size(); ++i) {
            steps[i]->endInStart = true;
            steps[i]->errorCode = i == failAt ? int(Job::ServerError) : int(Job::NoError);
        }
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QVERIFY(result.wait(5000));
        QCoreApplication::processEvents(); // what is queued has run
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), failAt < 0 ? int(Job::NoError) : int(Job::ServerError));
        QTRY_VERIFY(std::all_of(steps.cbegin(), steps.cend(), [](const QPointer<StepJob> &s) { return s.isNull(); }));
    }

    void anEmptyCompositeEndsAtOnce()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QVERIFY(result.wait(5000));
        QCOMPARE(composite.error(), int(Job::NoError));
    }

    void addSubjobRefuses()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        QVERIFY(!composite.addSubjob(nullptr));
        QVERIFY(!composite.addSubjob(&composite));
        auto *step = new StepJob;
        QVERIFY(composite.addSubjob(step));
        QCOMPARE(step->parent(), &composite);
        QVERIFY(!step->isAutoDelete());
        QVERIFY(!composite.addSubjob(step)); // twice
        StepJob ended;
        ended.setAutoDelete(false);
        ended.finish();
        QVERIFY(!composite.addSubjob(&ended));
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QTRY_COMPARE(step->started, 1);
        step->finish();
        QCOMPARE(result.count(), 1);
        StepJob late;
        QVERIFY(!composite.addSubjob(&late)); // finished
        QCOMPARE(late.parent(), nullptr);
        QThread other;
        StepJob elsewhere;
        elsewhere.moveToThread(&other);
        CompositeJob open;
        QVERIFY(!open.addSubjob(&elsewhere)); // another thread
    }

    void removedOrDeletedSubjobsFreeTheirSlot()
    {
        CompositeJob composite;
        composite.setAutoDelete(false);
        composite.setParallelLimit(1);
        const auto steps = addSteps(&composite, 3);
        QSignalSpy result(&composite, &Job::result);
        composite.start();
        QTRY_COMPARE(steps[0]->started, 1);
        QVERIFY(composite.removeSubjob(steps[0]));
        QCOMPARE(steps[0]->parent(), nullptr);
        QTRY_COMPARE(steps[1]->started, 1);
        QVERIFY(!composite.removeSubjob(steps[0]));
        steps[0]->finish(Job::ServerError); // no longer the composite's
        QCOMPARE(result.count(), 0);
        delete steps[0];
        delete steps[1].data(); // gone without a result
        QTRY_COMPARE(steps[2]->started, 1);
        steps[2]->finish();
        QCOMPARE(result.count(), 1);
        QCOMPARE(composite.error(), int(Job::NoError));
    }

    void subjobsDieWithTheComposite()
    {
        auto *composite = new CompositeJob;
        const auto steps = addSteps(composite, 2);
        composite->start();
        QTRY_COMPARE(steps[0]->started, 1);
        delete composite;
        QVERIFY(steps[0].isNull());
        QVERIFY(steps[1].isNull());
    }
};

QTEST_GUILESS_MAIN(tst_CompositeJob)
#include "tst_compositejob.moc"
