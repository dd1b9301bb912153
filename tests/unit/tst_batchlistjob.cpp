// BatchListJob against a fake Parse that evaluates the queries it is sent
// (the keyset condition, the status filter, the chunks of parents): pages
// cover every row once in order at two queries a page, a parent's status
// is its chunks' added up, and a server that stalls, cuts off or fails is
// ridden out or reported.
#include "batchlistjob.h"
#include "fakehttpserver.h"

#include <QScopeGuard>
#include <QSignalSpy>
#include <QTest>
#include <QUrlQuery>

using namespace membatch;
using Response = FakeHttpServer::Response;

namespace {

QJsonObject request(const QString &objectId, const QString &batchId, int ms, const QString &status, int total = 2,
                    const QString &parent = {}, int chunks = 1)
{
    QJsonObject o{{QStringLiteral("objectId"), objectId},
                  {QStringLiteral("batchId"), batchId},
                  {QStringLiteral("createdAt"), QDateTime::fromMSecsSinceEpoch(1764600000000LL + ms, Qt::UTC).toString(Qt::ISODateWithMs)},
                  {QStringLiteral("status"), status},
                  {QStringLiteral("totalMemories"), total},
                  {QStringLiteral("processedCount"), status == QLatin1String("pending") ? 0 : total},
                  {QStringLiteral("successCount"), status == QLatin1String("completed") ? total : 0},
                  {QStringLiteral("failCount"), status == QLatin1String("failed") ? total : 0},
                  {QStringLiteral("batchMetadata"), QJsonObject{{QStringLiteral("total_chunks"), chunks}}}};
    if (!parent.isEmpty())
        o.insert(QStringLiteral("parentBatchId"), parent);
    return o;
}

// Parse's order -createdAt,-objectId.
bool newer(const QJsonObject &a, const QJsonObject &b)
{
    const QString ca = a.value(QStringLiteral("createdAt")).toString(), cb = b.value(QStringLiteral("createdAt")).toString();
    return ca != cb ? ca > cb : a.value(QStringLiteral("objectId")).toString() > b.value(QStringLiteral("objectId")).toString();
}

} // namespace

class tst_BatchListJob : public QObject
{
    Q_OBJECT

private:
    // Seven rows: five batches of one chunk and two parents, p (its chunks
    // completed and failed: partial_failure, and its second chunk created
    // before its first) and q (both chunks completed). Newest first: s4,
    // q, s5, s3, p, s2, s1.
    QList<QJsonObject> m_objects{
        request(QStringLiteral("s1"), QStringLiteral("one"), 10, QStringLiteral("completed")),
        request(QStringLiteral("s2"), QStringLiteral("two"), 20, QStringLiteral("failed")),
        request(QStringLiteral("p2"), QStringLiteral("p-002"), 29, QStringLiteral("failed"), 3, QStringLiteral("p"), 2),
        request(QStringLiteral("p1"), QStringLiteral("p-001"), 30, QStringLiteral("completed"), 4, QStringLiteral("p"), 2),
        request(QStringLiteral("s3"), QStringLiteral("three"), 40, QStringLiteral("pending")),
        request(QStringLiteral("q1"), QStringLiteral("q-001"), 50, QStringLiteral("completed"), 2, QStringLiteral("q"), 2),
        request(QStringLiteral("q2"), QStringLiteral("q-002"), 51, QStringLiteral("completed"), 2, QStringLiteral("q"), 2),
        request(QStringLiteral("s4"), QStringLiteral("four"), 60, QStringLiteral("completed")),
        // The same time as s3: the greater objectId comes first.
        request(QStringLiteral("s5"), QStringLiteral("five"), 40, QStringLiteral("completed")),
    };
    int m_rowQueries = 0;
    int m_chunkQueries = 0;

