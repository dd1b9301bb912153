#include "cleanupjob.h"

#include "batchrequest.h"
#include "logging.h"
#include "resultsrecorder.h"

#include <QJsonDocument>

namespace membatch {

namespace {

const QStringList kFinalStatuses{QLatin1String(BatchStatus::Completed), QLatin1String(BatchStatus::PartialFailure),
                                 QLatin1String(BatchStatus::Failed), QLatin1String(BatchStatus::Canceled)};

// Objects that point to files, per query (a file may have many).
constexpr int kReferencesPage = 1000;

QString when(const QDateTime &time)
{
    return time.isValid() ? time.toUTC().toString(QStringLiteral("yyyy-MM-dd HH:mm 'UTC'")) : QStringLiteral("(no date)");
}

QString fileName(const QJsonValue &file)
{
    return file.toObject().value(QStringLiteral("name")).toString();
}

// where, and after the last objectId of the page before (keyset paging:
// rows we delete or change between pages cannot make us skip any).
QJsonObject afterId(QJsonObject where, const QString &after)
{
    if (!after.isEmpty())
        where.insert(QStringLiteral("objectId"), QJsonObject{{QStringLiteral("$gt"), after}});
    return where;
}

// A query on the File fields of a class by file name. On Postgres a where
// with a File value ({"__type":"File","name":N}) is refused (119, "doesn't
// support this query type"), and $in with File values silently matches
// nothing; the plain name works, for = and for $in (checked on Parse
// Server 9.10). checkFileQuery() makes sure of it on the server at hand.
QJsonObject namedIn(const QStringList &fields, const QStringList &names)
{
    QJsonArray any;
    for (const QString &field : fields)
        any.append(QJsonObject{{field, QJsonObject{{QStringLiteral("$in"), QJsonArray::fromStringList(names)}}}});
    return any.size() == 1 ? any.first().toObject() : QJsonObject{{QStringLiteral("$or"), any}};
}

QStringList idsOf(const QJsonArray &results)
{
    QStringList ids;
    for (const QJsonValue &v : results)
        ids << v.toObject().value(QStringLiteral("objectId")).toString();
    return ids;
}

// "1 file", "2 files" (the messages are not translated).
QString counted(qint64 n, const QString &one, const QString &many)
{
    return QStringLiteral("%1 %2").arg(n).arg(n == 1 ? one : many);
}

// registered: the file has a registry row (which may lack the size).
QString sizeText(qint64 size, bool registered = true)
{
    if (size >= 0)
        return counted(size, QStringLiteral("byte"), QStringLiteral("bytes"));
    return registered ? QStringLiteral("size unknown") : QStringLiteral("size unknown (not in the file registry)");
}

} // namespace

CleanupJob::CleanupJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const CleanupOptions &options,
                       QObject *parent)
    : Job(parent)
    , m_settings(settings)
    , m_options(options)
    , m_parse(nam, settings, ParseClient::Auth::Master)
{
}

void CleanupJob::doStart()
{
    // Files can be deleted, and the registry read, with the master key only.
    if (const QStringList missing = m_settings.missingForOperator(); !missing.isEmpty()) {
        setError(ConfigurationError, tr("gc needs Parse's url, application id and master key: set %1")
                                         .arg(missing.join(QStringLiteral(", "))));
        emitResult();
        return;
    }
    if (m_options.olderThanMs < 0 || m_options.orphanGraceMs < 0) {
        setError(InvalidInputError, tr("gc: the age of requests and the grace of orphans must not be negative"));
        emitResult();
        return;
    }
    const QDateTime now = QDateTime::currentDateTimeUtc();
    m_endedBefore = now.addMSecs(-m_options.olderThanMs);
    m_uploadedBefore = now.addMSecs(-m_options.orphanGraceMs);
    nextRequestPage();
}

bool CleanupJob::doKill()
{
    RestClient::abortAll(this);
    return true;
}

QString CleanupJob::dryOr(const QString &done) const
{
    return m_options.dryRun ? tr("would remove") : done;
}

// ---- (a) the batch files of requests that ended long ago -------------------

