#include "itemresultsjob.h"

#include <limits>

#include "batchrequest.h"
#include "resultsrecorder.h"

#include <QJsonDocument>
#include <QNetworkReply>

namespace membatch {

namespace {
// Result pages read per query (each holds up to ResultsRecorder::MaxPageItems).
constexpr int kPagesPerQuery = 10;
// What one item's result line may take when inflated (an index, a customId,
// an id or an error message), with room to spare; a file inflating past
// this for its batch is not a results file.
constexpr qint64 kMaxLineBytes = 8 * 1024;
constexpr qint64 kReadBufferBytes = 256 * 1024;
} // namespace

ItemResultsJob::ItemResultsJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
                               const ResultsOptions &options, QObject *parent)
    : ClientResultsJob(nam, settings, batchId, parent)
    , m_options(options)
    , m_next(std::max<qint64>(0, options.after + 1))
{
}

ItemResultsJob::~ItemResultsJob() = default;

bool ItemResultsJob::doKill()
{
    m_done = true;
    abortDownload();
    RestClient::abortAll(this);
    return true;
}

void ItemResultsJob::signedIn()
{
    findRequest([this](const ApiResult &r) { readRequest(r); });
}

void ItemResultsJob::readRequest(const ApiResult &r)
{
    if (!r.ok()) {
        failed(r.error, tr("looking up batch %1: %2").arg(m_batchId, r.message));
        return;
    }
    const QJsonArray found = r.json.value(QStringLiteral("results")).toArray();
    if (found.isEmpty()) {
        // A parent's id? Its results are its chunks', in their order.
        findChunks(
            [this](const ApiResult &chunks) {
                const QJsonArray list = chunks.json.value(QStringLiteral("results")).toArray();
                if (!chunks.ok() || list.isEmpty()) {
                    notFound();
                    return;
                }
                readChunks(list);
            });
        return;
    }
    const QJsonObject request = found.first().toObject();
    m_status = BatchRequest::statusFromObject(request);
    m_requestId = m_status.requestId;
    setBatch(m_status);
    // While it runs, only what the counts cover: a page beyond them may
    // still be written again.
    m_upTo = m_status.processedCount;
    const QUrl file(request.value(QStringLiteral("resultsFile")).toObject().value(QStringLiteral("url")).toString());
    if (m_status.isFinal() && !file.isEmpty()) {
        if (!m_parse.isFileUrl(file)) {
            failed(ServerError, tr("the results file of batch %1 is not on this Parse Server: not fetched").arg(m_batchId));
            return;
        }
        readFile(file);
        return;
    }
    readPages(-1);
}

bool ItemResultsJob::take(const ItemResult &result)
{
    if (result.index != m_next || result.index >= m_upTo)
        return true; // before where we are (read already, or not asked for), or beyond what is recorded
    ++m_next;
    if (m_options.failedOnly && result.isStored())
        return true;
    m_page.append(result);
    ++m_taken;
    if (m_page.size() >= PageSize)
        flush();
    return m_options.limit <= 0 || m_taken < m_options.limit;
}

void ItemResultsJob::readChunks(const QJsonArray &chunks)
{
    setBatch(BatchRequest::aggregate(m_batchId, chunks));
    qint64 offset = 0;
    for (const QJsonValue &v : chunks) {
        const BatchStatus chunk = BatchRequest::statusFromObject(v.toObject());
        m_chunks.append({chunk.batchId, offset});
        offset += chunk.totalMemories;
    }
    nextChunk();
}

void ItemResultsJob::nextChunk()
{
    // Each chunk's results with the parent's numbering: a chunk's item i is
    // the submission's item offset + i. after and limit count across.
    while (!m_chunks.isEmpty()) {
        const auto [batchId, offset] = m_chunks.takeFirst();
        const qint64 end = m_chunks.isEmpty() ? std::numeric_limits<qint64>::max() : m_chunks.first().second;
        if (m_options.after >= end - 1)
            continue; // wholly before where the reader starts
        if (m_options.limit > 0 && m_taken >= m_options.limit)
            break;
        ResultsOptions options = m_options;
        options.after = m_options.after >= offset ? m_options.after - offset : -1;
        options.limit = m_options.limit > 0 ? m_options.limit - m_taken : 0;
        ConnectionSettings settings = m_settings;
        settings.sessionToken = m_parse.sessionToken();
        auto *chunk = new ItemResultsJob(m_nam, settings, batchId, options, this);
        chunk->setSession(m_parse.session());
        chunk->setAutoDelete(false);
        connect(chunk, &ResultsJob::itemsReady, this, [this, offset](const QList<ItemResult> &items) {
            QList<ItemResult> shifted = items;
            for (ItemResult &item : shifted)
                item.index += offset;
            m_taken += shifted.size();
            emitItems(shifted);
        });
        connect(chunk, &Job::result, this, [this, chunk] {
            chunk->deleteLater();
            if (chunk->error()) {
                failed(chunk->error(), chunk->errorString());
                return;
            }
            nextChunk();
        });
        chunk->start();
        return;
    }
    finish();
}