    // Answers a find the way Parse would, for the two queries list sends.
    Response find(const FakeHttpServer::Request &r)
    {
        const QUrlQuery query(r.query);
        const QJsonObject where = QJsonDocument::fromJson(query.queryItemValue(QStringLiteral("where"), QUrl::FullyDecoded).toUtf8()).object();
        const int limit = query.queryItemValue(QStringLiteral("limit")).toInt();
        QList<QJsonObject> found;
        if (where.contains(QStringLiteral("parentBatchId"))) { // the chunks of parents
            ++m_chunkQueries;
            const QJsonArray in = where.value(QStringLiteral("parentBatchId")).toObject().value(QStringLiteral("$in")).toArray();
            for (const QJsonObject &o : std::as_const(m_objects))
                if (in.contains(o.value(QStringLiteral("parentBatchId"))))
                    found.append(o);
        } else { // rows
            ++m_rowQueries;
            const QJsonArray all = where.value(QStringLiteral("$and")).toArray();
            const QJsonArray kinds = all.at(0).toObject().value(QStringLiteral("$or")).toArray();
            const QJsonArray statuses = kinds.at(0).toObject().value(QStringLiteral("status")).toObject().value(QStringLiteral("$in")).toArray();
            QString afterTime, afterId, since;
            for (qsizetype i = 1; i < all.size(); ++i) {
                const QJsonObject c = all.at(i).toObject();
                if (c.contains(QStringLiteral("$or"))) {
                    const QJsonObject same = c.value(QStringLiteral("$or")).toArray().at(1).toObject();
                    afterTime = same.value(QStringLiteral("createdAt")).toObject().value(QStringLiteral("iso")).toString();
                    afterId = same.value(QStringLiteral("objectId")).toObject().value(QStringLiteral("$lt")).toString();
                } else {
                    since = c.value(QStringLiteral("createdAt")).toObject().value(QStringLiteral("$gte")).toObject().value(QStringLiteral("iso")).toString();
                }
            }
            const QRegularExpression first(kinds.at(1).toObject().value(QStringLiteral("batchId")).toObject().value(QStringLiteral("$regex")).toString());
            for (const QJsonObject &o : std::as_const(m_objects)) {
                const bool chunk = o.contains(QStringLiteral("parentBatchId"));
                if (chunk ? !first.match(o.value(QStringLiteral("batchId")).toString()).hasMatch()
                          : (!statuses.isEmpty() && !statuses.contains(o.value(QStringLiteral("status")))))
                    continue;
                const QString at = o.value(QStringLiteral("createdAt")).toString();
                if (!afterTime.isEmpty() && !(at < afterTime || (at == afterTime && o.value(QStringLiteral("objectId")).toString() < afterId)))
                    continue;
                if (!since.isEmpty() && at < since)
                    continue;
                found.append(o);
            }
        }
        std::sort(found.begin(), found.end(), newer);
        QJsonArray results;
        for (const QJsonObject &o : std::as_const(found).first(std::min<qsizetype>(found.size(), limit)))
            results.append(o);
        return Response::json(200, {{QStringLiteral("results"), results}});
    }

    void serve(FakeHttpServer &server)
    {
        server.on("POST", QStringLiteral("/parse/login"),
                  Response::json(200, {{QStringLiteral("objectId"), QStringLiteral("u1")}, {QStringLiteral("sessionToken"), QStringLiteral("r:tok")}}));
        server.on("POST", QStringLiteral("/parse/logout"), Response::json(200, {}));
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"), [this](const FakeHttpServer::Request &r) { return find(r); });
    }

    static ConnectionSettings settingsFor(const FakeHttpServer &server)
    {
        ConnectionSettings s = settingsForFake(server);
        s.masterKey.clear();
        s.username = QStringLiteral("ann");
        s.password = QStringLiteral("pw");
        return s;
    }

    struct Page
    {
        int error = -1;
        QString errorString;
        QStringList ids;
        QList<BatchStatus> rows;
        QString next;
    };
    // The first page of the partly failed batches, listed from the fake
    // server over m_objects (error -1 if the server could not listen).
    Page partialFailures()
    {
        FakeHttpServer server;
        if (!server.listen())
            return {};
        serve(server);
        ListOptions options;
        options.statuses = {QStringLiteral("partial_failure")};
        return run(&m_nam, settingsFor(server), options);
    }
    Page run(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ListOptions &options)
    {
        BatchListJob job(nam, settings, options);
        job.setAutoDelete(false);
        QSignalSpy result(&job, &Job::result);
        job.start();
        if (!result.wait(20000))
            return {};
        Page page{job.error(), job.errorString(), {}, job.batches(), job.nextCursor()};
        for (const BatchStatus &b : page.rows)
            page.ids.append(b.batchId);
        return page;
    }

    QNetworkAccessManager m_nam;

private Q_SLOTS:
    void init()
    {
        m_rowQueries = m_chunkQueries = 0;
    }