void CleanupJob::nextRequestPage()
{
    const QJsonObject where{
        {QStringLiteral("status"), QJsonObject{{QStringLiteral("$in"), QJsonArray::fromStringList(kFinalStatuses)}}},
        {QStringLiteral("completedAt"), QJsonObject{{QStringLiteral("$lt"), ParseClient::date(m_endedBefore)}}},
        {QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("$exists"), true}}},
    };
    const QStringList keys{QStringLiteral("batchId"), QStringLiteral("status"), QStringLiteral("completedAt"),
                           QStringLiteral("batchDataFile"), QStringLiteral("resultsFile"), QStringLiteral("user")};
    m_parse.findKeys(BatchRequest::ClassName, afterId(where, m_after), keys, this, [this](const ApiResult &r) {
        if (!r.ok()) {
            finish(r, tr("listing the requests that ended before %1").arg(when(m_endedBefore)));
            return;
        }
        m_page = r.json.value(QStringLiteral("results")).toArray();
        m_pageIndex = 0;
        if (m_page.isEmpty()) {
            m_after.clear();
            readFileFields();
            return;
        }
        m_after = m_page.last().toObject().value(QStringLiteral("objectId")).toString();
        nextRequest();
    }, PageSize, QStringLiteral("objectId"));
}

void CleanupJob::nextRequest()
{
    if (isFinished())
        return;
    while (m_pageIndex < m_page.size()) {
        const QJsonObject request = m_page.at(m_pageIndex++).toObject();
        // What the query asked for, checked again: a where the server did
        // not apply as meant must not make us touch a running batch.
        const QDateTime ended = ParseClient::dateFrom(request.value(QStringLiteral("completedAt")));
        if (kFinalStatuses.contains(request.value(QStringLiteral("status")).toString()) && ended.isValid()
            && ended < m_endedBefore && !fileName(request.value(QStringLiteral("batchDataFile"))).isEmpty()) {
            cleanRequest(request);
            return;
        }
        qCWarning(lcParse) << "gc: Parse answered request" << request.value(QStringLiteral("objectId")).toString()
                           << "to a query it does not match; left alone";
    }
    nextRequestPage();
}

void CleanupJob::cleanRequest(const QJsonObject &request)
{
    BatchFile file;
    file.requestId = request.value(QStringLiteral("objectId")).toString();
    file.name = fileName(request.value(QStringLiteral("batchDataFile")));
    file.hasResults = !fileName(request.value(QStringLiteral("resultsFile"))).isEmpty();
    file.about = tr("batch file of batch %1 (request %2, ended %3)")
                     .arg(request.value(QStringLiteral("batchId")).toString(), file.requestId,
                          when(ParseClient::dateFrom(request.value(QStringLiteral("completedAt")))));

    // The registry row: the file's size, and what to delete with it.
    if (!ParseClient::isFileName(file.name)) {
        emitInfo(tr("kept the %1: '%2' is not a name Parse Server gives").arg(file.about, file.name.left(80)));
        nextRequest();
        return;
    }
    const QString owner = request.value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString();
    m_parse.findKeys(RegistryClassName, {{QStringLiteral("name"), file.name}}, {QStringLiteral("size"), QStringLiteral("user")}, this,
                     [this, file, owner](const ApiResult &found) mutable {
        if (!found.ok()) {
            failed(tr("looking up %1 (%2) in the file registry: %3").arg(file.name, file.about, found.message));
            nextRequest();
            return;
        }
        const QJsonArray rows = found.json.value(QStringLiteral("results")).toArray();
        // Only a file the request's own user uploaded goes with the request
        // (the Cloud Code lets nobody name another's; one that is not in the
        // registry, or is another's, is not this request's to delete).
        const bool own = !rows.isEmpty()
            && rows.first().toObject().value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString() == owner;
        if (!own) {
            emitInfo(tr("kept the %1 (%2): the file registry does not know it as an upload of the request's user")
                         .arg(file.about, file.name));
            nextRequest();
            return;
        }
        file.rowIds = idsOf(rows);
        if (!rows.isEmpty())
            file.size = rows.first().toObject().value(QStringLiteral("size")).toInteger(-1);
        if (!m_options.dryRun) {
            removeBatchFile(file);
            return;
        }
        if (!file.hasResults) {
            reportBatchFile(file, false, 0);
            return;
        }
        const QJsonObject pages{{QStringLiteral("request"), ParseClient::pointer(BatchRequest::ClassName, file.requestId)}};
        m_parse.count(ResultsRecorder::ClassName, pages, this, [this, file](const ApiResult &counted) {
            if (!counted.ok()) {
                failed(tr("counting the result pages of request %1: %2").arg(file.requestId, counted.message));
                nextRequest();
                return;
            }
            reportBatchFile(file, false, counted.json.value(QStringLiteral("count")).toInt());
        });
    }, 10, QStringLiteral("objectId"));
}

