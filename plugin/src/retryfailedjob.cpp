#include "retryfailedjob.h"

#include "batchcodec.h"
#include "batchfilestream.h"
#include "batchrequest.h"
#include "itemresultsjob.h"
#include "logging.h"
#include "submitjob.h"

#include <QDir>

namespace membatch {

namespace {
// As the worker reads a batch file (BatchActivity): no more than the
// request says its JSON holds, an item no larger than one Parse request.
constexpr qint64 kInflateSlackBytes = 64 * 1024;
constexpr qsizetype kMaxItemBytes = 20 * 1024 * 1024 - 1024;
} // namespace

RetryFailedJob::RetryFailedJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
                               const SubmitOptions &options, QObject *parent)
    : ClientJob(nam, settings, batchId, parent)
    , m_options(options)
{
}

RetryFailedJob::~RetryFailedJob()
{
    // Before the spool goes: a submission reads it from a pool thread.
    delete m_child.data();
    delete m_stream;
}

bool RetryFailedJob::doKill()
{
    if (m_child) {
        disconnect(m_child, nullptr, this, nullptr);
        m_child->kill();
    }
    delete std::exchange(m_stream, nullptr);
    RestClient::abortAll(this);
    return true;
}

void RetryFailedJob::signedIn()
{
    if (m_batchId.isEmpty() || !SubmitJob::isValidBatchId(m_batchId)) {
        failed(InvalidInputError, tr("'%1' is not a batch id").arg(m_batchId.left(100)));
        return;
    }
    findRequest([this](const ApiResult &r) { readRequest(r); });
}

void RetryFailedJob::readRequest(const ApiResult &r)
{
    if (!r.ok()) {
        failed(r.error, tr("looking up batch %1: %2").arg(m_batchId, r.message));
        return;
    }
    const QJsonArray found = r.json.value(QStringLiteral("results")).toArray();
    if (!found.isEmpty()) {
        gotRequests(found, BatchRequest::statusFromObject(found.first().toObject()));
        return;
    }
    findChunks([this](const ApiResult &chunks) {
        if (!chunks.ok()) {
            failed(chunks.error, tr("reading the chunks of batch %1: %2").arg(m_batchId, chunks.message));
            return;
        }
        const QJsonArray list = chunks.json.value(QStringLiteral("results")).toArray();
        if (list.isEmpty()) {
            notFound();
            return;
        }
        gotRequests(list, BatchRequest::aggregate(m_batchId, list));
    });
}

void RetryFailedJob::gotRequests(const QJsonArray &requests, const BatchStatus &batch)
{
    // batch() is the retry's, once there is one: not the batch retried.
    m_original = batch;
    if (!batch.isFinal()) {
        failed(InvalidInputError, tr("batch %1 has not ended (it is %2%3): retry its failed items once it has, or cancel it first")
                                      .arg(m_batchId, batch.outcome(),
                                           batch.isParent() ? tr(", %1 of %2 chunks ended").arg(batch.chunksFinal).arg(batch.chunkCount)
                                                            : QString()));
        return;
    }
    for (const QJsonValue &v : requests) {
        Request request;
        request.object = v.toObject();
        request.status = BatchRequest::statusFromObject(request.object);
        m_requests.append(request);
    }
    m_current = 0;
    nextFailures();
}

void RetryFailedJob::nextFailures()
{
    while (m_current < m_requests.size() && m_requests.at(m_current).status.failCount <= 0)
        ++m_current;
    if (m_current >= m_requests.size()) {
        m_current = 0;
        nextStoredBeyond();
        return;
    }
    // The items the worker refused, from its results, on this session.
    ConnectionSettings settings = m_settings;
    settings.sessionToken = m_parse.sessionToken();
    ResultsOptions options;
    options.failedOnly = true;
    auto *reader = new ItemResultsJob(m_nam, settings, m_requests.at(m_current).status.batchId, options, this);
    reader->setSession(m_parse.session());
    reader->setAutoDelete(false);
    m_child = reader;
    connect(reader, &ResultsJob::itemsReady, this, [this](const QList<ItemResult> &items) {
        for (const ItemResult &item : items)
            m_requests[m_current].failed.append(item.index);
    });
    connect(reader, &Job::result, this, [this, reader] {
        reader->deleteLater();
        m_child = nullptr;
        if (reader->error()) {
            failed(reader->error(), tr("reading which items of batch %1 failed: %2").arg(m_batchId, reader->errorString()));
            return;
        }
        ++m_current;
        nextFailures();
    });
    reader->start();
}

