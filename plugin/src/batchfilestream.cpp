#include "batchfilestream.h"

#include "logging.h"

#include <membatch/job.h>

#include <QNetworkReply>

namespace membatch {

namespace {

// What the network layer may hold of the file that we have not read yet.
constexpr qint64 kReadBufferBytes = 256 * 1024;
// Read from the reply in slices this size.
constexpr qint64 kSliceBytes = 64 * 1024;

} // namespace

BatchFileStream::BatchFileStream(ParseClient *parse, const QUrl &url, const Limits &limits, qint64 skip, QObject *parent)
    : QObject(parent)
    , m_parse(parse)
    , m_url(url)
    , m_limits(limits)
    , m_skip(skip)
    , m_inflater(limits.maxJsonBytes)
    , m_splitter(limits.maxItemBytes)
{
}

BatchFileStream::~BatchFileStream() = default;

void BatchFileStream::start()
{
    m_reply = m_parse->download(m_url, this, [this](const ApiResult &r) { finished(r); });
    m_reply->setReadBufferSize(kReadBufferBytes);
    connect(m_reply, &QNetworkReply::readyRead, this, &BatchFileStream::pump);
}

BatchFileStream::Item BatchFileStream::take()
{
    Item item = std::move(m_items.front());
    m_items.pop_front();
    m_backlog -= item.json.size();
    if (m_reply && !m_refillQueued && m_backlog < m_limits.backlogBytes / 2) {
        // Room again: read on (the reply may have been waiting), once the
        // reader is done taking.
        m_refillQueued = true;
        QMetaObject::invokeMethod(this, [this] {
            m_refillQueued = false;
            pump();
        }, Qt::QueuedConnection);
    }
    return item;
}

void BatchFileStream::pump()
{
    if (m_failed || !m_reply)
        return;
    const int status = m_reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (status < 200 || status > 299) {
        // An error answer is read whole when it ends (RestClient says what
        // it was); one that would not fit the buffer is not worth the wait.
        if (m_reply->bytesAvailable() >= kReadBufferBytes)
            m_reply->abort();
        return;
    }
    const qsizetype before = m_items.size();
    while (!m_failed && m_backlog < m_limits.backlogBytes && m_reply->bytesAvailable() > 0) {
        const QByteArray slice = m_reply->read(kSliceBytes);
        if (!consume(slice))
            return;
    }
    if (qsizetype(m_items.size()) > before)
        Q_EMIT readyRead();
}

bool BatchFileStream::consume(QByteArrayView compressed)
{
    if (m_inflater.bytesIn() + compressed.size() > m_limits.maxFileBytes) {
        fail(tr("the file is larger than %1 bytes").arg(m_limits.maxFileBytes));
        return false;
    }
    m_json.clear();
    if (!m_inflater.feed(compressed, &m_json)) {
        fail(m_inflater.error());
        return false;
    }
    QList<JsonArraySplitter::Element> elements;
    const qint64 first = m_splitter.elementCount();
    if (!m_splitter.feed(m_json, &elements)) {
        fail(tr("not a JSON array of memories: %1").arg(m_splitter.error()));
        return false;
    }
    for (qsizetype i = 0; i < elements.size(); ++i) {
        const qint64 index = first + i;
        if (index < m_skip)
            continue;
        m_backlog += elements[i].text.size();
        m_items.push_back({index, elements[i].bytes, std::move(elements[i].text)});
    }
    return true;
}

void BatchFileStream::finished(const ApiResult &result)
{
    if (m_failed)
        return;
    if (!result.ok()) {
        m_failed = true;
        ApiResult r = result;
        // A file url answers with the file or nothing: a redirect is not
        // followed (it could lead anywhere), and is not worth another try.
        const bool redirect = r.httpStatus >= 300 && r.httpStatus <= 399;
        if (redirect)
            r.message = tr("the file url answers with a redirect (HTTP %1), which is not followed").arg(r.httpStatus);
        Q_EMIT failed(r, redirect || r.error == Job::NotFoundError);
        return;
    }
    // What the reply still held when it ended.
    if (!consume(result.body))
        return;
    m_reply = nullptr;
    if (!m_inflater.finish()) {
        fail(m_inflater.error());
        return;
    }
    if (!m_splitter.finish()) {
        fail(tr("not a JSON array of memories: %1").arg(m_splitter.error()));
        return;
    }
    m_ended = true;
    qCDebug(lcWorker) << "file read:" << m_inflater.bytesIn() << "bytes," << m_inflater.bytesOut() << "inflated,"
                      << m_splitter.elementCount() << "items";
    Q_EMIT readyRead();
}

void BatchFileStream::fail(const QString &message)
{
    if (m_failed)
        return;
    m_failed = true;
    m_items.clear();
    m_backlog = 0;
    m_reply = nullptr;
    RestClient::abortAll(this); // the download, if it is still going
    ApiResult r;
    r.service = QStringLiteral("Parse");
    r.error = Job::InvalidInputError;
    r.message = message;
    Q_EMIT failed(r, true);
}

} // namespace membatch