// The file, then the result pages, then the field: the field is cleared
// last, so that until then the next run finds this request again and does
// what is left (a file already deleted is fine then).
void CleanupJob::removeBatchFile(const BatchFile &file)
{
    removeFile(file.name, [this, file](const ApiResult &removed, bool wasGone) {
        if (!removed.ok()) {
            failed(tr("removing the %1: %2: %3").arg(file.about, file.name, removed.message));
            nextRequest();
            return;
        }
        if (!file.hasResults) {
            clearBatchFileField(file, wasGone, 0);
            return;
        }
        removeResultPages(file.requestId, QString(), 0, [this, file, wasGone](const ApiResult &r, int pages) {
            if (!r.ok()) {
                failed(tr("deleting the result pages of request %1 (its batch file is deleted, and %2 pages): %3")
                           .arg(file.requestId).arg(pages).arg(r.message));
                nextRequest();
                return;
            }
            clearBatchFileField(file, wasGone, pages);
        });
    });
}

void CleanupJob::clearBatchFileField(const BatchFile &file, bool wasGone, int pages)
{
    const QJsonObject clear{{QStringLiteral("batchDataFile"), QJsonObject{{QStringLiteral("__op"), QStringLiteral("Delete")}}}};
    m_parse.updateObject(BatchRequest::ClassName, file.requestId, clear, this, [this, file, wasGone, pages](const ApiResult &r) {
        if (!r.ok()) {
            failed(tr("clearing batchDataFile of request %1 (its file %2 is deleted): %3").arg(file.requestId, file.name, r.message));
            nextRequest();
            return;
        }
        deleteObjects(RegistryClassName, file.rowIds, [this, file, wasGone, pages](const ApiResult &deleted) {
            // The file is gone and nothing points to it: a row left behind
            // is removed as an orphan's by a later run.
            if (!deleted.ok())
                failed(tr("deleting the registry row of %1: %2").arg(file.name, deleted.message));
            reportBatchFile(file, wasGone, pages);
        });
    });
}

void CleanupJob::reportBatchFile(const BatchFile &file, bool wasGone, int pages)
{
    ++m_batchFiles;
    m_resultPages += pages;
    QString line;
    if (wasGone) {
        line = tr("cleared the %1: %2 was already gone").arg(file.about, file.name);
    } else {
        line = tr("%1 %2: %3, %4").arg(dryOr(tr("removed")), file.about, file.name, sizeText(file.size, !file.rowIds.isEmpty()));
        countBytes(file.size);
    }
    if (pages > 0)
        line += tr(", and its %1").arg(counted(pages, tr("result page"), tr("result pages")));
    emitInfo(line);
    nextRequest();
}

void CleanupJob::removeResultPages(const QString &requestId, const QString &after, int removed,
                                   const std::function<void(const ApiResult &, int)> &done)
{
    const QJsonObject where{{QStringLiteral("request"), ParseClient::pointer(BatchRequest::ClassName, requestId)}};
    m_parse.findKeys(ResultsRecorder::ClassName, afterId(where, after), {QStringLiteral("objectId")}, this,
                     [this, requestId, removed, done](const ApiResult &r) {
        if (!r.ok()) {
            done(r, removed);
            return;
        }
        const QStringList ids = idsOf(r.json.value(QStringLiteral("results")).toArray());
        if (ids.isEmpty()) {
            done(r, removed);
            return;
        }
        deleteObjects(ResultsRecorder::ClassName, ids, [this, requestId, removed, done, ids](const ApiResult &deleted) {
            if (!deleted.ok()) {
                done(deleted, removed);
                return;
            }
            removeResultPages(requestId, ids.last(), removed + int(ids.size()), done);
        });
    }, PageSize, QStringLiteral("objectId"));
}

// ---- (b) files that no object points to ------------------------------------

