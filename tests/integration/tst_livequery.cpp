// Push monitoring on the real stack: a batch watched through Parse LiveQuery
// while a worker stores it, the connection cut mid-batch by a relay in front
// of Parse, and the watch still ends with the exact final counts and status,
// having been pushed updates (its Parse polls are far apart: only push can
// have shown the progress). A second user subscribing to the first user's
// batch gets nothing.
#include "livequeryclient.h"
#include "monitorjob.h"
#include "stackclient.h"
#include "submitjob.h"
#include "workerjob.h"

#include <QPointer>
#include <QSet>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>

using namespace membatch;

// A TCP relay to one host:port that can cut every connection through it.
class Relay : public QObject
{
    Q_OBJECT
public:
    Relay(const QString &host, quint16 port)
        : m_host(host)
        , m_port(port)
    {
        connect(&m_server, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket *down = m_server.nextPendingConnection()) {
                auto *up = new QTcpSocket(this);
                down->setParent(this);
                m_pairs.append(qMakePair(QPointer<QTcpSocket>(down), QPointer<QTcpSocket>(up)));
                connect(down, &QTcpSocket::readyRead, up, [down, up] {
                    if (up->state() == QAbstractSocket::ConnectedState)
                        up->write(down->readAll());
                });
                connect(up, &QTcpSocket::connected, down, [down, up] { up->write(down->readAll()); });
                connect(up, &QTcpSocket::readyRead, down, [down, up] { down->write(up->readAll()); });
                connect(down, &QTcpSocket::disconnected, up, &QTcpSocket::disconnectFromHost);
                connect(up, &QTcpSocket::disconnected, down, &QTcpSocket::disconnectFromHost);
                up->connectToHost(m_host, m_port);
            }
        });
    }
    bool listen() { return m_server.listen(QHostAddress::LocalHost, 0); }
    quint16 port() const { return m_server.serverPort(); }
    // Resets every connection through the relay; how many were open.
    int cutAll()
    {
        int cut = 0;
        for (const auto &pair : std::as_const(m_pairs)) {
            if (pair.first && pair.first->state() == QAbstractSocket::ConnectedState)
                ++cut;
            if (pair.first)
                pair.first->abort();
            if (pair.second)
                pair.second->abort();
        }
        m_pairs.clear();
        return cut;
    }

private:
    QTcpServer m_server;
    QString m_host;
    quint16 m_port;
    QList<QPair<QPointer<QTcpSocket>, QPointer<QTcpSocket>>> m_pairs;
};

class tst_LiveQuery : public QObject
{
    Q_OBJECT

private:
    StackClient m_stack;
    QNetworkAccessManager m_nam;
    QTemporaryDir m_dir;
    WorkerJob *m_worker = nullptr;

