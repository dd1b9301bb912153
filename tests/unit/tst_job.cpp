#include <membatch/job.h>

#include <QPointer>
#include <QSignalSpy>
#include <QTest>
#include <QTimer>

using namespace membatch;

// A job whose work is a timer, so that it is really asynchronous.
class TimerJob : public Job
{
    Q_OBJECT
public:
    int started = 0;
    int killed = 0;
    bool failIt = false;

    void report(const BatchProgress &p) { setProgress(p); }

protected:
    void doStart() override
    {
        ++started;
        m_timer.setSingleShot(true);
        connect(&m_timer, &QTimer::timeout, this, [this] {
            if (failIt)
                setError(ServerError, QStringLiteral("it broke"));
            emitResult();
            emitResult(); // a second call must not emit again
        });
        m_timer.start(10);
    }
    bool doKill() override
    {
        ++killed;
        m_timer.stop();
        return true;
    }

private:
    QTimer m_timer;
};

class tst_Job : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void startReturnsAtOnceAndResultComesOnce()
    {
        auto *job = new TimerJob;
        job->setAutoDelete(false);
        QSignalSpy result(job, &Job::result);
        job->start();
        QCOMPARE(job->started, 0); // nothing before the event loop runs
        QVERIFY(result.wait(5000));
        QCOMPARE(job->started, 1);
        QCOMPARE(result.count(), 1);
        QCOMPARE(job->error(), int(Job::NoError));
        QVERIFY(job->isFinished());
        delete job;
    }

    void errorIsReported()
    {
        TimerJob job;
        job.setAutoDelete(false);
        job.failIt = true;
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(result.wait(5000));
        QCOMPARE(job.error(), int(Job::ServerError));
        QCOMPARE(job.errorString(), QStringLiteral("it broke"));
    }

    void autoDeletes()
    {
        QPointer<TimerJob> job = new TimerJob;
        QSignalSpy destroyed(job.data(), &QObject::destroyed);
        job->start();
        QVERIFY(destroyed.wait(5000));
        QVERIFY(job.isNull());
    }

    void killBeforeStartNeverRuns()
    {
        TimerJob job;
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QVERIFY(job.kill());
        QCOMPARE(result.count(), 1);
        QCOMPARE(job.error(), int(Job::KilledError));
        // Let the queued start run: it must be a no-op now.
        bool drained = false;
        QMetaObject::invokeMethod(this, [&drained] { drained = true; }, Qt::QueuedConnection);
        QTRY_VERIFY(drained);
        QCOMPARE(job.started, 0);
        QCOMPARE(job.killed, 0);
        QVERIFY(!job.kill()); // already finished
    }

    void killWhileRunning()
    {
        TimerJob job;
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QTRY_COMPARE(job.started, 1);
        QVERIFY(job.kill());
        QCOMPARE(job.killed, 1);
        QCOMPARE(result.count(), 1);
        QCOMPARE(job.error(), int(Job::KilledError));
    }

    void stopWithNothingToWindDownKills()
    {
        TimerJob job;
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        QTRY_COMPARE(job.started, 1);
        QVERIFY(job.stop());
        QCOMPARE(job.killed, 1);
        QCOMPARE(result.count(), 1);
        QCOMPARE(job.error(), int(Job::KilledError));
        QVERIFY(!job.stop()); // already finished
    }

    void progressOnlyOnChange()
    {
        TimerJob job;
        QSignalSpy progress(&job, &Job::progressChanged);
        BatchProgress p;
        p.phase = BatchProgress::Phase::Processing;
        p.processed = 1;
        job.report(p);
        job.report(p);
        p.processed = 2;
        job.report(p);
        QCOMPARE(progress.count(), 2);
        QCOMPARE(progress.last().first().value<BatchProgress>().processed, 2);
    }
};

QTEST_GUILESS_MAIN(tst_Job)
#include "tst_job.moc"