void CleanupJob::readFileFields()
{
    // Every File field of every class, not only the request's two: a Parse
    // Server that membatch shares with an app must not lose the app's files.
    // (A File inside an Array or Object field cannot be queried: such a
    // file would count as an orphan. membatch has none.)
    m_parse.schemas(this, [this](const ApiResult &r) {
        if (!r.ok()) {
            finish(r, tr("reading the schema (which classes have File fields)"));
            return;
        }
        m_fileFields.clear();
        const QJsonArray classes = r.json.value(QStringLiteral("results")).toArray();
        for (const QJsonValue &c : classes) {
            const QJsonObject fields = c.toObject().value(QStringLiteral("fields")).toObject();
            QStringList files;
            for (auto it = fields.begin(); it != fields.end(); ++it)
                if (it.value().toObject().value(QStringLiteral("type")).toString() == QLatin1String("File"))
                    files << it.key();
            if (!files.isEmpty())
                m_fileFields.append({c.toObject().value(QStringLiteral("className")).toString(), files});
        }
        checkFileQuery(0);
    });
}

// For each File field: one object that has a file there must be found by
// the query by name that findReferences() makes. Were it to find nothing
// (another database adapter, another Parse version), every file would look
// like an orphan: then no orphan is removed at all.
void CleanupJob::checkFileQuery(int index)
{
    qsizetype flat = index;
    qsizetype c = 0;
    while (c < m_fileFields.size() && flat >= m_fileFields.at(c).second.size())
        flat -= m_fileFields.at(c++).second.size();
    if (c == m_fileFields.size()) {
        nextOrphanPage();
        return;
    }
    const QString className = m_fileFields.at(c).first;
    const QString field = m_fileFields.at(c).second.at(flat);
    const QString where = QStringLiteral("%1.%2").arg(className, field);
    const QJsonObject any{{field, QJsonObject{{QStringLiteral("$exists"), true}}}};
    m_parse.findKeys(className, any, {field}, this, [this, index, className, field, where](const ApiResult &r) {
        if (!r.ok()) {
            finish(r, tr("checking queries on %1").arg(where));
            return;
        }
        const QJsonArray results = r.json.value(QStringLiteral("results")).toArray();
        const QJsonObject sample = results.isEmpty() ? QJsonObject() : results.first().toObject();
        const QString name = fileName(sample.value(field));
        if (name.isEmpty()) {
            checkFileQuery(index + 1); // no file there to check with
            return;
        }
        const QString id = sample.value(QStringLiteral("objectId")).toString();
        QJsonObject byName = namedIn({field}, {name});
        byName.insert(QStringLiteral("objectId"), id);
        m_parse.findKeys(className, byName, {QStringLiteral("objectId")}, this, [this, index, className, where, id](const ApiResult &named) {
            if (!named.ok()) {
                finish(named, tr("checking queries on %1").arg(where));
                return;
            }
            if (!idsOf(named.json.value(QStringLiteral("results")).toArray()).contains(id)) {
                ApiResult refused = named;
                refused.error = ServerError;
                refused.message = tr("a query of %1 by file name did not find %2 %3, which has one: this Parse "
                                     "Server does not answer the queries gc relies on, so no orphan is removed")
                                      .arg(where, className, id);
                finish(refused, tr("checking queries on %1").arg(where));
                return;
            }
            checkFileQuery(index + 1);
        }, PageSize, QStringLiteral("objectId"));
    }, 1, QStringLiteral("objectId"));
}

void CleanupJob::nextOrphanPage()
{
    const QJsonObject where{
        {QStringLiteral("createdAt"), QJsonObject{{QStringLiteral("$lt"), ParseClient::date(m_uploadedBefore)}}}};
    const QStringList keys{QStringLiteral("name"), QStringLiteral("size")};
    m_parse.findKeys(RegistryClassName, afterId(where, m_after), keys, this, [this](const ApiResult &r) {
        if (!r.ok()) {
            finish(r, tr("listing the file registry (%1) for files uploaded before %2").arg(RegistryClassName, when(m_uploadedBefore)));
            return;
        }
        m_page = r.json.value(QStringLiteral("results")).toArray();
        m_pageIndex = 0;
        if (m_page.isEmpty()) {
            finish();
            return;
        }
        m_after = m_page.last().toObject().value(QStringLiteral("objectId")).toString();
        m_referenced.clear();
        findReferences(0, QString());
    }, OrphanPageSize, QStringLiteral("objectId"));
}