    ConnectionSettings submitter() const
    {
        ConnectionSettings s = m_stack.settings;
        s.masterKey.clear();
        return s;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_stack.settings.missingForWorker().isEmpty(), "the stack's env is not set: run under tests/stack/with-env.sh");
        m_nam.setAutoDeleteReplies(false);
        // Small groups written one at a time, counts every 100 ms: a batch
        // that takes seconds and moves often.
        WorkerOptions options;
        options.identity = QStringLiteral("tst_livequery-worker");
        options.concurrency = 1;
        options.groupSize = 10;
        options.groupsInFlight = 1;
        options.progressIntervalMs = 100;
        m_worker = new WorkerJob(&m_nam, m_stack.settings, options);
        m_worker->setAutoDelete(false);
        m_worker->start();
    }

    void cleanupTestCase()
    {
        if (m_worker) {
            QVERIFY2(!m_worker->isFinished(), qPrintable(m_worker->errorString()));
            m_worker->kill();
            delete m_worker;
        }
    }

    void aCutConnectionLosesNothingAndAnotherUserSeesNothing()
    {
        const int total = 4000;
        const QString batchId = QStringLiteral("lq-") + QUuid::createUuid().toString(QUuid::Id128).left(20);

        // Another user, signed up now, subscribes to that batch by its id.
        const QByteArray otherToken = m_stack.signUp(QStringLiteral("lq-other-") + QUuid::createUuid().toString(QUuid::Id128).left(12));
        QVERIFY(!otherToken.isEmpty());
        LiveQueryClient other;
        other.setUrl(LiveQueryClient::urlFor(m_stack.settings.parseUrl));
        other.setCredentials(m_stack.settings.appId, m_stack.settings.restKey);
        other.setSessionToken(QString::fromUtf8(otherToken));
        other.subscribe({QStringLiteral("BatchMemoryRequest"),
                         QJsonObject{{QStringLiteral("$or"), QJsonArray{QJsonObject{{QStringLiteral("batchId"), batchId}},
                                                                        QJsonObject{{QStringLiteral("parentBatchId"), batchId}}}}},
                         {},
                         {}});
        QSignalSpy otherSubscribed(&other, &LiveQueryClient::subscribed);
        QSignalSpy otherEvents(&other, &LiveQueryClient::event);
        other.open();
        QVERIFY(otherSubscribed.wait(10000));

        SubmitOptions submit;
        submit.batchId = batchId;
        submit.chunkItems = total;
        auto *submitJob = new SubmitJob(&m_nam, submitter(), StackClient::writeBatch(m_dir.filePath(QStringLiteral("lq.jsonl")), total, QStringLiteral("lq")), submit);
        QVERIFY(StackClient::runToEnd(submitJob));
        QCOMPARE(submitJob->error(), int(Job::NoError));
        delete submitJob;

        // The watcher goes through the relay; the worker does not.
        Relay relay(m_stack.settings.parseUrl.host(), quint16(m_stack.settings.parseUrl.port()));
        QVERIFY(relay.listen());
        ConnectionSettings watcher = submitter();
        watcher.parseUrl.setPort(relay.port());
        WatchOptions options;
        options.pollIntervalMs = 30000; // Parse polled only without push: the progress has to be pushed
        options.stalledAfterMs = 0;
        ParseMonitorJob monitor(&m_nam, watcher, {batchId}, options);
        monitor.setAutoDelete(false);
        monitor.setLiveQueryDelays(50, 500);
        QSet<qint64> seen;
        connect(&monitor, &MonitorJob::batchChanged, this, [&seen](const BatchStatus &b, const BatchProgress &) {
            if (!b.isFinal())
                seen.insert(b.processedCount);
        });
        QSignalSpy result(&monitor, &Job::result);
        QElapsedTimer clock;
        clock.start();
        monitor.start();

        // Mid-batch, with updates pushed already: cut everything.
        QTRY_VERIFY_WITH_TIMEOUT(monitor.pushedEvents() >= 3 && monitor.batch(batchId).processedCount > 0, 60000);
        QVERIFY2(monitor.batch(batchId).processedCount < total, "the batch ended before the cut: make it bigger");
        const int pushedBeforeCut = monitor.pushedEvents();
        const int subscribedBeforeCut = monitor.subscriptions();
        const int queriesBeforeCut = monitor.parseQueries();
        QVERIFY(relay.cutAll() >= 1);

        QVERIFY(result.wait(120000));
        QVERIFY2(monitor.error() == Job::NoError, qPrintable(monitor.errorString()));
        // The final status and the exact counts.
        const BatchStatus end = monitor.batch(batchId);
        QCOMPARE(end.outcome(), QStringLiteral("completed"));
        QCOMPARE(end.totalMemories, qint64(total));
        QCOMPARE(end.processedCount, qint64(total));
        QCOMPARE(end.successCount, qint64(total));
        QCOMPARE(end.failCount, qint64(0));
        QCOMPARE(monitor.batchProgress(batchId).phase, BatchProgress::Phase::Done);
        QCOMPARE(m_stack.memoryCount(batchId), total);
        const QJsonObject stored = m_stack.request(end.requestId);
        QCOMPARE(stored.value(QStringLiteral("processedCount")).toInteger(), qint64(total));
        // It came back: subscribed again, looked again, and was pushed to after.
        QVERIFY(monitor.subscriptions() > subscribedBeforeCut);
        QVERIFY(monitor.parseQueries() > queriesBeforeCut);
        QVERIFY2(monitor.pushedEvents() > pushedBeforeCut, qPrintable(QString::number(monitor.pushedEvents())));
        // Progress was pushed, not polled: many counts seen, few queries, and
        // ended well before a poll would have found the end.
        QVERIFY2(seen.size() >= 3, qPrintable(QString::number(seen.size())));
        QVERIFY2(monitor.parseQueries() <= monitor.subscriptions() + 2, qPrintable(QString::number(monitor.parseQueries())));
        qInfo("watched %d memories in %lld ms: %d pushed events, %d subscriptions, %d Parse queries, %lld counts seen",
              total, clock.elapsed(), monitor.pushedEvents(), monitor.subscriptions(), monitor.parseQueries(), qint64(seen.size()));

        // The other user's subscription stayed silent.
        QCOMPARE(otherEvents.size(), 0);
        // ... and its monitor finds nothing.
        ConnectionSettings stranger = submitter();
        stranger.username.clear();
        stranger.password.clear();
        stranger.sessionToken = QString::fromUtf8(otherToken);
        WatchOptions once;
        once.once = true;
        auto *peek = new ParseMonitorJob(&m_nam, stranger, {batchId}, once);
        QVERIFY(StackClient::runToEnd(peek));
        QCOMPARE(peek->error(), int(Job::NotFoundError));
        delete peek;
    }
};

QTEST_GUILESS_MAIN(tst_LiveQuery)
#include "tst_livequery.moc"
