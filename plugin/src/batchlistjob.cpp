#include "batchlistjob.h"

#include "batchrequest.h"
#include "logging.h"

namespace membatch {

BatchListJob::BatchListJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ListOptions &options,
                           QObject *parent)
    : ClientListJob(nam, settings, QString(), parent)
    , m_options(options)
{
    // A listing outlasts a short restart of Parse, as a watch does.
    RetryPolicy patient;
    patient.maxAttempts = 10;
    patient.budgetMs = 60 * 1000;
    m_parse.setRetryPolicy(patient);
}

QStringList BatchListJob::knownStatuses()
{
    return {QLatin1String(BatchStatus::Pending), QLatin1String(BatchStatus::Processing), QLatin1String(BatchStatus::Completed),
            QLatin1String(BatchStatus::PartialFailure), QLatin1String(BatchStatus::Failed), QLatin1String(BatchStatus::Canceled)};
}

QJsonObject BatchListJob::rowQuery(const ListCursor &after, const QDateTime &since, const QStringList &statuses)
{
    QJsonObject single{{QStringLiteral("parentBatchId"), QJsonObject{{QStringLiteral("$exists"), false}}}};
    if (!statuses.isEmpty())
        single.insert(QStringLiteral("status"), QJsonObject{{QStringLiteral("$in"), QJsonArray::fromStringList(statuses)}});
    const QJsonObject firstChunk{{QStringLiteral("parentBatchId"), QJsonObject{{QStringLiteral("$exists"), true}}},
                                 {QStringLiteral("batchId"), QJsonObject{{QStringLiteral("$regex"), firstChunkPattern()}}}};
    QJsonArray all{QJsonObject{{QStringLiteral("$or"), QJsonArray{single, firstChunk}}}};
    if (!after.isNull())
        all.append(after.after());
    if (since.isValid())
        all.append(QJsonObject{{QStringLiteral("createdAt"), QJsonObject{{QStringLiteral("$gte"), ParseClient::date(since)}}}});
    return {{QStringLiteral("$and"), all}};
}

QString BatchListJob::chunksKey(const QJsonObject &request)
{
    // A batch id is unique per user only: another user's request naming the
    // same parent (a colleague's, seen through an organization's role) is
    // not a chunk of this batch.
    return BatchRequest::ownerOf(request) + QLatin1Char('\n') + request.value(QStringLiteral("parentBatchId")).toString();
}

void BatchListJob::doStart()
{
    // What is wrong with the request itself is said before any network.
    QString why;
    if (m_options.limit < 1 || m_options.limit > MaxLimit)
        why = tr("a page holds 1 to %1 batches, not %2").arg(MaxLimit).arg(m_options.limit);
    const QStringList known = knownStatuses();
    for (const QString &s : std::as_const(m_options.statuses))
        if (why.isEmpty() && !known.contains(s))
            why = tr("no status '%1': it is one of %2").arg(s, known.join(QStringLiteral(", ")));
    if (why.isEmpty() && !m_options.cursor.isEmpty())
        ListCursor::decode(m_options.cursor, &m_after, &why);
    if (!why.isEmpty()) {
        setError(InvalidInputError, tr("cannot list batches: %1").arg(why));
        emitResult();
        return;
    }
    const QStringList missing = m_settings.missingForClient();
    if (!missing.isEmpty()) {
        setError(ConfigurationError, tr("cannot list batches: set %1").arg(missing.join(QStringLiteral(", "))));
        emitResult();
        return;
    }
    ClientListJob::doStart();
}

bool BatchListJob::doKill()
{
    RestClient::abortAll(this);
    return true;
}

void BatchListJob::signedIn()
{
    round();
}

