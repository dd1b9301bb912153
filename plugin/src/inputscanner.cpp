#include "inputscanner.h"

#include "digestmap.h"
#include "gzipcodec.h"
#include "itemvalidator.h"
#include "jsonarraysplitter.h"

#include <QCryptographicHash>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtConcurrent>

#include <optional>

namespace membatch::InputScanner {

namespace {

constexpr qint64 kReadBytes = 1 << 20;
// Items checked together on the pool, and batches in flight at most.
constexpr qsizetype kBatchItems = 256;
constexpr qsizetype kBatchesAhead = 4;
constexpr int kReportedErrors = 10;
// Chunks being gzipped ahead at most, each holding its JSON until it is.
constexpr int kEncodesAhead = 2;
// However far a gzip input inflates, it is read as a stream; this only
// bounds the time a bomb of whitespace can take.
constexpr qint64 kMaxInflatedBytes = qint64(1) << 40;

QByteArray sha256(QByteArrayView data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256);
}

class Scanner
{
public:
    Scanner(const QString &source, const Options &options, QIODevice *spool)
        : m_source(source)
        , m_options(options)
        , m_validator(options.limits)
        , m_spool(spool)
        , m_sha(QCryptographicHash::Sha256)
        , m_splitter(maxRawBytes())
    {
        m_chunk.offset = 0;
    }

    bool openReport()
    {
        if (m_options.reportPath.isEmpty())
            return true;
        m_report.emplace(m_options.reportPath);
        const bool opened = m_options.reportPath == QLatin1String("-")
            ? m_report->open(stderr, QIODevice::WriteOnly | QIODevice::Unbuffered, QFileDevice::DontCloseHandle)
            : m_report->open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text);
        if (opened)
            return true;
        m_result.error = QStringLiteral("cannot write the report %1: %2").arg(m_options.reportPath, m_report->errorString());
        return false;
    }

    // The decoded text of the input, piece by piece. False: stop reading.
    bool feed(QByteArrayView text)
    {
        if (m_mode == Mode::Unknown) {
            m_head.append(text);
            qsizetype i = m_head.startsWith("\xEF\xBB\xBF") ? 3 : 0;
            while (i < m_head.size() && QChar::isSpace(uchar(m_head.at(i))))
                ++i;
            if (i == m_head.size() || (m_head.size() < 3 && QByteArrayView("\xEF\xBB\xBF").startsWith(m_head)))
                return true; // not yet known
            m_mode = m_head.at(i) == '[' ? Mode::Array : Mode::Lines;
            QByteArray head = std::exchange(m_head, {});
            if (head.startsWith("\xEF\xBB\xBF"))
                head.remove(0, 3);
            return feed(head);
        }
        if (m_mode == Mode::Array) {
            QList<JsonArraySplitter::Element> elements;
            const bool ok = m_splitter.feed(text, &elements);
            for (const auto &e : elements)
                element(e.text, e.bytes);
            if (!ok)
                m_result.error = QStringLiteral("%1: %2").arg(m_source, m_splitter.error());
            return ok;
        }
        lines(text);
        return true;
    }

    // error: what stopped the reading (it comes first, and nothing more is
    // encoded for a submission that will not be sent).
    Result finish(const QString &error = {}, bool canceled = false)
    {
        if (!error.isEmpty())
            m_result.error = error;
        m_result.canceled = canceled;
        if (m_result.error.isEmpty()) {
            if (m_mode == Mode::Array && !m_splitter.finish())
                m_result.error = QStringLiteral("%1: %2").arg(m_source, m_splitter.error());
            else if (m_mode == Mode::Lines && (!m_line.isEmpty() || m_lineTooLong))
                line(); // the last line, without its newline
        }
        drain();
        if (m_result.error.isEmpty() && sendsNothing()) {
            m_result.error = m_errors.join(QLatin1Char('\n'));
            if (m_result.invalid > m_errors.size())
                m_result.error += QStringLiteral("\n... and %1 more invalid items").arg(m_result.invalid - m_errors.size());
            m_result.error += QStringLiteral("\n%1: nothing was sent (%2 of %3 items are invalid; --skip-invalid leaves them out)")
                                  .arg(m_source)
                                  .arg(m_result.invalid)
                                  .arg(m_result.items);
        }
        if (m_result.error.isEmpty() && m_result.kept == 0) {
            m_result.error = m_result.items == 0
                ? QStringLiteral("%1: the batch is empty (no memories)").arg(m_source)
                : QStringLiteral("%1: no memories are left to send (%2 invalid, %3 duplicates)")
                      .arg(m_source)
                      .arg(m_result.invalid)
                      .arg(m_result.duplicates);
        }
        if (m_result.error.isEmpty() && m_spoolFailed)
            m_result.error = QStringLiteral("cannot write the spool file: %1").arg(m_spool->errorString());
        if (m_chunk.count)
            closeChunk();
        if (m_result.error.isEmpty()) {
            for (const QFuture<QByteArray> &f : std::as_const(m_encoding))
                m_result.encoded.append(f.result()); // or encoded here, if not started
        }
        m_encoding.clear();
        m_result.inputSha256 = m_sha.result();
        if (m_report)
            m_report->close();
        return std::move(m_result);
    }