void RetryFailedJob::nextStoredBeyond()
{
    while (m_current < m_requests.size()
           && m_requests.at(m_current).status.processedCount >= m_requests.at(m_current).status.totalMemories)
        ++m_current;
    if (m_current >= m_requests.size()) {
        // Everything is known: which items, and the retry's identity.
        QList<RetrySelection::Chunk> chunks;
        qint64 refused = 0;
        for (Request &request : m_requests) {
            request.selected = RetrySelection::select(request.status.totalMemories, request.status.processedCount, request.failed,
                                                      request.storedBeyond);
            refused += request.failed.size();
            chunks.append({request.status.batchId, request.selected});
        }
        const qint64 count = RetrySelection::itemCount(chunks);
        if (count == 0) {
            failed(InvalidInputError, tr("batch %1 has nothing to retry: it ended %2 with every item stored")
                                          .arg(m_batchId, m_original.outcome()));
            return;
        }
        m_options.idempotencyKey = RetrySelection::idempotencyKey(m_batchId, chunks);
        emitInfo(tr("batch %1: %2 item(s) to retry (%3 refused by the worker, %4 never stored)")
                     .arg(m_batchId)
                     .arg(count)
                     .arg(refused)
                     .arg(count - refused));
        m_current = 0;
        nextFile();
        return;
    }
    // Items past the count may be stored all the same: the worker stores a
    // group, then counts it, and a batch can end in between.
    const Request &request = m_requests.at(m_current);
    const QJsonObject where{{QStringLiteral("request"), ParseClient::pointer(BatchRequest::ClassName, request.status.requestId)},
                            {QStringLiteral("index"), QJsonObject{{QStringLiteral("$gte"), request.status.processedCount}}}};
    const qint64 unprocessed = request.status.totalMemories - request.status.processedCount;
    m_parse.findKeys(
        BatchRequest::MemoryClassName, where, {QStringLiteral("index")}, this,
        [this](const ApiResult &r) {
            if (!r.ok()) {
                failed(r.error, tr("looking for memories of batch %1 stored after its count: %2")
                                    .arg(m_requests.at(m_current).status.batchId, r.message));
                return;
            }
            for (const QJsonValue &v : r.json.value(QStringLiteral("results")).toArray())
                m_requests[m_current].storedBeyond.insert(v.toObject().value(QStringLiteral("index")).toInteger(-1));
            ++m_current;
            nextStoredBeyond();
        },
        int(std::min<qint64>(unprocessed, BatchRequest::MaxChunks * 10)), QStringLiteral("index"));
}

void RetryFailedJob::nextFile()
{
    if (!m_spool) {
        m_spool = std::make_unique<QTemporaryFile>(QDir::temp().filePath(QStringLiteral("membatch-retry-XXXXXX.jsonl")));
        if (!m_spool->open()) {
            failed(ConfigurationError, tr("cannot write the items to retry to %1: %2").arg(m_spool->fileName(), m_spool->errorString()));
            return;
        }
    }
    while (m_current < m_requests.size() && m_requests.at(m_current).selected.isEmpty())
        ++m_current;
    if (m_current >= m_requests.size()) {
        submit();
        return;
    }
    const Request &request = m_requests.at(m_current);
    const QUrl url = request.status.dataFileUrl;
    // The batch's own file, on this Parse Server only (no request may send
    // us to fetch from elsewhere); gone after gc.
    if (url.isEmpty()) {
        failed(InvalidInputError, tr("batch %1 has no file any more (removed by gc?): its items cannot be read again")
                                      .arg(request.status.batchId));
        return;
    }
    if (!m_parse.isFileUrl(url)) {
        failed(ServerError, tr("the file of batch %1 is not on this Parse Server: not fetched").arg(request.status.batchId));
        return;
    }
    BatchFileStream::Limits limits;
    const qint64 declared = request.status.rawBytes;
    limits.maxJsonBytes = declared > 0 ? std::min(declared + kInflateSlackBytes, BatchCodec::MaxJsonBytes) : BatchCodec::MaxJsonBytes;
    limits.maxFileBytes = limits.maxJsonBytes + kInflateSlackBytes;
    limits.maxItemBytes = kMaxItemBytes;
    m_wanted = request.selected;
    m_stream = new BatchFileStream(&m_parse, url, limits, m_wanted.first(), this);
    connect(m_stream, &BatchFileStream::readyRead, this, &RetryFailedJob::readItems);
    connect(m_stream, &BatchFileStream::failed, this, [this](const ApiResult &r, bool) {
        failed(r.error ? r.error : int(ServerError), tr("reading the file of batch %1: %2").arg(m_requests.at(m_current).status.batchId, r.message));
    });
    m_stream->start();
}

