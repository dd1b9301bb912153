#include "resultsrecorder.h"

#include "batchrequest.h"
#include "gzipcodec.h"

#include <membatch/job.h>

#include <QCryptographicHash>
#include <QJsonDocument>
#include <QMessageAuthenticationCode>

namespace membatch {

namespace {
constexpr int kDuplicateValue = 137; // Parse: an object with this objectId exists
// Pages read back per query when the file is made: at most 4 x 5000 items
// (and 4 MiB) at once, whatever the size of the batch.
constexpr int kPagesPerQuery = 4;
} // namespace

const QString ResultsRecorder::ClassName = QStringLiteral("BatchResultPage");

struct ResultsRecorder::FileInProgress
{
    GzipCodec::Deflater gzip{6}; // the lines read back from the pages
    qint64 next = 0;      // the item the next line is about
    qint64 lastFirst = -1; // where the last page read began
    std::function<void(const ApiResult &, const QJsonObject &)> done;
};

ResultsRecorder::~ResultsRecorder() = default;

ResultsRecorder::ResultsRecorder(ParseClient *parse, Retrying retrying, const Request &request, QObject *context)
    : QObject(context)
    , m_parse(parse)
    , m_retrying(std::move(retrying))
    , m_request(request)
    , m_context(context)
    , m_end(request.first)
    , m_unwrittenFirst(request.first)
    , m_lines(std::make_unique<GzipCodec::Deflater>(6))
{
}

QString ResultsRecorder::pageObjectId(const QByteArray &idKey, const QString &requestId, qint64 first)
{
    const QByteArray page = "results:" + requestId.toUtf8() + ':' + QByteArray::number(first);
    return QString::fromLatin1(QMessageAuthenticationCode::hash(page, idKey, QCryptographicHash::Sha256).toHex().left(24));
}

void ResultsRecorder::add(const QList<ItemResult> &results)
{
    for (const ItemResult &r : results) {
        Q_ASSERT(r.index == m_end);
        m_unwritten.append(r);
        Q_ASSERT(m_lines); // not after the file
        m_lines->append(compactJson(r.toJson()) + '\n');
        ++m_end;
    }
}

QJsonObject ResultsRecorder::pageFields(qint64 first, const QList<ItemResult> &items) const
{
    QJsonArray lines;
    qint64 failed = 0;
    for (const ItemResult &r : items) {
        lines.append(r.toJson());
        failed += r.isStored() ? 0 : 1;
    }
    return {{QStringLiteral("request"), ParseClient::pointer(BatchRequest::ClassName, m_request.requestId)},
            {QStringLiteral("batchId"), m_request.batchId},
            {QStringLiteral("ACL"), m_request.acl},
            {QStringLiteral("first"), first},
            {QStringLiteral("end"), first + items.size()},
            {QStringLiteral("failed"), failed},
            {QStringLiteral("items"), lines}};
}

void ResultsRecorder::writePages(std::function<void(const ApiResult &)> done)
{
    Q_ASSERT(!m_writing);
    if (m_unwritten.isEmpty()) {
        done(ApiResult());
        return;
    }
    m_writing = true;
    writePage(std::exchange(m_unwrittenFirst, m_end), std::exchange(m_unwritten, {}), std::move(done));
}

void ResultsRecorder::writePage(qint64 first, QList<ItemResult> items, std::function<void(const ApiResult &)> done)
{
    // Usually one page: what a second of storing gives; at most
    // MaxPageItems and about MaxPageBytes of them.
    qsizetype take = 0;
    qint64 bytes = 0;
    while (take < items.size() && take < MaxPageItems && (take == 0 || bytes < MaxPageBytes)) {
        const ItemResult &r = items.at(take++);
        bytes += 48 + r.customId.size() + r.memoryId.size() + r.error.size();
    }
    const QList<ItemResult> rest = items.mid(take);
    items.resize(take);
    const QString id = pageObjectId(m_request.idKey, m_request.requestId, first);
    const QJsonObject fields = pageFields(first, items);
    const auto written = [this, first, rest, count = items.size(), done](const ApiResult &r) {
        if (!r.ok() || rest.isEmpty()) {
            m_writing = false;
            ApiResult out = r;
            if (!r.ok())
                out.message = tr("writing the results of items %1-%2: %3").arg(first).arg(first + count - 1).arg(r.message);
            done(out);
            return;
        }
        writePage(first + count, rest, done);
    };
    QJsonObject create = fields;
    create.insert(QStringLiteral("objectId"), id);
    m_retrying([this, create](RestClient::Handler h) { m_parse->createObject(ClassName, create, m_context, std::move(h)); },
               [this, id, fields, written](const ApiResult &r) {
        if (r.serviceCode != kDuplicateValue) {
            written(r);
            return;
        }
        // Written by an earlier attempt, beyond the counts it recorded:
        // this attempt's results replace it.
        m_retrying([this, id, fields](RestClient::Handler h) { m_parse->updateObject(ClassName, id, fields, m_context, std::move(h)); },
                   written);
    });
}

void ResultsRecorder::writeFile(std::function<void(const ApiResult &, const QJsonObject &)> done)
{
    auto file = std::make_shared<FileInProgress>();
    file->done = std::move(done);
    if (m_request.first == 0)
        upload(file); // every line is this attempt's, and at hand
    else
        readPages(file); // an earlier attempt's are only in its pages
}

void ResultsRecorder::readPages(std::shared_ptr<FileInProgress> file)
{
    const QJsonObject where{{QStringLiteral("request"), ParseClient::pointer(BatchRequest::ClassName, m_request.requestId)},
                            {QStringLiteral("first"), QJsonObject{{QStringLiteral("$gt"), file->lastFirst}}}};
    m_retrying([this, where](RestClient::Handler h) {
        m_parse->find(ClassName, where, m_context, std::move(h), kPagesPerQuery, QStringLiteral("first"));
    },
               [this, file](const ApiResult &r) {
        if (!r.ok()) {
            file->done(r, {});
            return;
        }
        const QJsonArray pages = r.json.value(QStringLiteral("results")).toArray();
        for (const QJsonValue &v : pages) {
            const QJsonObject page = v.toObject();
            file->lastFirst = page.value(QStringLiteral("first")).toInteger();
            if (file->lastFirst > file->next) {
                ApiResult gap = r;
                gap.error = Job::InvalidInputError; // not worth another try
                gap.message = tr("the results of items %1-%2 of request %3 are missing")
                                  .arg(file->next).arg(file->lastFirst - 1).arg(m_request.requestId);
                file->done(gap, {});
                return;
            }
            for (const QJsonValue &line : page.value(QStringLiteral("items")).toArray()) {
                const qint64 index = line.toObject().value(QStringLiteral("index")).toInteger(-1);
                if (index != file->next || index >= m_request.first)
                    continue; // beyond what the earlier attempts recorded, or this attempt's: at hand
                file->gzip.append(compactJson(line.toObject()) + '\n');
                ++file->next;
            }
        }
        if (pages.size() == kPagesPerQuery && file->next < m_request.first) {
            readPages(file);
            return;
        }
        if (file->next != m_request.first) {
            ApiResult gap = r;
            gap.error = Job::InvalidInputError;
            gap.message = tr("the results of request %1 stop at item %2, not %3").arg(m_request.requestId).arg(file->next).arg(m_request.first);
            file->done(gap, {});
            return;
        }
        upload(file);
    });
}

void ResultsRecorder::upload(std::shared_ptr<FileInProgress> file)
{
    // Two gzip members, the earlier attempts' lines and this one's, make one
    // gzip file (as `cat a.gz b.gz` does); the first is left out if empty.
    if (m_lines)
        m_linesGzip = std::exchange(m_lines, {})->finish();
    QByteArray gzip = m_request.first > 0 ? file->gzip.finish() : QByteArray();
    gzip += m_linesGzip;
    if (gzip.size() > BatchRequest::MaxFileBytes) {
        ApiResult tooLarge;
        tooLarge.error = Job::InvalidInputError;
        tooLarge.message = tr("the results file would be %1 MiB, more than Parse takes (%2 MiB): the results stay in %3 objects")
                               .arg(gzip.size() / 1048576.0, 0, 'f', 1).arg(BatchRequest::MaxFileBytes >> 20).arg(ClassName);
        file->done(tooLarge, {});
        return;
    }
    // Parse makes the stored name unique; this part says what it is.
    const QString name = QStringLiteral("results.jsonl.gz");
    m_retrying([this, name, gzip](RestClient::Handler h) {
        m_parse->uploadFile(name, gzip, "application/gzip", m_context, std::move(h));
    },
               [file](ApiResult r) {
        if (!r.ok() || !r.expectFields({"name", "url"})) {
            file->done(r, {});
            return;
        }
        file->done(r, QJsonObject{{QStringLiteral("__type"), QStringLiteral("File")},
                                  {QStringLiteral("name"), r.json.value(QStringLiteral("name"))},
                                  {QStringLiteral("url"), r.json.value(QStringLiteral("url"))}});
    });
}

} // namespace membatch
