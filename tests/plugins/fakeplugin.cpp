// A test-only plugin for the console's tests: list() answers with batches in
// every state the dashboard shows, monitor() reports each one's state a
// moment later and keeps following; cancel, retry and submit act on that
// pretend world. No network. The password picks a server's fault: "wrong"
// is refused as Parse would, "down" answers 503, "stall" never answers.
#include <membatch/ibatchprocessor.h>

#include <QDateTime>
#include <QJsonArray>
#include <QJsonObject>
#include <QObject>
#include <QTimer>

using namespace membatch;

namespace {

BatchStatus make(const char *id, const char *status, qint64 total, qint64 ok, qint64 failed, int minutesAgo)
{
    BatchStatus b;
    b.batchId = QLatin1String(id);
    b.requestId = QStringLiteral("r-") + b.batchId;
    b.status = QLatin1String(status);
    b.workflowStatus = b.isFinal() ? QStringLiteral("completed") : QStringLiteral("running");
    b.totalMemories = total;
    b.successCount = ok;
    b.failCount = failed;
    b.processedCount = ok + failed;
    b.createdAt = QDateTime::currentDateTimeUtc().addSecs(-60 * minutesAgo);
    return b;
}

QList<BatchStatus> world()
{
    QList<BatchStatus> all;
    all << make("import-2026-12-01-crm", "processing", 250000, 104220, 31, 6);
    BatchStatus parent = make("import-2026-12-01-wiki", "processing", 48000, 17000, 0, 14);
    parent.chunkCount = 48;
    parent.chunksFound = 48;
    parent.chunksFinal = 17;
    all << parent;
    all << make("nightly-notes-1130", "pending", 1200, 0, 0, 20);
    BatchStatus partial = make("support-tickets-q4", "partial_failure", 5000, 4993, 7, 95);
    QJsonArray errors;
    const char *why[] = {"content: is empty", "tags: must be a list of strings", "embedding: 1536 dimensions expected, 768 given",
                         "metadata: the key '$where' starts with '$'", "content: longer than 10485760 bytes", "tags: must be a list of strings",
                         "Parse answered 413: request entity too large"};
    const int at[] = {12, 410, 411, 1803, 2990, 3005, 4711};
    for (int i = 0; i < 7; ++i)
        errors << QJsonObject{{QStringLiteral("index"), at[i]}, {QStringLiteral("stage"), i == 6 ? QStringLiteral("store") : QStringLiteral("validate")},
                              {QStringLiteral("error"), QLatin1String(why[i])}};
    partial.errors = errors;
    all << partial;
    BatchStatus canceled = make("reindex-archive", "canceled", 80000, 31500, 0, 180);
    canceled.workflowStatus = QStringLiteral("canceled");
    canceled.processingDurationMs = 1000LL * (12 * 60 + 41);
    all << canceled;
    BatchStatus done = make("onboarding-docs", "completed", 12000, 12000, 0, 300);
    done.processingDurationMs = 1000LL * (3 * 60 + 7);
    all << done;
    BatchStatus failed = make("legacy-export", "processing", 3000, 0, 0, 420);
    failed.workflowStatus = QStringLiteral("failed"); // Parse still says processing: the merge says failed
    failed.workflowFailure = QStringLiteral("activity StoreBatch timed out after 3 attempts (heartbeat)");
    all << failed;
    return all;
}

BatchProgress progressFor(const BatchStatus &b)
{
    BatchProgress p;
    p.batchId = b.batchId;
    p.status = b.status;
    p.total = b.totalMemories;
    p.processed = b.processedCount;
    p.succeeded = b.successCount;
    p.failed = b.failCount;
    p.chunks = b.chunkCount > 1 ? b.chunkCount : 0;
    p.chunksDone = b.chunksFinal;
    p.phase = b.isFinal() ? BatchProgress::Phase::Done
        : b.status == QLatin1String("pending") ? BatchProgress::Phase::Queued : BatchProgress::Phase::Processing;
    p.elapsedMs = b.processingDurationMs >= 0 ? b.processingDurationMs : b.createdAt.msecsTo(QDateTime::currentDateTimeUtc());
    if (p.phase == BatchProgress::Phase::Processing) {
        p.rate = b.batchId.endsWith(QLatin1String("wiki")) ? 0.4 : 312.5;
        p.etaMs = qint64((p.total - p.processed) / qMax(p.rate, 0.001) * 1000);
        p.estimatedCompletion = QDateTime::currentDateTimeUtc().addMSecs(p.etaMs);
        if (b.batchId.endsWith(QLatin1String("wiki"))) {
            p.stalled = true;
            p.reason = QStringLiteral("no progress for 6 minutes: is a worker polling membatch-batches?");
        }
    }
    if (b.isFinal())
        p.reason = b.workflowFailure;
    return p;
}

class FakeMonitor : public MonitorJob
{
    Q_OBJECT
public:
    using MonitorJob::MonitorJob;

protected:
    void doStart() override { m_started = true; flush(); }
    void doAddBatch(const QString &) override { flush(); }

private:
    void flush()
    {
        if (!m_started)
            return;
        // A moment later, as a server would answer.
        QTimer::singleShot(30, this, [this] {
            const QList<BatchStatus> all = world();
            for (const QString &id : batchIds()) {
                auto it = std::find_if(all.cbegin(), all.cend(), [&id](const BatchStatus &b) { return b.batchId == id; });
                // A batch submitted since: a worker has taken it.
                BatchStatus b = it != all.cend() ? *it : make("", "processing", 10, 3, 0, 0);
                b.batchId = id;
                updateBatch(b, progressFor(b));
            }
        });
    }
    bool m_started = false;
};

class FakeList : public ListJob
{
    Q_OBJECT
public:
    explicit FakeList(const QString &password)
        : m_password(password)
    {
    }

protected:
    void doStart() override
    {
        if (m_password == QLatin1String("stall"))
            return; // a server that took the request and never answers
        QTimer::singleShot(20, this, [this] {
            if (m_password == QLatin1String("wrong"))
                setError(AuthenticationError, QStringLiteral("signing in: Invalid username/password. (Parse code 101)"));
            else if (m_password == QLatin1String("down"))
                setError(ServerError, QStringLiteral("listing batches at http://127.0.0.1:9/parse: Parse answered 503 Service Unavailable"));
            else
                setBatches(world(), {});
            emitResult();
        });
    }

private:
    QString m_password;
};

class FakeBatchJob : public BatchJob
{
    Q_OBJECT
public:
    explicit FakeBatchJob(const BatchStatus &end)
        : m_end(end)
    {
    }

protected:
    void doStart() override
    {
        QTimer::singleShot(20, this, [this] {
            setBatch(m_end);
            setProgress(progressFor(m_end));
            emitResult();
        });
    }

private:
    BatchStatus m_end;
};

} // namespace