void RetryFailedJob::readItems()
{
    if (!m_stream || isFinished())
        return;
    const QString &batchId = m_requests.at(m_current).status.batchId;
    while (m_stream->hasItem() && !m_wanted.isEmpty()) {
        const BatchFileStream::Item item = m_stream->take();
        if (item.index < m_wanted.first())
            continue;
        if (item.json.isEmpty()) {
            failed(InvalidInputError, tr("item %1 of batch %2 is %3 bytes: too large to send again").arg(item.index).arg(batchId).arg(item.bytes));
            return;
        }
        if (m_spool->write(item.json) != item.json.size() || !m_spool->putChar('\n')) {
            failed(ConfigurationError, tr("cannot write the items to retry to %1: %2").arg(m_spool->fileName(), m_spool->errorString()));
            return;
        }
        m_wanted.removeFirst();
        ++m_written;
    }
    if (m_wanted.isEmpty()) {
        // What comes after in the file is not wanted: no need to read it.
        m_stream->deleteLater();
        m_stream = nullptr;
        ++m_current;
        nextFile();
        return;
    }
    if (m_stream->atEnd()) {
        failed(ServerError, tr("the file of batch %1 holds %2 items, fewer than its request says: item %3 is missing")
                                .arg(batchId)
                                .arg(m_stream->itemCount())
                                .arg(m_wanted.first()));
    }
}

void RetryFailedJob::submit()
{
    if (!m_spool->flush() || !m_spool->seek(0)) {
        failed(ConfigurationError, tr("cannot read back the items to retry from %1: %2").arg(m_spool->fileName(), m_spool->errorString()));
        return;
    }
    // Where the batch belonged, the retry belongs (unless told otherwise).
    const QJsonObject first = m_requests.first().object;
    auto tenant = [&first](const char *key, QString *target) {
        if (target->isEmpty())
            *target = first.value(QLatin1String(key)).toObject().value(QStringLiteral("objectId")).toString();
    };
    tenant("organization", &m_options.organizationId);
    tenant("namespace", &m_options.namespaceId);
    tenant("workspace", &m_options.workspaceId);

    ConnectionSettings settings = m_settings;
    settings.sessionToken = m_parse.sessionToken();
    auto *job = new SubmitJob(m_nam, settings, m_spool.get(), tr("the failed items of batch %1").arg(m_batchId), m_options, this);
    job->setRetryOf(m_batchId);
    job->setSession(m_parse.session());
    job->setAutoDelete(false);
    m_child = job;
    connect(job, &Job::progressChanged, this, [this](const BatchProgress &p) { setProgress(p); });
    connect(job, &Job::infoMessage, this, [this](const QString &message) { emitInfo(message); });
    connect(job, &Job::result, this, [this, job] {
        if (isFinished())
            return;
        setBatch(job->batch());
        if (job->error())
            setError(job->error(), job->errorString());
        else
            emitInfo(tr("batch %1 retries %2 item(s) of batch %3").arg(job->batch().batchId).arg(m_written).arg(m_batchId));
        finish();
    });
    job->start();
}

void RetryFailedJob::failed(int error, const QString &message)
{
    // A file being read is read no further (this may run in its own signal).
    if (BatchFileStream *stream = std::exchange(m_stream, nullptr)) {
        disconnect(stream, nullptr, this, nullptr);
        stream->deleteLater();
    }
    setError(error, message);
    finish();
}

} // namespace membatch
