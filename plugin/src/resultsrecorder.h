#pragma once

#include "parseclient.h"

#include "gzipcodec.h"

#include <membatch/itemresult.h>

#include <QObject>

#include <functional>
#include <memory>

namespace membatch {

// A batch's per-item results on their way to Parse, for the worker: while
// it runs, as BatchResultPage objects written just before the counts they
// cover (so what the counts say is stored can always be looked up); when it
// ends, as one gzipped JSON lines file, read back from the pages.
//
// Pages have ids of their own derived from where they begin, the same on
// every attempt: a retried attempt resumes after the recorded counts, and
// the page it writes there replaces whatever an earlier attempt wrote beyond
// them. So the pages never overlap, and none is missing.
class ResultsRecorder : public QObject
{
    Q_OBJECT
public:
    // ActivityRun::retrying: sends again while the server is briefly gone.
    using Retrying = std::function<void(const std::function<void(RestClient::Handler)> &send,
                                        const std::function<void(const ApiResult &)> &done)>;
    struct Request
    {
        QByteArray idKey;  // BatchActivity::memoryIdKey
        QString requestId;
        QString batchId;
        QJsonObject acl;   // the request's: whoever may read it reads its results
        qint64 first = 0;  // the first item this attempt records
    };

    ResultsRecorder(ParseClient *parse, Retrying retrying, const Request &request, QObject *context);
    ~ResultsRecorder() override;

    // Results of items [end(), ...), in file order, with no gap.
    void add(const QList<ItemResult> &results);
    qint64 end() const { return m_end; }
    bool isWriting() const { return m_writing; }

    // Writes the results added since the last write (one write at a time);
    // then done() with the outcome.
    void writePages(std::function<void(const ApiResult &)> done);
    // Uploads one gzipped JSON lines file of every item up to end(): this
    // attempt's as they were added, an earlier attempt's read back from its
    // pages, in order (add() takes no more after it); then done() with
    // the outcome and the File to put on the request. InvalidInputError:
    // there can be no file (too large for Parse, or pages missing: an
    // attempt by a worker that wrote none); the pages hold what there is.
    void writeFile(std::function<void(const ApiResult &, const QJsonObject &file)> done);

    static const QString ClassName; // "BatchResultPage"
    // Items a page holds at most (a page is one Parse object: keep it small).
    static constexpr int MaxPageItems = 5000;
    static constexpr qint64 MaxPageBytes = 1024 * 1024;
    static QString pageObjectId(const QByteArray &idKey, const QString &requestId, qint64 first);

private:
    QJsonObject pageFields(qint64 first, const QList<ItemResult> &items) const;
    void writePage(qint64 first, QList<ItemResult> items, std::function<void(const ApiResult &)> done);
    struct FileInProgress;
    void readPages(std::shared_ptr<FileInProgress> file);
    void upload(std::shared_ptr<FileInProgress> file);

    ParseClient *m_parse;
    Retrying m_retrying;
    Request m_request;
    QObject *m_context;
    qint64 m_end;
    qint64 m_unwrittenFirst;
    QList<ItemResult> m_unwritten;
    // The results file's lines from request.first on, compressed as they
    // are added: about 22 bytes an item.
    std::unique_ptr<GzipCodec::Deflater> m_lines;
    QByteArray m_linesGzip; // m_lines' member, once the file is made
    bool m_writing = false;
};

} // namespace membatch