    qint64 itemsRead() const { return m_result.items; }
    ~Scanner() { drain(); } // no check left running on what is gone
    QString error() const { return m_result.error; }

private:
    enum class Mode { Unknown, Array, Lines };

    // Pretty-printed items may be twice their compact size, and no more
    // than that is held.
    qsizetype maxRawBytes() const { return qsizetype(std::min<qint64>(m_options.limits.maxItemBytes * 2 + 4096, 1 << 30)); }

    void lines(QByteArrayView text)
    {
        while (!text.isEmpty()) {
            const qsizetype nl = text.indexOf('\n');
            const QByteArrayView part = nl < 0 ? text : text.first(nl);
            if (!m_lineTooLong) {
                if (m_line.size() + part.size() > maxRawBytes()) {
                    m_lineTooLong = true;
                    m_lineBytes = m_line.size();
                    m_line.clear();
                } else {
                    m_line.append(part);
                }
            }
            if (m_lineTooLong)
                m_lineBytes += part.size();
            if (nl < 0)
                return;
            line();
            text = text.sliced(nl + 1);
        }
    }

    void line()
    {
        ++m_lineNo;
        const QByteArray text = std::exchange(m_line, {});
        if (m_lineTooLong) {
            m_lineTooLong = false;
            element({}, m_lineBytes);
            return;
        }
        if (text.trimmed().isEmpty())
            return; // blank lines are no items
        element(text, text.size());
    }

    // An item read: checked on the pool with the ones around it, then taken
    // in order by commit().
    void element(const QByteArray &text, qint64 bytes)
    {
        m_batch.append({text, bytes, m_result.items++, m_lineNo});
        if (m_batch.size() >= kBatchItems)
            dispatch();
    }

    struct Raw
    {
        QByteArray text;
        qint64 bytes = 0;
        qint64 index = 0;
        qint64 line = 0;
    };
    // What the pool found of an item: all a commit needs, and no more.
    struct Checked
    {
        qint64 index = 0;
        qint64 line = 0;
        QString why; // empty: valid
        QByteArray compact;
        QString customId;
        qsizetype dimension = 0;
        QByteArray digest; // of its normalised content (SHA-256)
    };

    static QList<Checked> checkBatch(const ItemValidator &validator, const QList<Raw> &batch, qint64 maxItemBytes,
                                     SubmitOptions::Dedup dedup)
    {
        QList<Checked> out;
        out.reserve(batch.size());
        for (const Raw &raw : batch) {
            Checked c;
            c.index = raw.index;
            c.line = raw.line;
            ItemValidator::Checked item;
            if (raw.text.isEmpty())
                c.why = QStringLiteral("the memory is %1 bytes, more than the %2 a memory may be").arg(raw.bytes).arg(maxItemBytes);
            else if (validator.checkItem(raw.text, &item, &c.why)) {
                c.compact = std::move(item.compact);
                c.customId = item.item.customId;
                c.dimension = item.item.embedding.size();
                if (dedup != SubmitOptions::Dedup::Off)
                    c.digest = contentDigest(item.item.content, item.item.metadata, dedup);
            }
            out.append(std::move(c));
        }
        return out;
    }

    void dispatch()
    {
        if (m_batch.isEmpty())
            return;
        // Checking is most of the work: a few batches at once on the pool,
        // and this thread helps with the oldest when it waits for it.
        m_checking.append(QtConcurrent::run(checkBatch, m_validator, std::exchange(m_batch, {}),
                                            m_options.limits.maxItemBytes, m_options.dedup));
        while (m_checking.size() > kBatchesAhead)
            commitOldest();
    }

    void commitOldest()
    {
        QFuture<QList<Checked>> oldest = m_checking.takeFirst();
        for (const Checked &c : oldest.result())
            commit(c);
    }

    void drain()
    {
        dispatch();
        while (!m_checking.isEmpty())
            commitOldest();
    }

    QString label(const Checked &c) const
    {
        return m_mode == Mode::Lines ? QStringLiteral("line %1").arg(c.line) : QStringLiteral("item %1").arg(c.index + 1);
    }