    void pagesCoverEveryRowOnce_data()
    {
        QTest::addColumn<int>("limit");
        QTest::addColumn<QStringList>("statuses");
        QTest::addColumn<QStringList>("expected");
        const QStringList all{QStringLiteral("four"), QStringLiteral("q"), QStringLiteral("five"), QStringLiteral("three"), QStringLiteral("p"),
                              QStringLiteral("two"), QStringLiteral("one")};
        for (int limit : {1, 2, 4, 50})
            QTest::addRow("all, %d a page", limit) << limit << QStringList() << all;
        // The parent p is partial_failure (its first chunk completed), q completed.
        QTest::newRow("completed") << 1 << QStringList{QStringLiteral("completed")}
                                   << QStringList{QStringLiteral("four"), QStringLiteral("q"), QStringLiteral("five"), QStringLiteral("one")};
        QTest::newRow("partial_failure") << 2 << QStringList{QStringLiteral("partial_failure")} << QStringList{QStringLiteral("p")};
        QTest::newRow("failed or pending") << 50 << QStringList{QStringLiteral("failed"), QStringLiteral("pending")}
                                           << QStringList{QStringLiteral("three"), QStringLiteral("two")};
        QTest::newRow("canceled") << 3 << QStringList{QStringLiteral("canceled")} << QStringList();
    }
    void pagesCoverEveryRowOnce()
    {
        QFETCH(int, limit);
        QFETCH(QStringList, statuses);
        QFETCH(QStringList, expected);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ListOptions options;
        options.limit = limit;
        options.statuses = statuses;
        QStringList ids;
        int pages = 0;
        for (;;) {
            const Page page = run(&m_nam, settingsFor(server), options);
            QCOMPARE(page.error, int(Job::NoError));
            QVERIFY(page.rows.size() <= limit);
            ids += page.ids;
            ++pages;
            QVERIFY(pages <= 10);
            if (page.next.isEmpty())
                break;
            options.cursor = page.next;
        }
        QCOMPARE(ids, expected);
        if (statuses.isEmpty()) {
            // A full page of rows asks for no other: as many pages as it takes.
            QCOMPARE(pages, std::max<int>(1, (int(expected.size()) + limit - 1) / limit));
            QCOMPARE(m_rowQueries, pages);
        }
        QVERIFY(m_chunkQueries <= m_rowQueries); // never a query per row
    }

    void aParentIsOneRowWithItsChunksAddedUp()
    {
        const Page page = partialFailures();
        QCOMPARE(page.error, int(Job::NoError));
        QCOMPARE(page.rows.size(), 1);
        const BatchStatus p = page.rows.first();
        QCOMPARE(p.batchId, QStringLiteral("p"));
        QCOMPARE(p.chunkCount, 2);
        QCOMPARE(p.chunksFound, 2);
        QCOMPARE(p.totalMemories, 7);
        QCOMPARE(p.successCount, 4);
        QCOMPARE(p.failCount, 3);
        // Dated as it is ordered: by its first chunk, not the one created before it.
        QCOMPARE(p.createdAt, QDateTime::fromMSecsSinceEpoch(1764600000030LL, Qt::UTC));
        QVERIFY(page.next.isEmpty());
    }

