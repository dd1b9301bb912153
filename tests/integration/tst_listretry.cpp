// list and retry-failed against the real local stack. The checks read Parse
// directly (with the master key), not through the plugin. The test runs its
// own worker, started once the first batch has been rigged to fail; batches
// meant to stay pending go to a task queue nobody polls.
#include "batchactivity.h"
#include "stackclient.h"

#include <membatch/ibatchprocessor.h>
#include <membatch/pluginloader.h>

#include <QSet>
#include <QTemporaryDir>

using namespace membatch;

class tst_ListRetry : public QObject
{
    Q_OBJECT

private:
    ConnectionSettings m_settings;
    PluginLoader m_loader;
    IBatchProcessor *m_processor = nullptr;
    Job *m_worker = nullptr;
    QTemporaryDir m_dir;
    StackClient m_stack;

    void startWorker()
    {
        if (m_worker)
            return;
        m_processor->setConnection(m_settings); // the master key
        WorkerOptions options;
        options.identity = QStringLiteral("tst_listretry-worker");
        m_worker = m_processor->work(options);
        m_worker->setAutoDelete(false);
        m_worker->start();
    }

    // As a user: the demo user, or one signed up (a session token only).
    ConnectionSettings asUser(const QByteArray &sessionToken = {}) const
    {
        ConnectionSettings s = m_settings;
        s.masterKey.clear();
        if (!sessionToken.isEmpty()) {
            s.username.clear();
            s.password.clear();
            s.sessionToken = QString::fromLatin1(sessionToken);
        }
        return s;
    }

    SubmitOptions submitOptions(bool wait) const
    {
        SubmitOptions options;
        options.pollIntervalMs = 100;
        options.waitForCompletion = wait;
        return options;
    }

    BatchStatus submit(const ConnectionSettings &as, int count, const QString &tag, const SubmitOptions &options)
    {
        m_processor->setConnection(as);
        BatchJob *job = m_processor->submit(StackClient::writeBatch(m_dir.filePath(tag + QStringLiteral(".jsonl")), count, tag), options);
        if (!StackClient::runToEnd(job))
            return {};
        if (job->error())
            qWarning() << "submit:" << job->errorString();
        const BatchStatus batch = job->error() == Job::NoError || job->error() == Job::BatchFailedError ? job->batch() : BatchStatus();
        delete job;
        return batch;
    }

    struct Page
    {
        int error = -1;
        QString errorString;
        QList<BatchStatus> rows;
        QString next;
    };
    Page list(const ConnectionSettings &as, const ListOptions &options)
    {
        m_processor->setConnection(as);
        ListJob *job = m_processor->list(options);
        Page page;
        if (!job || !StackClient::runToEnd(job))
            return page;
        page = {job->error(), job->errorString(), job->batches(), job->nextCursor()};
        delete job;
        return page;
    }
    // Every page, following the cursor; false if a page failed.
    bool listAll(const ConnectionSettings &as, ListOptions options, QList<BatchStatus> *rows, int *pages)
    {
        *pages = 0;
        for (;;) {
            const Page page = list(as, options);
            if (page.error != Job::NoError) {
                qWarning() << "list:" << page.errorString;
                return false;
            }
            ++*pages;
            *rows += page.rows;
            if (page.next.isEmpty())
                return true;
            if (*pages > 100)
                return false;
            options.cursor = page.next;
        }
    }

    BatchJob *retry(const ConnectionSettings &as, const QString &batchId, bool wait, QStringList *infos = nullptr)
    {
        m_processor->setConnection(as);
        BatchJob *job = m_processor->retryFailed(batchId, submitOptions(wait));
        if (infos)
            connect(job, &Job::infoMessage, this, [infos](const QString &m) { infos->append(m); });
        return job;
    }