class FakePlugin : public QObject, public IBatchProcessor
{
    Q_OBJECT
    Q_PLUGIN_METADATA(IID MEMBATCH_IBATCHPROCESSOR_IID FILE "fakeplugin.json")
    Q_INTERFACES(membatch::IBatchProcessor)
public:
    void setConnection(const ConnectionSettings &s) override { m_settings = s; }
    BatchJob *submit(const QString &path, const SubmitOptions &) override
    {
        return new FakeBatchJob(make(qPrintable(QStringLiteral("submitted-") + path.section(QLatin1Char('/'), -1)), "pending", 10, 0, 0, 0));
    }
    BatchJob *submit(QIODevice *, const QString &name, const SubmitOptions &o) override { return submit(name, o); }
    BatchJob *watch(const QString &, const WatchOptions &) override { return nullptr; }
    MonitorJob *monitor(const QStringList &ids, const WatchOptions &) override
    {
        auto *m = new FakeMonitor;
        for (const QString &id : ids)
            m->addBatch(id);
        return m;
    }
    ListJob *list(const ListOptions &) override { return new FakeList(m_settings.password); }
    BatchJob *retryFailed(const QString &id, const SubmitOptions &) override
    {
        return new FakeBatchJob(make(qPrintable(id + QStringLiteral("-retry")), "pending", 7, 0, 0, 0));
    }
    BatchJob *cancel(const QString &id, const WatchOptions &, const QString &) override
    {
        return new FakeBatchJob(make(qPrintable(id), "canceled", 0, 0, 0, 0));
    }
    ResultsJob *results(const QString &, const ResultsOptions &) override { return nullptr; }
    Job *cleanUp(const CleanupOptions &) override { return nullptr; }
    Job *migrate(const MigrateOptions &) override { return nullptr; }
    Job *work(const WorkerOptions &) override { return nullptr; }

private:
    ConnectionSettings m_settings;
};

#include "fakeplugin.moc"