void BatchListJob::round()
{
    // One more than a page: whether there is a next one is then known
    // without an empty page to show it.
    const int ask = m_options.limit + 1;
    m_parse.find(
        BatchRequest::ClassName, rowQuery(m_after, m_options.since, m_options.statuses), this,
        [this, ask](const ApiResult &r) {
            if (!r.ok()) {
                failed(r, tr("listing batches in Parse"));
                return;
            }
            m_scanned = r.json.value(QStringLiteral("results")).toArray();
            m_scanFull = m_scanned.size() >= ask;
            m_chunks.clear();
            readParents(0);
        },
        ask, QStringLiteral("-createdAt,-objectId"));
}

void BatchListJob::readParents(qsizetype from)
{
    // The chunks of the parents among this round's rows: as few queries as
    // their number allows (one, unless they have more than MaxChunks).
    QJsonArray ids;
    int chunks = 0;
    qsizetype i = from;
    for (; i < m_scanned.size(); ++i) {
        const BatchStatus row = BatchRequest::statusFromObject(m_scanned.at(i).toObject());
        if (row.parentBatchId.isEmpty())
            continue;
        if (!ids.isEmpty() && chunks + row.chunkCount > BatchRequest::MaxChunks)
            break;
        ids.append(row.parentBatchId);
        chunks += row.chunkCount;
    }
    if (ids.isEmpty()) {
        take();
        return;
    }
    m_parse.find(
        BatchRequest::ClassName, {{QStringLiteral("parentBatchId"), QJsonObject{{QStringLiteral("$in"), ids}}}}, this,
        [this, i](const ApiResult &r) {
            if (!r.ok()) {
                failed(r, tr("reading the chunks of the batches listed"));
                return;
            }
            for (const QJsonValue &v : r.json.value(QStringLiteral("results")).toArray())
                m_chunks[chunksKey(v.toObject())].append(v);
            readParents(i);
        },
        std::min(chunks + int(ids.size()), BatchRequest::MaxChunks), QStringLiteral("batchId"));
}

void BatchListJob::take()
{
    for (qsizetype i = 0; i < m_scanned.size(); ++i) {
        const QJsonObject o = m_scanned.at(i).toObject();
        const ListCursor key{ParseClient::dateFrom(o.value(QStringLiteral("createdAt"))), o.value(QStringLiteral("objectId")).toString()};
        // A row that is no request (a server's or a proxy's garbage) is not
        // shown, nor made a cursor that list would then refuse.
        ListCursor checked;
        if (o.value(QStringLiteral("batchId")).toString().isEmpty() || !ListCursor::decode(key.encode(), &checked, nullptr)) {
            qCWarning(lcParse) << "list: a row of Parse's answer is not a batch request: left out";
            continue;
        }
        m_after = key;
        BatchStatus row = BatchRequest::statusFromObject(o);
        if (!row.parentBatchId.isEmpty()) {
            const QString parent = row.parentBatchId;
            row = BatchRequest::aggregate(parent, m_chunks.value(chunksKey(o)));
            // Dated, as ordered, by its first chunk (the others may be
            // created before it: chunks are sent several at once).
            row.createdAt = key.createdAt;
        }
        if (!m_options.statuses.isEmpty() && !m_options.statuses.contains(row.outcome()))
            continue;
        m_rows.append(row);
        if (m_rows.size() >= m_options.limit) {
            const bool more = i + 1 < m_scanned.size() || m_scanFull;
            m_next = more ? key.encode() : QString();
            setBatches(m_rows, m_next);
            finish();
            return;
        }
    }
    if (m_scanFull && ++m_rounds < MaxRounds) {
        round();
        return;
    }
    // Out of rows, or of rounds (a short page; the cursor goes on from what
    // was looked at).
    m_next = m_scanFull ? m_after.encode() : QString();
    setBatches(m_rows, m_next);
    finish();
}

void BatchListJob::failed(const ApiResult &r, const QString &what)
{
    setError(r.error, QStringLiteral("%1: %2").arg(what, r.message));
    m_rows.clear();
    finish();
}

} // namespace membatch
