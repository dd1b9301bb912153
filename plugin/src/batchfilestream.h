#pragma once

#include "gzipcodec.h"
#include "jsonarraysplitter.h"
#include "parseclient.h"

#include <QObject>
#include <QPointer>

#include <deque>
#include <memory>

class QNetworkReply;

namespace membatch {

// A batch file read as it downloads: gunzipped and cut into items while
// the rest is still on its way, never further ahead of its reader than a
// bounded backlog (the download waits, and TCP with it), so a batch of
// any size costs the same memory. Every limit is checked as the bytes
// come: the file's size, what it inflates to, each item's size.
class BatchFileStream : public QObject
{
    Q_OBJECT
public:
    struct Limits
    {
        qint64 maxFileBytes;          // compressed, as downloaded
        qint64 maxJsonBytes;          // inflated
        qsizetype maxItemBytes;       // one item's text; longer ones come out empty, with their size
        qsizetype backlogBytes = 4 * 1024 * 1024; // items read ahead of take()
    };

    struct Item
    {
        qint64 index = 0;  // 0-based, in the file
        qint64 bytes = 0;  // the item's text size
        QByteArray json;   // empty when bytes > maxItemBytes
    };

    // Reads url, handing out the items from index skip on (those before are
    // read and dropped: a retried attempt resumes where the last one ended).
    BatchFileStream(ParseClient *parse, const QUrl &url, const Limits &limits, qint64 skip, QObject *parent = nullptr);
    ~BatchFileStream() override;

    void start();

    bool hasItem() const { return !m_items.empty(); }
    // The next item's text size; hasItem() first.
    qint64 peekBytes() const { return m_items.front().bytes; }
    Item take();
    // Every item has been read and taken: the file is whole and valid.
    bool atEnd() const { return m_ended && m_items.empty(); }
    // How many items the file has held so far (all of them, once ended).
    qint64 itemCount() const { return m_splitter.elementCount(); }

Q_SIGNALS:
    // There are items to take (or the file has ended: see atEnd()).
    void readyRead();
    // The download failed (result.error a Job::Error: network errors and
    // 5xx are worth another try), or the data is wrong (dataError: no
    // other try will mend it). Nothing more comes after this.
    void failed(const membatch::ApiResult &result, bool dataError);

private:
    void pump();
    bool consume(QByteArrayView compressed);
    void fail(const QString &message);
    void finished(const ApiResult &result);

    ParseClient *m_parse;
    QUrl m_url;
    Limits m_limits;
    qint64 m_skip;
    QPointer<QNetworkReply> m_reply;
    GzipCodec::Inflater m_inflater;
    JsonArraySplitter m_splitter;
    std::deque<Item> m_items;
    qint64 m_backlog = 0; // bytes in m_items
    QByteArray m_json;    // scratch: what the last bytes inflated to
    bool m_ended = false;
    bool m_failed = false;
    bool m_refillQueued = false;
};

} // namespace membatch