    void commit(const Checked &c)
    {
        QString why = c.why;
        if (why.isEmpty())
            m_validator.checkDimension(c.dimension, label(c), &why);
        if (why.isEmpty() && !c.customId.isEmpty()) {
            const qint64 first = m_customIds.findOrInsert(sha256(c.customId.toUtf8()), c.index);
            if (first >= 0)
                why = QStringLiteral("customId '%1' is item %2's already").arg(c.customId).arg(first + 1);
        }
        if (!why.isEmpty()) {
            invalid(c.index, c.line, why);
            return;
        }
        if (m_options.dedup != SubmitOptions::Dedup::Off) {
            const qint64 first = m_contents.findOrInsert(c.digest, c.index);
            if (first >= 0) {
                ++m_result.duplicates;
                QJsonObject entry{{QStringLiteral("kind"), QStringLiteral("duplicate")},
                                  {QStringLiteral("index"), c.index},
                                  {QStringLiteral("duplicateOf"), first}};
                if (!c.customId.isEmpty())
                    entry.insert(QStringLiteral("customId"), c.customId);
                report(entry);
                return;
            }
        }
        if (sendsNothing())
            return; // no need to keep it
        keep(c.compact);
    }

    void invalid(qint64 index, qint64 line, const QString &why)
    {
        ++m_result.invalid;
        if (m_errors.size() < kReportedErrors) {
            m_errors << (m_mode == Mode::Lines ? QStringLiteral("%1:%2: %3").arg(m_source).arg(line).arg(why)
                                               : QStringLiteral("%1: item %2: %3").arg(m_source).arg(index + 1).arg(why));
        }
        QJsonObject entry{{QStringLiteral("kind"), QStringLiteral("invalid")},
                          {QStringLiteral("index"), index},
                          {QStringLiteral("reason"), why}};
        if (m_mode == Mode::Lines)
            entry.insert(QStringLiteral("line"), line);
        report(entry);
    }

    void report(const QJsonObject &entry)
    {
        if (m_report)
            m_report->write(QJsonDocument(entry).toJson(QJsonDocument::Compact).append('\n'));
    }

    void keep(const QByteArray &compact)
    {
        // The item as validated: no second JSON round trip. (Its hash is not
        // sent: 64 hex digits an item would grow the gzip by half, and the
        // worker computes it from what it stores, trusting no client's.)
        QByteArray line;
        line.reserve(compact.size() + 1);
        line.append(compact).append('\n');

        const qint64 bytes = line.size(); // the newline stands for the comma (or a bracket)
        if (m_chunk.count && (m_chunk.count >= m_options.chunkItems || m_chunk.jsonBytes() + bytes > m_options.chunkBytes)) {
            closeChunk();
            m_chunk = ChunkSpan{m_chunk.offset + m_chunk.length, 0, 0};
        }
        if (m_chunk.count == 0)
            m_collecting = m_options.compressionLevel > 0 && m_encoding.size() == m_result.chunks.size()
                && m_encodedAheadBytes < m_options.encodeAheadBytes;
        if (m_collecting) {
            if (m_chunkLines.isEmpty())
                m_chunkLines.append('[');
            m_chunkLines.append(line);
        }
        m_chunk.length += bytes;
        ++m_chunk.count;
        ++m_result.kept;
        m_result.jsonBytes += bytes + (m_chunk.count == 1 ? 1 : 0);
        m_sha.addData(line);
        if (m_spool->write(line) != bytes)
            m_spoolFailed = true;
    }

    // Strict, and an item is invalid: nothing of this input will be sent.
    bool sendsNothing() const { return m_result.invalid && !m_options.skipInvalid; }

    // A chunk is cut: its lines, if they were kept, are gzipped on the pool
    // (no more than kEncodesAhead at once: this thread waits, or does one).
    void closeChunk()
    {
        m_result.chunks.append(m_chunk);
        QByteArray lines = std::exchange(m_chunkLines, {});
        if (!std::exchange(m_collecting, false) || !m_result.error.isEmpty() || sendsNothing())
            return;
        m_encodedAheadBytes += m_chunk.jsonBytes();
        const auto unfinished = [](const QFuture<QByteArray> &f) { return !f.isFinished(); };
        if (std::count_if(m_encoding.cbegin(), m_encoding.cend(), unfinished) >= kEncodesAhead)
            std::find_if(m_encoding.begin(), m_encoding.end(), unfinished)->waitForFinished();
        m_encoding.append(QtConcurrent::run(encodeChunk, std::move(lines), m_options.compressionLevel));
    }

    QString m_source;
    Options m_options;
    ItemValidator m_validator;
    QIODevice *m_spool;
    QCryptographicHash m_sha;
    JsonArraySplitter m_splitter;
    std::optional<QFile> m_report;
    Mode m_mode = Mode::Unknown;
    QByteArray m_head;
    QByteArray m_line;
    bool m_lineTooLong = false;
    qint64 m_lineBytes = 0;
    qint64 m_lineNo = 0;
    QList<Raw> m_batch;
    QList<QFuture<QList<Checked>>> m_checking;
    DigestMap m_contents;
    DigestMap m_customIds;
    ChunkSpan m_chunk;
    bool m_collecting = false; // m_chunk's lines are kept, to be gzipped ahead
    QByteArray m_chunkLines;
    QList<QFuture<QByteArray>> m_encoding; // the chunks gzipped ahead, in order
    qint64 m_encodedAheadBytes = 0;
    QStringList m_errors;
    bool m_spoolFailed = false;
    Result m_result;
};

} // namespace

