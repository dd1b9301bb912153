#pragma once

#include "clientjob.h"
#include "gzipcodec.h"

#include <membatch/batchoptions.h>

#include <memory>

class QNetworkReply;

namespace membatch {

// Reads a batch's item results as its user sees them, in file order: from
// its results file once it has ended (streamed: download, gunzip, JSON
// lines), else from the result pages the worker writes as it goes, up to
// the counts recorded so far. Emits them a page at a time. For a parent
// id, its chunks' results in chunk order, numbered across the submission.
class ItemResultsJob : public ClientResultsJob
{
    Q_OBJECT
public:
    ItemResultsJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
                   const ResultsOptions &options, QObject *parent = nullptr);
    ~ItemResultsJob() override;

    // Results are emitted in pages of at most this many.
    static constexpr int PageSize = 1000;

protected:
    void signedIn() override;
    QString purpose() const override { return tr("read the results of"); }
    bool doKill() override;

private:
    void readRequest(const ApiResult &r);
    // The id is a parent's: its chunks' results, one chunk after another.
    void readChunks(const QJsonArray &chunks);
    void nextChunk();
    void readPages(qint64 afterFirst);
    void readFile(const QUrl &url);
    void readFileData();
    void consume(const QByteArray &gzip);
    void abortDownload();
    void fileEnded(const ApiResult &r);
    // Keeps what the options ask for; false once the limit is reached.
    bool take(const ItemResult &result);
    void flush();
    void failed(int error, const QString &message);

    ResultsOptions m_options;
    BatchStatus m_status;
    QString m_requestId;
    qint64 m_upTo = 0;    // results of items before this only
    qint64 m_next = 0;    // the next index expected (a page read again is not read twice)
    qint64 m_taken = 0;
    QList<ItemResult> m_page;

    QNetworkReply *m_reply = nullptr;
    std::unique_ptr<GzipCodec::Inflater> m_inflater;
    QByteArray m_line; // the part of a line read so far
    qint64 m_lineNo = 0;
    bool m_done = false;
    QList<QPair<QString, qint64>> m_chunks; // a parent's chunks still to read: batch id, offset of their first item
};

} // namespace membatch
