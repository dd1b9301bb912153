// `membatch gc` on the real stack: it removes what it should and nothing
// else. The situation is made by hand through Parse's REST API, as a user
// (uploads, requests: what the Cloud Code lets a submitter do) and with the
// master key (what a worker would have recorded: statuses, end times,
// results files and pages); then the real CLI runs, as an operator would.
//
// The stack is shared with the other integration tests, one after another:
// only objects made here are looked at, under names unique to this run. A
// gc run with --orphan-grace 0s also removes other tests' files that no
// request points to; nothing here expects anything of those.
#include "stackclient.h"

#include <QDateTime>
#include <QFile>
#include <QProcess>
#include <QScopeGuard>
#include <QTest>

namespace {

struct Uploaded
{
    QString name;
    QString url;
    QJsonObject asField() const
    {
        return {{QStringLiteral("__type"), QStringLiteral("File")}, {QStringLiteral("name"), name}, {QStringLiteral("url"), url}};
    }
};

QByteArray compact(const QJsonObject &o)
{
    return QJsonDocument(o).toJson(QJsonDocument::Compact);
}

QJsonObject date(const QDateTime &t)
{
    return {{QStringLiteral("__type"), QStringLiteral("Date")}, {QStringLiteral("iso"), t.toUTC().toString(Qt::ISODateWithMs)}};
}

QJsonObject pointerTo(const QString &requestId)
{
    return {{QStringLiteral("__type"), QStringLiteral("Pointer")},
            {QStringLiteral("className"), QStringLiteral("BatchMemoryRequest")},
            {QStringLiteral("objectId"), requestId}};
}

} // namespace

class tst_Cleanup : public QObject
{
    Q_OBJECT

private:
    StackClient m_stack;
    QByteArray m_token;
    QString m_userId;
    // Unique to this run: every name and batch id made here starts with it.
    const QString m_tag = QStringLiteral("gc%1").arg(QUuid::createUuid().toString(QUuid::Id128).left(12));

    struct Run
    {
        int exitCode = -1;
        QString out;
        QString err;
    };

    // `membatch gc ARGS` with the stack's settings, to its end.
    static Run gc(const QStringList &args)
    {
        QProcess cli;
        cli.setProcessEnvironment(QProcessEnvironment::systemEnvironment());
        cli.start(QStringLiteral(MEMBATCH_BIN), QStringList{QStringLiteral("gc")} + args);
        if (!cli.waitForFinished(120000)) {
            cli.kill();
            cli.waitForFinished();
            return {};
        }
        return {cli.exitStatus() == QProcess::NormalExit ? cli.exitCode() : -1,
                QString::fromUtf8(cli.readAllStandardOutput()), QString::fromUtf8(cli.readAllStandardError())};
    }

    // Uploads bytes as the test's user (asMaster: as the worker would).
    Uploaded upload(const QString &what, const QByteArray &bytes, bool asMaster = false)
    {
        const QString path = QStringLiteral("/files/%1_%2.json.gz").arg(m_tag, what);
        const Http r = asMaster ? m_stack.parseAsMaster("POST", path, {}, bytes, "application/gzip")
                                : m_stack.parseAsUser(m_token, "POST", path, bytes, "application/gzip");
        if (r.status != 201)
            qWarning("upload of %s: %d %s", qPrintable(what), r.status, r.body.constData());
        return {r.json().value(QStringLiteral("name")).toString(), r.json().value(QStringLiteral("url")).toString()};
    }