    // Another user's request naming p as its parent (a colleague's, seen
    // through an organization's role; or one planted by hand) is not one of
    // p's chunks: a batch id is unique per user only.
    void anotherUsersChunkIsNotAddedIn()
    {
        const QList<QJsonObject> before = m_objects;
        auto restore = qScopeGuard([&] { m_objects = before; });
        QJsonObject foreign = request(QStringLiteral("x2"), QStringLiteral("p-002"), 31, QStringLiteral("completed"), 100,
                                      QStringLiteral("p"), 2);
        foreign.insert(QStringLiteral("user"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("Pointer")},
                                                           {QStringLiteral("className"), QStringLiteral("_User")},
                                                           {QStringLiteral("objectId"), QStringLiteral("mallory")}});
        m_objects.append(foreign);
        const Page page = partialFailures();
        QCOMPARE(page.error, int(Job::NoError));
        QCOMPARE(page.rows.size(), 1);
        QCOMPARE(page.rows.first().chunksFound, 2);
        QCOMPARE(page.rows.first().totalMemories, 7);
        QCOMPARE(page.rows.first().successCount, 4);
    }

    void sinceIsCreatedAtOrAfter()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ListOptions options;
        options.since = QDateTime::fromMSecsSinceEpoch(1764600000040LL, Qt::UTC);
        const Page page = run(&m_nam, settingsFor(server), options);
        QCOMPARE(page.ids, (QStringList{QStringLiteral("four"), QStringLiteral("q"), QStringLiteral("five"), QStringLiteral("three")}));
    }

    void refusesBadOptionsBeforeAnyRequest_data()
    {
        QTest::addColumn<int>("limit");
        QTest::addColumn<QStringList>("statuses");
        QTest::addColumn<QString>("cursor");
        QTest::addColumn<QString>("says");
        QTest::newRow("limit 0") << 0 << QStringList() << QString() << "1 to 1000";
        QTest::newRow("limit 1001") << 1001 << QStringList() << QString() << "1 to 1000";
        QTest::newRow("unknown status") << 10 << QStringList{QStringLiteral("done")} << QString() << "no status 'done'";
        QTest::newRow("mangled cursor") << 10 << QStringList() << QStringLiteral("bm90IGEgY3Vyc29y") << "not one that list gave";
    }
    void refusesBadOptionsBeforeAnyRequest()
    {
        QFETCH(int, limit);
        QFETCH(QStringList, statuses);
        QFETCH(QString, cursor);
        QFETCH(QString, says);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        ListOptions options;
        options.limit = limit;
        options.statuses = statuses;
        options.cursor = cursor;
        const Page page = run(&m_nam, settingsFor(server), options);
        QCOMPARE(page.error, int(Job::InvalidInputError));
        QVERIFY2(page.errorString.contains(says), qPrintable(page.errorString));
        QVERIFY(server.requests.isEmpty());
    }

    void ridesOutAServerThatDeclinesOrCutsOff_data()
    {
        QTest::addColumn<int>("status");
        QTest::addColumn<int>("kind");
        QTest::newRow("503") << 503 << int(Response::Kind::Normal);
        QTest::newRow("cut off") << 200 << int(Response::Kind::CutOff);
    }
    void ridesOutAServerThatDeclinesOrCutsOff()
    {
        QFETCH(int, status);
        QFETCH(int, kind);
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        int calls = 0;
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"), [&, status, kind](const FakeHttpServer::Request &r) {
            if (++calls == 1)
                return Response{status, R"({"code":1,"error":"busy"})", {{"Retry-After", "0"}}, Response::Kind(kind)};
            return find(r);
        });
        const Page page = run(&m_nam, settingsFor(server), {});
        QVERIFY2(page.error == Job::NoError, qPrintable(page.errorString));
        QCOMPARE(page.ids.size(), 7);
        QVERIFY(calls >= 3); // the rows twice, then the chunks
    }

    void rowsOfWrongTypesAreLeftOut()
    {
        // A page with a number, a string, an array, and objects without a
        // batch id or with a createdAt that is no date, among two requests.
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        const QJsonObject good1 = request(QStringLiteral("g1"), QStringLiteral("good-one"), 90, QStringLiteral("completed"));
        const QJsonObject good2 = request(QStringLiteral("g2"), QStringLiteral("good-two"), 80, QStringLiteral("completed"));
        QJsonObject noId = good1;
        noId.remove(QStringLiteral("batchId"));
        QJsonObject badDate = request(QStringLiteral("g3"), QStringLiteral("bad-date"), 70, QStringLiteral("completed"));
        badDate.insert(QStringLiteral("createdAt"), 42);
        QJsonObject badObjectId = request(QStringLiteral("g4"), QStringLiteral("bad-oid"), 60, QStringLiteral("completed"));
        badObjectId.insert(QStringLiteral("objectId"), QStringLiteral("a\"b"));
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"),
                  Response::json(200, {{QStringLiteral("results"), QJsonArray{7, QStringLiteral("x"), QJsonArray{1}, good1, noId, badDate, badObjectId, good2}}}));
        ListOptions options;
        options.limit = 50;
        const Page page = run(&m_nam, settingsFor(server), options);
        QVERIFY2(page.error == Job::NoError, qPrintable(page.errorString));
        QCOMPARE(page.ids, QStringList({QStringLiteral("good-one"), QStringLiteral("good-two")}));
    }

    void saysWhatFailedWhenParseFails()
    {
        FakeHttpServer server;
        QVERIFY(server.listen());
        serve(server);
        server.on("GET", QStringLiteral("/parse/classes/BatchMemoryRequest"),
                  Response::json(400, {{QStringLiteral("code"), 102}, {QStringLiteral("error"), QStringLiteral("bad query")}}));
        const Page page = run(&m_nam, settingsFor(server), {});
        QCOMPARE(page.error, int(Job::ServerError));
        QVERIFY2(page.errorString.contains(QStringLiteral("listing batches in Parse")) && page.errorString.contains(QStringLiteral("bad query")),
                 qPrintable(page.errorString));
        QVERIFY(!page.errorString.contains(QStringLiteral("SECRET")));
        QVERIFY(page.rows.isEmpty());
        QCOMPARE(server.requestsTo("POST", QStringLiteral("/parse/logout")).size(), 1); // the session it opened is closed
    }
};

QTEST_GUILESS_MAIN(tst_BatchListJob)
#include "tst_batchlistjob.moc"