// Collects which names of this page any object points to, one class (and
// a page of its objects) at a time.
void CleanupJob::findReferences(int classIndex, const QString &after)
{
    if (classIndex >= m_fileFields.size()) {
        nextOrphan();
        return;
    }
    QStringList names;
    for (const QJsonValue &row : std::as_const(m_page))
        names << row.toObject().value(QStringLiteral("name")).toString();
    const QString className = m_fileFields.at(classIndex).first;
    const QStringList fields = m_fileFields.at(classIndex).second;
    m_parse.findKeys(className, afterId(namedIn(fields, names), after), fields, this, [this, classIndex, className, fields](const ApiResult &r) {
        if (!r.ok()) {
            finish(r, tr("looking for objects of %1 that point to registered files").arg(className));
            return;
        }
        const QJsonArray objects = r.json.value(QStringLiteral("results")).toArray();
        for (const QJsonValue &o : objects)
            for (const QString &field : fields) {
                const QString name = fileName(o.toObject().value(field));
                if (!name.isEmpty())
                    m_referenced.insert(name);
            }
        if (objects.size() == kReferencesPage)
            findReferences(classIndex, objects.last().toObject().value(QStringLiteral("objectId")).toString());
        else
            findReferences(classIndex + 1, QString());
    }, kReferencesPage, QStringLiteral("objectId"));
}

void CleanupJob::nextOrphan()
{
    if (isFinished())
        return;
    while (m_pageIndex < m_page.size()) {
        const QJsonObject row = m_page.at(m_pageIndex++).toObject();
        Orphan orphan;
        orphan.rowId = row.value(QStringLiteral("objectId")).toString();
        orphan.name = row.value(QStringLiteral("name")).toString();
        orphan.uploaded = ParseClient::dateFrom(row.value(QStringLiteral("createdAt")));
        orphan.size = row.value(QStringLiteral("size")).toInteger(-1);
        if (orphan.name.isEmpty() || m_referenced.contains(orphan.name) || !orphan.uploaded.isValid()
            || orphan.uploaded >= m_uploadedBefore)
            continue;
        if (m_options.dryRun)
            reportOrphan(orphan, false);
        else
            removeOrphan(orphan);
        return;
    }
    nextOrphanPage();
}

void CleanupJob::removeOrphan(const Orphan &orphan)
{
    removeFile(orphan.name, [this, orphan](const ApiResult &removed, bool wasGone) {
        if (!removed.ok()) {
            failed(tr("removing orphan file %1 (uploaded %2): %3").arg(orphan.name, when(orphan.uploaded), removed.message));
            nextOrphan();
            return;
        }
        m_parse.deleteObject(RegistryClassName, orphan.rowId, this, [this, orphan, wasGone](const ApiResult &r) {
            if (!r.ok() && r.error != NotFoundError) {
                failed(tr("deleting the registry row %1 of orphan file %2 (the file is deleted): %3")
                           .arg(orphan.rowId, orphan.name, r.message));
                nextOrphan();
                return;
            }
            reportOrphan(orphan, wasGone);
        });
    });
}

void CleanupJob::reportOrphan(const Orphan &orphan, bool wasGone)
{
    ++m_orphans;
    if (wasGone) {
        emitInfo(tr("removed the registry row of orphan file %1 (uploaded %2): the file was already gone")
                     .arg(orphan.name, when(orphan.uploaded)));
    } else {
        emitInfo(tr("%1 orphan file %2 (uploaded %3), %4")
                     .arg(dryOr(tr("removed")), orphan.name, when(orphan.uploaded), sizeText(orphan.size)));
        countBytes(orphan.size);
    }
    nextOrphan();
}

// ---- shared ----------------------------------------------------------------