    // A pending request for file, created as the user, as submit would
    // (the Cloud Code checks it); its objectId, or empty.
    QString createRequest(const QString &batchId, const Uploaded &file)
    {
        const QJsonObject fields{
            {QStringLiteral("batchId"), batchId},
            {QStringLiteral("status"), QStringLiteral("pending")},
            {QStringLiteral("totalMemories"), 10},
            {QStringLiteral("workflowId"), QStringLiteral("batch-") + batchId},
            {QStringLiteral("batchDataFile"), file.asField()},
            {QStringLiteral("user"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("Pointer")},
                                                 {QStringLiteral("className"), QStringLiteral("_User")},
                                                 {QStringLiteral("objectId"), m_userId}}},
            {QStringLiteral("ACL"), QJsonObject{{m_userId, QJsonObject{{QStringLiteral("read"), true}, {QStringLiteral("write"), true}}}}},
        };
        const Http r = m_stack.parseAsUser(m_token, "POST", QStringLiteral("/classes/BatchMemoryRequest"), compact(fields));
        if (r.status != 201)
            qWarning("create of %s: %d %s", qPrintable(batchId), r.status, r.body.constData());
        return r.json().value(QStringLiteral("objectId")).toString();
    }

    // What the worker records, with the master key.
    bool update(const QString &requestId, const QJsonObject &fields)
    {
        const Http r = m_stack.parseAsMaster("PUT", QStringLiteral("/classes/BatchMemoryRequest/") + requestId, {}, compact(fields));
        if (r.status != 200)
            qWarning("update of %s: %d %s", qPrintable(requestId), r.status, r.body.constData());
        return r.status == 200;
    }

    bool addResultPages(const QString &requestId, const QString &batchId, int pages)
    {
        for (int i = 0; i < pages; ++i) {
            const QJsonObject page{{QStringLiteral("request"), pointerTo(requestId)},
                                   {QStringLiteral("batchId"), batchId},
                                   {QStringLiteral("first"), i * 5},
                                   {QStringLiteral("end"), i * 5 + 5},
                                   {QStringLiteral("failed"), 0},
                                   {QStringLiteral("items"), QJsonArray{}},
                                   {QStringLiteral("ACL"), QJsonObject{}}};
            if (m_stack.parseAsMaster("POST", QStringLiteral("/classes/BatchResultPage"), {}, compact(page)).status != 201)
                return false;
        }
        return true;
    }

    int resultPages(const QString &requestId)
    {
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QString::fromUtf8(compact({{QStringLiteral("request"), pointerTo(requestId)}})));
        query.addQueryItem(QStringLiteral("count"), QStringLiteral("1"));
        query.addQueryItem(QStringLiteral("limit"), QStringLiteral("0"));
        return m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchResultPage"), query).json().value(QStringLiteral("count")).toInt(-1);
    }

    // The file's registry rows (MembatchFile, master key only).
    QJsonArray registryRows(const QString &name)
    {
        QUrlQuery query;
        query.addQueryItem(QStringLiteral("where"), QString::fromUtf8(compact({{QStringLiteral("name"), name}})));
        return m_stack.parseAsMaster("GET", QStringLiteral("/classes/MembatchFile"), query).json().value(QStringLiteral("results")).toArray();
    }

    int download(const Uploaded &file)
    {
        return m_stack.send("GET", QUrl(file.url)).status;
    }

    QString fieldName(const QString &requestId, const QString &field)
    {
        return m_stack.request(requestId).value(field).toObject().value(QStringLiteral("name")).toString();
    }

    // One request of each kind gc must tell apart.
    struct Situation
    {
        QString batch[6];
        QString request[6];
        Uploaded file[6];
        Uploaded results[2]; // of the old completed request, and of the recent one
        Uploaded orphan;
    };
    enum Kind { OldCompleted, OldFailed, Recent, Processing, Pending, OldCanceled, Kinds };