QByteArray encodeChunk(QByteArray json, int level)
{
    // One item a line, and no raw newline in compact JSON: each newline
    // ends an item, and becomes a comma; the last, the closing bracket.
    Q_ASSERT(json.startsWith('['));
    if (json.size() < 2)
        return GzipCodec::compressBuffer("[]", level);
    char *p = json.data() + 1;
    char *const end = json.data() + json.size();
    while ((p = static_cast<char *>(memchr(p, '\n', size_t(end - p)))))
        *p++ = ',';
    json[json.size() - 1] = ']';
    return GzipCodec::compressBuffer(json, level);
}

QByteArray normalisedContent(const QString &content)
{
    // ASCII text (most of it) is its own NFC, and its whitespace is
    // QChar::isSpace's ASCII set: simplified here in one pass, a fifth of
    // the time the general way takes.
    QByteArray out(content.size(), Qt::Uninitialized);
    char *o = out.data();
    bool space = false;
    for (const QChar c : content) {
        const char16_t u = c.unicode();
        if (u >= 0x80)
            return content.normalized(QString::NormalizationForm_C).simplified().toUtf8();
        if (u == ' ' || (u >= '\t' && u <= '\r')) {
            space = o != out.data();
            continue;
        }
        if (space)
            *o++ = ' ';
        space = false;
        *o++ = char(u);
    }
    out.truncate(o - out.data());
    return out;
}

QByteArray contentDigest(const QString &content, const QJsonObject &metadata, SubmitOptions::Dedup dedup)
{
    QCryptographicHash hash(QCryptographicHash::Sha256);
    hash.addData(normalisedContent(content));
    if (dedup == SubmitOptions::Dedup::ContentAndMetadata) {
        hash.addData(QByteArrayView("\0", 1));
        hash.addData(QJsonDocument(metadata).toJson(QJsonDocument::Compact)); // keys in order
    }
    return hash.result();
}

Result scan(QIODevice *input, const QString &sourceName, const Options &options, QIODevice *spool,
            const std::function<bool(qint64)> &progress)
{
    // The reading thread waits for its checks and encodes on the pool, or
    // does one of them itself: it lends the pool its place meanwhile, so
    // that every core checks or encodes.
    struct LentThread
    {
        LentThread() { QThreadPool::globalInstance()->releaseThread(); }
        ~LentThread() { QThreadPool::globalInstance()->reserveThread(); }
    } lent;
    Scanner scanner(sourceName, options, spool);
    if (!scanner.openReport())
        return scanner.finish();

    std::optional<GzipCodec::Inflater> inflater;
    bool first = true;
    QByteArray magic;
    qint64 reported = 0;
    QByteArray piece(kReadBytes, Qt::Uninitialized);
    QByteArray text;
    for (;;) {
        const qint64 n = input->read(piece.data(), piece.size());
        if (n < 0)
            return scanner.finish(QStringLiteral("%1: cannot read: %2").arg(sourceName, input->errorString()));
        if (n == 0) {
            if (!input->isSequential() || input->atEnd() || !input->waitForReadyRead(-1))
                break;
            continue;
        }
        QByteArrayView bytes(piece.constData(), n);
        if (first) {
            // Gzip or not, from its magic bytes (which may come one at a time).
            magic.append(bytes);
            if (magic.size() < 2)
                continue;
            first = false;
            if (magic.startsWith("\x1f\x8b"))
                inflater.emplace(kMaxInflatedBytes);
            bytes = magic;
        }
        bool ok = true;
        if (inflater) {
            text.clear();
            if (!inflater->feed(bytes, &text))
                return scanner.finish(QStringLiteral("%1: %2").arg(sourceName, inflater->error()));
            ok = scanner.feed(text);
        } else {
            ok = scanner.feed(bytes);
        }
        magic.clear();
        if (!ok)
            return scanner.finish();
        if (progress) {
            reported = scanner.itemsRead();
            if (!progress(reported))
                return scanner.finish(QStringLiteral("%1: reading was stopped").arg(sourceName), true);
        }
    }
    if (first && !magic.isEmpty()) // a one-byte input
        scanner.feed(magic);
    if (inflater && !inflater->finish())
        return scanner.finish(QStringLiteral("%1: %2").arg(sourceName, inflater->error()));
    if (progress)
        progress(scanner.itemsRead());
    return scanner.finish();
}

} // namespace membatch::InputScanner