void CleanupJob::removeFile(const QString &name, const std::function<void(const ApiResult &, bool)> &done)
{
    m_parse.deleteFile(name, this, [this, name, done](const ApiResult &r) {
        if (r.ok()) {
            done(r, false);
            return;
        }
        if (r.error != ServerError && r.error != NotFoundError) {
            done(r, false); // refused, unreachable: nothing to learn from the file
            return;
        }
        // A file that is not there fails to delete, in the adapter's own
        // words (FileSystemAdapter: 400 code 153 ENOENT; GCS: 404): ask
        // Parse for the file to tell "already gone" from a real failure.
        // By name, from Parse's own files route: never a url from a row.
        const QUrl url = appendPath(m_settings.parseUrl, QStringLiteral("/files/%1/%2").arg(m_settings.appId, name));
        m_parse.download(url, this, [r, done](const ApiResult &look) {
            if (look.httpStatus == 404)
                done(ApiResult{}, true);
            else
                done(r, false);
        });
    });
}

void CleanupJob::deleteObjects(const QString &className, const QStringList &ids, const Done &done)
{
    if (ids.isEmpty()) {
        done(ApiResult{});
        return;
    }
    QByteArrayList requests;
    for (const QString &id : ids)
        requests << compactJson({{QStringLiteral("method"), QStringLiteral("DELETE")},
                                 {QStringLiteral("path"), m_parse.batchPath(QStringLiteral("classes/%1/%2").arg(className, id))}});
    m_parse.batch(requests, this, [this, className, ids, done](const ApiResult &r) {
        if (!r.ok()) {
            done(r);
            return;
        }
        // One answer per request, in order: {"success":…} or {"error":{code,error}}.
        const QJsonArray answers = QJsonDocument::fromJson(r.body).array();
        int failures = 0;
        QString first;
        for (qsizetype i = 0; i < ids.size(); ++i) {
            const QJsonObject error = answers.at(i).toObject().value(QStringLiteral("error")).toObject();
            const bool gone = error.value(QStringLiteral("code")).toInt() == 101; // deleted meanwhile: fine
            if (answers.at(i).toObject().contains(QStringLiteral("success")) || gone)
                continue;
            if (failures++ == 0)
                first = tr("%1 %2: %3").arg(className, ids.at(i),
                                            error.isEmpty() ? tr("no answer") : error.value(QStringLiteral("error")).toString());
        }
        if (failures == 0) {
            done(r);
            return;
        }
        ApiResult failed = r;
        failed.error = ServerError;
        failed.message = tr("Parse deleted %1 of %2 objects through %3; the first it did not: %4")
                             .arg(ids.size() - failures).arg(ids.size()).arg(r.target, first);
        done(failed);
    });
}

void CleanupJob::failed(const QString &what)
{
    if (m_failures++ == 0)
        m_firstFailure = what;
    emitInfo(tr("error: %1").arg(what));
}

void CleanupJob::countBytes(qint64 size)
{
    if (size >= 0)
        m_bytes += size;
    else
        ++m_unknownSizes;
}

void CleanupJob::finish(const ApiResult &fatal, const QString &during)
{
    if (isFinished())
        return;
    QString bytes = counted(m_bytes, tr("byte"), tr("bytes"));
    if (m_unknownSizes > 0)
        bytes += tr(" and %1 of unknown size").arg(counted(m_unknownSizes, tr("file"), tr("files")));
    QString summary = tr("gc%1: %2 %3 of requests that ended before %4 and %5 that nothing points to, uploaded before %6 "
                         "(%7), and %8")
                          .arg(m_options.dryRun ? tr(" (dry run)") : QString(), dryOr(tr("removed")),
                               counted(m_batchFiles, tr("batch file"), tr("batch files")), when(m_endedBefore),
                               counted(m_orphans, tr("orphan file"), tr("orphan files")), when(m_uploadedBefore), bytes,
                               counted(m_resultPages, tr("result page"), tr("result pages")));
    if (m_failures > 0)
        summary += tr("; %1 failed").arg(counted(m_failures, tr("removal"), tr("removals")));
    if (!fatal.ok())
        summary += tr("; stopped early");
    emitInfo(summary);

    if (!fatal.ok())
        setError(fatal.error, tr("gc: %1: %2").arg(during, fatal.message));
    else if (m_failures > 0)
        setError(ServerError, tr("gc: %1 failed (each is listed above; run gc again to retry them); the first: %2")
                                  .arg(counted(m_failures, tr("removal"), tr("removals")), m_firstFailure));
    emitResult();
}

} // namespace membatch