private Q_SLOTS:
    void initTestCase()
    {
        m_token = m_stack.signUp(m_tag + QStringLiteral("-user"));
        QVERIFY2(!m_token.isEmpty(), "sign-up failed");
        m_userId = m_stack.parseAsUser(m_token, "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        QVERIFY(!m_userId.isEmpty());
    }

    // The Cloud Code records every upload, and nobody but the master key
    // sees the record.
    void registryRecordsUploads()
    {
        const QByteArray bytes(1234, 'r');
        const Uploaded file = upload(QStringLiteral("registry"), bytes);
        QVERIFY(!file.name.isEmpty());
        const QJsonArray rows = registryRows(file.name);
        QCOMPARE(rows.size(), 1);
        const QJsonObject row = rows.first().toObject();
        QCOMPARE(row.value(QStringLiteral("url")).toString(), file.url);
        QCOMPARE(row.value(QStringLiteral("size")).toInteger(), qint64(bytes.size()));
        QCOMPARE(row.value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString(), m_userId);

        const Http asUser = m_stack.parseAsUser(m_token, "GET", QStringLiteral("/classes/MembatchFile"));
        QVERIFY2(asUser.status != 200, asUser.body.constData());
        const Http createAsUser = m_stack.parseAsUser(m_token, "POST", QStringLiteral("/classes/MembatchFile"),
                                                      compact({{QStringLiteral("name"), QStringLiteral("forged")}}));
        QVERIFY2(createAsUser.status != 201, createAsUser.body.constData());
    }

    void gcRemovesWhatItShouldAndNothingElse()
    {
        const QDateTime longAgo = QDateTime::currentDateTimeUtc().addDays(-400);
        const QDateTime lately = QDateTime::currentDateTimeUtc().addSecs(-3600);
        Situation s;
        const char *names[Kinds] = {"old-completed", "old-failed", "recent", "processing", "pending", "old-canceled"};
        for (int k = 0; k < Kinds; ++k) {
            s.batch[k] = QStringLiteral("%1-%2").arg(m_tag, QLatin1String(names[k]));
            s.file[k] = upload(QLatin1String(names[k]), QByteArray(1000 + k, char('a' + k)));
            QVERIFY2(!s.file[k].name.isEmpty(), names[k]);
            s.request[k] = createRequest(s.batch[k], s.file[k]);
            QVERIFY2(!s.request[k].isEmpty(), names[k]);
        }
        auto ended = [](const char *status, const QDateTime &at) {
            return QJsonObject{{QStringLiteral("status"), QLatin1String(status)}, {QStringLiteral("completedAt"), date(at)}};
        };
        QVERIFY(update(s.request[OldCompleted], ended("completed", longAgo)));
        QVERIFY(update(s.request[OldFailed], ended("partial_failure", longAgo)));
        QVERIFY(update(s.request[OldCanceled], ended("canceled", longAgo)));
        QVERIFY(update(s.request[Recent], ended("completed", lately)));
        // Not finished, whatever its completedAt says.
        QVERIFY(update(s.request[Processing], ended("processing", longAgo)));

        // Results files (the worker uploads them with the master key) and
        // result pages: the old completed request's pages go (its results
        // file holds them), the old failed one's stay (it has none), and so
        // do the recent one's.
        s.results[0] = upload(QStringLiteral("old-completed-results"), QByteArray(777, 'x'), true);
        s.results[1] = upload(QStringLiteral("recent-results"), QByteArray(778, 'y'), true);
        QVERIFY(!s.results[0].name.isEmpty() && !s.results[1].name.isEmpty());
        QVERIFY(update(s.request[OldCompleted], {{QStringLiteral("resultsFile"), s.results[0].asField()}}));
        QVERIFY(update(s.request[Recent], {{QStringLiteral("resultsFile"), s.results[1].asField()}}));
        QVERIFY(addResultPages(s.request[OldCompleted], s.batch[OldCompleted], 3));
        QVERIFY(addResultPages(s.request[OldFailed], s.batch[OldFailed], 2));
        QVERIFY(addResultPages(s.request[Recent], s.batch[Recent], 2));

        // A file no request points to.
        s.orphan = upload(QStringLiteral("orphan"), QByteArray(4321, 'o'));
        QVERIFY(!s.orphan.name.isEmpty());

        const bool removed[Kinds] = {true, true, false, false, false, true};
        auto expectUntouched = [&] {
            for (int k = 0; k < Kinds; ++k) {
                QVERIFY2(download(s.file[k]) == 200, names[k]);
                QVERIFY2(fieldName(s.request[k], QStringLiteral("batchDataFile")) == s.file[k].name, names[k]);
                QVERIFY2(registryRows(s.file[k].name).size() == 1, names[k]);
            }
            QCOMPARE(download(s.orphan), 200);
            QCOMPARE(resultPages(s.request[OldCompleted]), 3);
        };

        // --dry-run: says what would go, removes nothing.
        const Run dry = gc({QStringLiteral("--dry-run"), QStringLiteral("--orphan-grace"), QStringLiteral("0s")});
        QVERIFY2(dry.exitCode == 0, qPrintable(dry.out + dry.err));
        for (int k = 0; k < Kinds; ++k) {
            const QString line = QStringLiteral("would remove batch file of batch %1 (request %2").arg(s.batch[k], s.request[k]);
            QVERIFY2(dry.out.contains(line) == removed[k], qPrintable(QStringLiteral("%1:\n%2").arg(QLatin1String(names[k]), dry.out)));
            QVERIFY2(dry.out.contains(s.file[k].name) == removed[k], names[k]);
        }
        QVERIFY2(dry.out.contains(QStringLiteral("%1, 1000 bytes, and its 3 result pages").arg(s.file[OldCompleted].name)), qPrintable(dry.out));
        QVERIFY2(dry.out.contains(QStringLiteral("would remove orphan file %1").arg(s.orphan.name)), qPrintable(dry.out));
        QVERIFY2(dry.out.contains(QStringLiteral("4321 bytes")), qPrintable(dry.out));
        QVERIFY2(!dry.out.contains(s.results[0].name) && !dry.out.contains(s.results[1].name), qPrintable(dry.out));
        QVERIFY2(dry.out.contains(QStringLiteral("gc (dry run): would remove")), qPrintable(dry.out));
        expectUntouched();

        // The real run.
        const Run real = gc({QStringLiteral("--orphan-grace"), QStringLiteral("0s")});
        QVERIFY2(real.exitCode == 0, qPrintable(real.out + real.err));
        for (int k = 0; k < Kinds; ++k) {
            const QString line = QStringLiteral("removed batch file of batch %1 (request %2").arg(s.batch[k], s.request[k]);
            QVERIFY2(real.out.contains(line) == removed[k], qPrintable(QStringLiteral("%1:\n%2").arg(QLatin1String(names[k]), real.out)));
            if (removed[k]) {
                QVERIFY2(download(s.file[k]) == 404, names[k]);
                QVERIFY2(fieldName(s.request[k], QStringLiteral("batchDataFile")).isEmpty(), names[k]);
                QVERIFY2(registryRows(s.file[k].name).isEmpty(), names[k]);
            } else {
                QVERIFY2(download(s.file[k]) == 200, names[k]);
                QVERIFY2(fieldName(s.request[k], QStringLiteral("batchDataFile")) == s.file[k].name, names[k]);
                QVERIFY2(registryRows(s.file[k].name).size() == 1, names[k]);
            }
            // The request itself and its status stay whatever gc did.
            QVERIFY2(!m_stack.request(s.request[k]).value(QStringLiteral("status")).toString().isEmpty(), names[k]);
        }
        QVERIFY2(real.out.contains(QStringLiteral("removed orphan file %1").arg(s.orphan.name)), qPrintable(real.out));
        QCOMPARE(download(s.orphan), 404);
        QVERIFY(registryRows(s.orphan.name).isEmpty());
        // Results files are the batches' record: kept, and still named.
        for (int i = 0; i < 2; ++i)
            QCOMPARE(download(s.results[i]), 200);
        QCOMPARE(fieldName(s.request[OldCompleted], QStringLiteral("resultsFile")), s.results[0].name);
        QCOMPARE(fieldName(s.request[Recent], QStringLiteral("resultsFile")), s.results[1].name);
        QCOMPARE(resultPages(s.request[OldCompleted]), 0);
        QCOMPARE(resultPages(s.request[OldFailed]), 2);
        QCOMPARE(resultPages(s.request[Recent]), 2);
        QVERIFY2(real.out.contains(QStringLiteral("gc: removed ")), qPrintable(real.out));

        // Again: nothing of ours is left to remove.
        const Run again = gc({QStringLiteral("--orphan-grace"), QStringLiteral("0s")});
        QVERIFY2(again.exitCode == 0, qPrintable(again.out + again.err));
        QVERIFY2(!again.out.contains(m_tag), qPrintable(again.out));
        QVERIFY2(again.out.contains(QStringLiteral("gc: removed ")), qPrintable(again.out));
        QCOMPARE(download(s.file[Recent]), 200);
        QCOMPARE(download(s.results[0]), 200);
    }

    // More orphans than gc reads in one page of the registry, and one that a
    // request points to on the last page: all of the rest go, that one stays.
    void orphansAcrossPages()
    {
        QList<Uploaded> orphans;
        for (int i = 0; i < 60; ++i) {
            orphans << upload(QStringLiteral("paged-%1").arg(i), QByteArray::number(i));
            QVERIFY(!orphans.last().name.isEmpty());
        }
        const Uploaded kept = upload(QStringLiteral("paged-kept"), "kept");
        QVERIFY(!createRequest(m_tag + QStringLiteral("-paged"), kept).isEmpty());

        const Run run = gc({QStringLiteral("--orphan-grace"), QStringLiteral("0s")});
        QVERIFY2(run.exitCode == 0, qPrintable(run.out + run.err));
        for (const Uploaded &orphan : std::as_const(orphans)) {
            QVERIFY2(run.out.contains(QStringLiteral("removed orphan file %1 ").arg(orphan.name)), qPrintable(orphan.name));
            QCOMPARE(download(orphan), 404);
        }
        QVERIFY2(!run.out.contains(kept.name), qPrintable(run.out));
        QCOMPARE(download(kept), 200);
        QCOMPARE(registryRows(kept.name).size(), 1);
    }

    // The default grace keeps a fresh upload (its request may be on its way).
    void freshOrphanIsKept()
    {
        const Uploaded fresh = upload(QStringLiteral("fresh"), "fresh");
        QVERIFY(!fresh.name.isEmpty());
        const Run run = gc({});
        QVERIFY2(run.exitCode == 0, qPrintable(run.out + run.err));
        QVERIFY2(!run.out.contains(fresh.name), qPrintable(run.out));
        QCOMPARE(download(fresh), 200);
    }

    // One removal that fails does not stop the others; the run says so and
    // exits 1, and the next run removes what is left. The failure is made
    // real: the stored file is made immutable (root and chattr needed).
    void failedRemovalIsReportedAndTheRestGoOn()
    {
        const Uploaded stuck = upload(QStringLiteral("stuck"), "stuck");
        const Uploaded loose = upload(QStringLiteral("loose"), "loose");
        QVERIFY(!stuck.name.isEmpty() && !loose.name.isEmpty());
        const QString stored = qEnvironmentVariable("MEMBATCH_STACK_DIR") + QStringLiteral("/parse/files/") + stuck.name;
        if (!QFile::exists(stored))
            QSKIP("the stack does not keep files where this test expects them");
        if (QProcess::execute(QStringLiteral("chattr"), {QStringLiteral("+i"), stored}) != 0)
            QSKIP("cannot make a file immutable here (chattr +i needs root and ext4 or similar)");
        auto unlock = qScopeGuard([stored] { QProcess::execute(QStringLiteral("chattr"), {QStringLiteral("-i"), stored}); });

        const Run run = gc({QStringLiteral("--orphan-grace"), QStringLiteral("0s")});
        QVERIFY2(run.exitCode == 1, qPrintable(run.out + run.err));
        QVERIFY2(run.out.contains(QStringLiteral("error: removing orphan file %1").arg(stuck.name)), qPrintable(run.out));
        QVERIFY2(run.out.contains(QStringLiteral("removed orphan file %1").arg(loose.name)), qPrintable(run.out));
        QVERIFY2(run.err.contains(QStringLiteral("1 removal failed")), qPrintable(run.err));
        QCOMPARE(download(stuck), 200);
        QCOMPARE(registryRows(stuck.name).size(), 1);
        QCOMPARE(download(loose), 404);

        unlock.dismiss();
        QCOMPARE(QProcess::execute(QStringLiteral("chattr"), {QStringLiteral("-i"), stored}), 0);
        const Run again = gc({QStringLiteral("--orphan-grace"), QStringLiteral("0s")});
        QVERIFY2(again.exitCode == 0, qPrintable(again.out + again.err));
        QVERIFY2(again.out.contains(QStringLiteral("removed orphan file %1").arg(stuck.name)), qPrintable(again.out));
        QCOMPARE(download(stuck), 404);
        QVERIFY(registryRows(stuck.name).isEmpty());
    }
};

QTEST_GUILESS_MAIN(tst_Cleanup)
#include "tst_cleanup.moc"