    QJsonArray requestsWhere(const QJsonObject &where)
    {
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QString::fromUtf8(QJsonDocument(where).toJson(QJsonDocument::Compact)));
        query.addQueryItem(QStringLiteral("order"), QStringLiteral("batchId"));
        return m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchMemoryRequest"), query).json().value(QStringLiteral("results")).toArray();
    }

    QStringList memoryContents(const QString &batchId)
    {
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"batchId\":\"%1\"}").arg(batchId));
        query.addQueryItem(QStringLiteral("order"), QStringLiteral("index"));
        QStringList contents;
        for (const QJsonValue &v : m_stack.parseAsMaster("GET", QStringLiteral("/classes/Memory"), query).json().value(QStringLiteral("results")).toArray())
            contents.append(v.toObject().value(QStringLiteral("content")).toString());
        return contents;
    }

    // A Memory where the worker will store item index of a request: the
    // worker finds it is not that item and refuses the item (a conflict).
    bool forgeConflict(const QString &requestId, qint64 index)
    {
        const QString id = BatchActivity::memoryObjectId(BatchActivity::memoryIdKey(m_settings.masterKey), requestId, index);
        const QJsonObject forged{{QStringLiteral("objectId"), id},
                                 {QStringLiteral("content"), QStringLiteral("forged")},
                                 {QStringLiteral("batchId"), QStringLiteral("forged")},
                                 {QStringLiteral("index"), index}};
        const Http created = m_stack.parseAsMaster("POST", QStringLiteral("/classes/Memory"), {}, QJsonDocument(forged).toJson());
        if (created.status != 201)
            qWarning() << "forging" << id << ":" << created.body;
        return created.status == 201;
    }

    BatchStatus watchToEnd(const ConnectionSettings &as, const QString &batchId)
    {
        m_processor->setConnection(as);
        WatchOptions options;
        options.pollIntervalMs = 100;
        BatchJob *watch = m_processor->watch(batchId, options);
        if (!StackClient::runToEnd(watch))
            return {};
        const BatchStatus batch = watch->batch();
        delete watch;
        return batch;
    }

    QString m_partial; // the parent that ended partial_failure
    QString m_retry;   // its retry