void ItemResultsJob::flush()
{
    if (!m_page.isEmpty())
        emitItems(std::exchange(m_page, {}));
}

void ItemResultsJob::failed(int error, const QString &message)
{
    m_page.clear();
    setError(error, message);
    finish();
}

void ItemResultsJob::readPages(qint64 afterFirst)
{
    // Pages that hold items from m_next on: the one m_next is in, and after.
    QJsonObject where{{QStringLiteral("request"), ParseClient::pointer(BatchRequest::ClassName, m_requestId)},
                      {QStringLiteral("end"), QJsonObject{{QStringLiteral("$gt"), m_next}}}};
    if (afterFirst >= 0)
        where.insert(QStringLiteral("first"), QJsonObject{{QStringLiteral("$gt"), afterFirst}});
    m_parse.find(ResultsRecorder::ClassName, where, this, [this](const ApiResult &r) {
        if (!r.ok()) {
            failed(r.error, tr("reading the results of batch %1: %2").arg(m_batchId, r.message));
            return;
        }
        const QJsonArray pages = r.json.value(QStringLiteral("results")).toArray();
        qint64 lastFirst = -1;
        for (const QJsonValue &page : pages) {
            lastFirst = page.toObject().value(QStringLiteral("first")).toInteger();
            for (const QJsonValue &line : page.toObject().value(QStringLiteral("items")).toArray()) {
                ItemResult result;
                if (!ItemResult::fromJson(line.toObject(), &result))
                    continue; // not something the worker writes
                if (!take(result)) {
                    flush();
                    finish();
                    return;
                }
            }
        }
        if (pages.size() == kPagesPerQuery && m_next < m_upTo) {
            flush();
            readPages(lastFirst);
            return;
        }
        flush();
        finish();
    }, kPagesPerQuery, QStringLiteral("first"));
}

void ItemResultsJob::readFile(const QUrl &url)
{
    const qint64 maxBytes = std::max<qint64>(m_status.totalMemories, 1) * kMaxLineBytes;
    m_inflater = std::make_unique<GzipCodec::Inflater>(maxBytes);
    m_reply = m_parse.download(url, this, [this](const ApiResult &r) { fileEnded(r); });
    m_reply->setReadBufferSize(kReadBufferBytes);
    connect(m_reply, &QNetworkReply::readyRead, this, &ItemResultsJob::readFileData);
}

void ItemResultsJob::readFileData()
{
    if (m_done || !m_reply)
        return;
    consume(m_reply->readAll());
}

void ItemResultsJob::consume(const QByteArray &gzip)
{
    QByteArray text;
    if (!m_inflater->feed(gzip, &text)) {
        m_done = true;
        abortDownload();
        failed(ServerError, tr("the results file of batch %1: %2").arg(m_batchId, m_inflater->error()));
        return;
    }
    qsizetype pos = 0;
    for (;;) {
        const qsizetype newline = text.indexOf('\n', pos);
        if (newline < 0)
            break;
        m_line.append(QByteArrayView(text).sliced(pos, newline - pos));
        pos = newline + 1;
        ++m_lineNo;
        QJsonParseError parseError;
        const QJsonDocument doc = QJsonDocument::fromJson(m_line, &parseError);
        m_line.clear();
        ItemResult result;
        QString why;
        if (parseError.error != QJsonParseError::NoError)
            why = parseError.errorString();
        if (!why.isEmpty() || !ItemResult::fromJson(doc.object(), &result, &why)) {
            m_done = true;
            abortDownload();
            failed(ServerError, tr("the results file of batch %1, line %2: %3").arg(m_batchId).arg(m_lineNo).arg(why));
            return;
        }
        if (!take(result)) {
            m_done = true;
            abortDownload();
            flush();
            finish();
            return;
        }
    }
    m_line.append(QByteArrayView(text).sliced(pos));
    if (m_line.size() > kMaxLineBytes) {
        m_done = true;
        abortDownload();
        failed(ServerError, tr("the results file of batch %1, line %2: longer than %3 bytes").arg(m_batchId).arg(m_lineNo + 1).arg(kMaxLineBytes));
    }
}

void ItemResultsJob::abortDownload()
{
    if (QNetworkReply *reply = std::exchange(m_reply, nullptr))
        reply->abort();
}

void ItemResultsJob::fileEnded(const ApiResult &r)
{
    if (m_done)
        return;
    m_reply = nullptr;
    if (m_done)
        return;
    if (r.ok())
        consume(r.body); // what the reply still held when it ended
    if (m_done)
        return;
    m_done = true;
    if (!r.ok()) {
        failed(r.error, tr("downloading the results file of batch %1: %2").arg(m_batchId, r.message));
        return;
    }
    if (!m_inflater->finish() || !m_line.isEmpty()) {
        failed(ServerError, tr("the results file of batch %1 is cut short: %2")
                                .arg(m_batchId, m_inflater->error().isEmpty() ? tr("its last line has no end") : m_inflater->error()));
        return;
    }
    flush();
    finish();
}

} // namespace membatch