private Q_SLOTS:
    void initTestCase()
    {
        m_settings = m_stack.settings;
        QVERIFY2(m_settings.missingForClient().isEmpty() && m_settings.missingForWorker().isEmpty(),
                 "the stack's env is not set: run under tests/stack/with-env.sh");
        QVERIFY(m_dir.isValid());
        m_processor = m_loader.load({}, {QStringLiteral(MEMBATCH_PLUGIN_DIR)});
        QVERIFY2(m_processor, qPrintable(m_loader.errorString()));
    }

    void cleanupTestCase()
    {
        if (m_worker) {
            QVERIFY2(!m_worker->isFinished(), qPrintable(m_worker->errorString()));
            m_worker->kill();
            delete m_worker;
        }
    }

    void retryFailedSendsExactlyTheFailedItemsOnce()
    {
        // Six items in two chunks of three; the worker will refuse item 1 of
        // the first and items 0 and 2 of the second (their Memory ids are
        // taken), i.e. items #1, #3 and #5 of the input.
        SubmitOptions options = submitOptions(false);
        options.chunkItems = 3;
        const BatchStatus sent = submit(asUser(), 6, QStringLiteral("partial"), options);
        QVERIFY(!sent.batchId.isEmpty());
        const QJsonArray chunks = requestsWhere({{QStringLiteral("parentBatchId"), sent.batchId}});
        QCOMPARE(chunks.size(), 2);
        const QString first = chunks.at(0).toObject().value(QStringLiteral("objectId")).toString();
        const QString second = chunks.at(1).toObject().value(QStringLiteral("objectId")).toString();
        QVERIFY(forgeConflict(first, 1));
        QVERIFY(forgeConflict(second, 0));
        QVERIFY(forgeConflict(second, 2));

        // Not ended yet: nothing to retry.
        BatchJob *early = retry(asUser(), sent.batchId, false);
        QVERIFY(StackClient::runToEnd(early));
        QCOMPARE(early->error(), int(Job::InvalidInputError));
        QVERIFY2(early->errorString().contains(QStringLiteral("has not ended")), qPrintable(early->errorString()));
        delete early;

        startWorker();
        const BatchStatus ended = watchToEnd(asUser(), sent.batchId);
        QCOMPARE(ended.status, QStringLiteral("partial_failure"));
        QCOMPARE(ended.successCount, 3);
        QCOMPARE(ended.failCount, 3);
        m_partial = sent.batchId;

        // Asked twice at once: one retry.
        BatchJob *a = retry(asUser(), m_partial, false);
        BatchJob *b = retry(asUser(), m_partial, false);
        a->setAutoDelete(false);
        b->setAutoDelete(false);
        QSignalSpy aDone(a, &Job::result), bDone(b, &Job::result);
        a->start();
        b->start();
        QTRY_COMPARE_WITH_TIMEOUT(aDone.count() + bDone.count(), 2, 60000);
        QVERIFY2(a->error() == Job::NoError, qPrintable(a->errorString()));
        QVERIFY2(b->error() == Job::NoError, qPrintable(b->errorString()));
        m_retry = a->batch().batchId;
        QVERIFY(!m_retry.isEmpty());
        QCOMPARE(b->batch().batchId, m_retry);
        QVERIFY(m_retry != m_partial);
        delete a;
        delete b;

        // The retry is a batch of exactly those items, linked to its original.
        const BatchStatus retried = watchToEnd(asUser(), m_retry);
        QCOMPARE(retried.status, QStringLiteral("completed"));
        QCOMPARE(retried.totalMemories, 3);
        QCOMPARE(retried.successCount, 3);
        const QJsonArray linked = requestsWhere({{QStringLiteral("retryOf"), m_partial}});
        QCOMPARE(linked.size(), 1);
        QCOMPARE(linked.first().toObject().value(QStringLiteral("batchId")).toString(), m_retry);
        const QString tag = QStringLiteral("partial memory #%1: the quick brown fox");
        QCOMPARE(memoryContents(m_retry), (QStringList{tag.arg(1), tag.arg(3), tag.arg(5)}));

        // Asked again: the same batch, nothing new.
        QStringList infos;
        BatchJob *again = retry(asUser(), m_partial, true, &infos);
        QVERIFY(StackClient::runToEnd(again));
        QVERIFY2(again->error() == Job::NoError, qPrintable(again->errorString()));
        QCOMPARE(again->batch().batchId, m_retry);
        delete again;
        QVERIFY2(infos.join(QLatin1Char('\n')).contains(QStringLiteral("nothing was sent again")), qPrintable(infos.join(QLatin1Char('\n'))));
        QCOMPARE(requestsWhere({{QStringLiteral("retryOf"), m_partial}}).size(), 1);
        QCOMPARE(m_stack.memoryCount(m_retry), 3);

        // The retry completed: it has nothing to retry itself.
        BatchJob *nothing = retry(asUser(), m_retry, false);
        QVERIFY(StackClient::runToEnd(nothing));
        QCOMPARE(nothing->error(), int(Job::InvalidInputError));
        QVERIFY2(nothing->errorString().contains(QStringLiteral("nothing to retry")), qPrintable(nothing->errorString()));
        delete nothing;

        // The parent is one row of the list, with its chunks' counts summed.
        ListOptions listOptions;
        listOptions.limit = 1000;
        QList<BatchStatus> rows;
        int pages = 0;
        QVERIFY(listAll(asUser(), listOptions, &rows, &pages));
        int seen = 0;
        for (const BatchStatus &row : std::as_const(rows)) {
            QVERIFY2(row.parentBatchId.isEmpty(), qPrintable(row.batchId)); // never a chunk
            if (row.batchId != m_partial)
                continue;
            ++seen;
            QCOMPARE(row.status, QStringLiteral("partial_failure"));
            QCOMPARE(row.chunkCount, 2);
            QCOMPARE(row.totalMemories, 6);
            QCOMPARE(row.successCount, 3);
            QCOMPARE(row.failCount, 3);
        }
        QCOMPARE(seen, 1);
    }

    void retryFailedTakesWhatWasNeverStored()
    {
        // A batch that ended failed before the worker took it (its submitter
        // marked it so: its workflow waits on a queue nobody polls), with one
        // item stored after all (as a group stored, then not counted, would
        // be): the retry sends the other three.
        ConnectionSettings idle = asUser();
        idle.taskQueue = QStringLiteral("tst-listretry-nobody");
        const BatchStatus sent = submit(idle, 4, QStringLiteral("never"), submitOptions(false));
        QVERIFY(!sent.requestId.isEmpty());
        const QJsonObject request = m_stack.request(sent.requestId);
        const QByteArray token = m_stack.logIn();
        QVERIFY(!token.isEmpty());
        const Http marked = m_stack.parseAsUser(token, "PUT", QStringLiteral("/classes/BatchMemoryRequest/") + sent.requestId,
                                                R"({"status":"failed","errors":[{"error":"given up by hand","stage":"start"}]})");
        QCOMPARE(marked.status, 200);
        const QString id = BatchActivity::memoryObjectId(BatchActivity::memoryIdKey(m_settings.masterKey), sent.requestId, 1);
        const QJsonObject stored{{QStringLiteral("objectId"), id},
                                 {QStringLiteral("content"), QStringLiteral("never memory #1: the quick brown fox")},
                                 {QStringLiteral("batchId"), sent.batchId},
                                 {QStringLiteral("index"), 1},
                                 {QStringLiteral("request"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("Pointer")},
                                                                         {QStringLiteral("className"), QStringLiteral("BatchMemoryRequest")},
                                                                         {QStringLiteral("objectId"), sent.requestId}}},
                                 {QStringLiteral("ACL"), request.value(QStringLiteral("ACL"))}};
        QCOMPARE(m_stack.parseAsMaster("POST", QStringLiteral("/classes/Memory"), {}, QJsonDocument(stored).toJson()).status, 201);

        startWorker();
        QStringList infos;
        BatchJob *job = retry(asUser(), sent.batchId, true, &infos);
        QVERIFY(StackClient::runToEnd(job));
        QVERIFY2(job->error() == Job::NoError, qPrintable(job->errorString()));
        const QString retryId = job->batch().batchId;
        QCOMPARE(job->batch().status, QStringLiteral("completed"));
        delete job;
        QVERIFY2(infos.join(QLatin1Char('\n')).contains(QStringLiteral("3 item(s) to retry (0 refused by the worker, 3 never stored)")),
                 qPrintable(infos.join(QLatin1Char('\n'))));
        const QString tag = QStringLiteral("never memory #%1: the quick brown fox");
        QCOMPARE(memoryContents(retryId), (QStringList{tag.arg(0), tag.arg(2), tag.arg(3)}));
    }

    void anotherUserCanNeitherListNorRetryTheFirstsBatches()
    {
        QVERIFY(!m_partial.isEmpty());
        const QByteArray mallory = m_stack.signUp(QStringLiteral("mallory-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
        QVERIFY(!mallory.isEmpty());

        const Page page = list(asUser(mallory), {});
        QCOMPARE(page.error, int(Job::NoError));
        QVERIFY(page.rows.isEmpty());
        QVERIFY(page.next.isEmpty());

        BatchJob *job = retry(asUser(mallory), m_partial, false);
        QVERIFY(StackClient::runToEnd(job));
        QCOMPARE(job->error(), int(Job::NotFoundError));
        delete job;
        QCOMPARE(requestsWhere({{QStringLiteral("retryOf"), m_partial}}).size(), 1);

        // Nor link a request of hers to it by hand: the Cloud Code refuses.
        const Http file = m_stack.parseAsUser(mallory, "POST", QStringLiteral("/files/m.json.gz"), "not read", "application/gzip");
        QCOMPARE(file.status, 201);
        const QJsonObject fields{
            {QStringLiteral("batchId"), QStringLiteral("mallory-") + QUuid::createUuid().toString(QUuid::Id128)},
            {QStringLiteral("status"), QStringLiteral("pending")},
            {QStringLiteral("totalMemories"), 1},
            {QStringLiteral("retryOf"), m_partial},
            {QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                                          {QStringLiteral("name"), file.json().value(QStringLiteral("name"))},
                                                          {QStringLiteral("url"), file.json().value(QStringLiteral("url"))}}}};
        const Http linked = m_stack.parseAsUser(mallory, "POST", QStringLiteral("/classes/BatchMemoryRequest"), QJsonDocument(fields).toJson());
        QCOMPARE(linked.status, 400);
        QVERIFY2(linked.body.contains("retryOf must name a batch of the signed-in user"), linked.body.constData());
        QCOMPARE(requestsWhere({{QStringLiteral("retryOf"), m_partial}}).size(), 1);
    }

    void listPagesCoverEveryRowOnceInOrder()
    {
        // A user of its own, so that the rows are known: three batches that
        // complete, then two of one chunk and one of three chunks that stay
        // pending (their workflows wait on a task queue nobody polls).
        startWorker();
        const QByteArray token = m_stack.signUp(QStringLiteral("lister-") + QUuid::createUuid().toString(QUuid::WithoutBraces));
        QVERIFY(!token.isEmpty());
        const ConnectionSettings lister = asUser(token);
        QStringList completed, pending;
        for (int i = 0; i < 3; ++i) {
            const BatchStatus b = submit(lister, 2 + i, QStringLiteral("done%1").arg(i), submitOptions(true));
            QCOMPARE(b.status, QStringLiteral("completed"));
            completed.prepend(b.batchId); // newest first
        }
        ConnectionSettings idle = lister;
        idle.taskQueue = QStringLiteral("tst-listretry-nobody");
        for (int i = 0; i < 2; ++i) {
            const BatchStatus b = submit(idle, 2, QStringLiteral("wait%1").arg(i), submitOptions(false));
            QVERIFY(!b.batchId.isEmpty());
            pending.prepend(b.batchId);
        }
        SubmitOptions chunked = submitOptions(false);
        chunked.chunkItems = 2;
        const BatchStatus parent = submit(idle, 5, QStringLiteral("chunked"), chunked);
        QCOMPARE(parent.chunkCount, 3);
        pending.prepend(parent.batchId);
        const QStringList all = pending + completed;

        // Pages of 1, 2 and 4 rows: every row once, newest first.
        for (int limit : {1, 2, 4}) {
            ListOptions options;
            options.limit = limit;
            QList<BatchStatus> rows;
            int pages = 0;
            QVERIFY(listAll(lister, options, &rows, &pages));
            QStringList ids;
            for (const BatchStatus &row : std::as_const(rows))
                ids.append(row.batchId);
            QCOMPARE(ids, all);
            QCOMPARE(pages, (int(all.size()) + limit - 1) / limit);
            for (qsizetype i = 1; i < rows.size(); ++i)
                QVERIFY(rows.at(i - 1).createdAt >= rows.at(i).createdAt);
            QCOMPARE(rows.first().chunkCount, 3);
            QCOMPARE(rows.first().totalMemories, 5);
            QCOMPARE(rows.first().status, QStringLiteral("pending"));
        }

        // Filtered on what the row shows (the parent's status adds up its chunks).
        for (const auto &[statuses, expected] : {std::pair{QStringList{QStringLiteral("completed")}, completed},
                                                 std::pair{QStringList{QStringLiteral("pending")}, pending},
                                                 std::pair{QStringList{QStringLiteral("failed"), QStringLiteral("completed")}, completed},
                                                 std::pair{QStringList{QStringLiteral("canceled")}, QStringList()}}) {
            ListOptions options;
            options.limit = 1;
            options.statuses = statuses;
            QList<BatchStatus> rows;
            int pages = 0;
            QVERIFY(listAll(lister, options, &rows, &pages));
            QStringList ids;
            for (const BatchStatus &row : std::as_const(rows))
                ids.append(row.batchId);
            QCOMPARE(ids, expected);
        }

        // Since the third newest was created: the three newest.
        ListOptions recent;
        QList<BatchStatus> rows;
        int pages = 0;
        QVERIFY(listAll(lister, recent, &rows, &pages));
        recent.since = rows.at(2).createdAt;
        recent.limit = 2;
        QList<BatchStatus> since;
        QVERIFY(listAll(lister, recent, &since, &pages));
        QCOMPARE(since.size(), 3);
        QCOMPARE(since.last().batchId, all.at(2));

        // A cursor that list did not give is an error, not a page.
        ListOptions mangled;
        mangled.cursor = QStringLiteral("bm90IGEgY3Vyc29y");
        const Page refused = list(lister, mangled);
        QCOMPARE(refused.error, int(Job::InvalidInputError));
        QVERIFY2(refused.errorString.contains(QStringLiteral("cursor")), qPrintable(refused.errorString));
        ListOptions badStatus;
        badStatus.statuses = {QStringLiteral("done")};
        QCOMPARE(list(lister, badStatus).error, int(Job::InvalidInputError));
    }
};

QTEST_GUILESS_MAIN(tst_ListRetry)
#include "tst_listretry.moc"
