#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

#include <memory>

namespace membatch {

// Real gzip (RFC 1952), as `gzip` writes and reads it, over zlib. Not
// qCompress, which is a length prefix plus a bare zlib stream.
namespace GzipCodec {

// Compresses data into one gzip member at the given level (1..9).
QByteArray compress(const QByteArray &data, int level = 6);

// The same with libdeflate, whole-buffer, at level 1..12: two to three
// times faster than zlib at its level 6, for a chunk that is in memory.
QByteArray compressBuffer(QByteArrayView data, int level = 6);

// Compresses into one gzip member piece by piece: what has been appended is
// held compressed, never as a whole.
class Deflater
{
public:
    explicit Deflater(int level = 6);
    ~Deflater();
    Deflater(const Deflater &) = delete;
    Deflater &operator=(const Deflater &) = delete;

    void append(QByteArrayView data);
    // Ends the member and hands over the gzip bytes; the deflater is spent.
    QByteArray finish();

private:
    void run(QByteArrayView data, int flush);

    struct Stream;
    std::unique_ptr<Stream> m_zs;
    QByteArray m_out;
};

// Inflates gzip as it arrives, one or more concatenated members (as
// `cat a.gz b.gz` makes; gzip -d reads on), and refuses anything that is
// not valid gzip or that inflates past a limit before it has inflated
// further: a gzip bomb costs no more memory than the limit allows.
class Inflater
{
public:
    explicit Inflater(qint64 maxOutputBytes);
    ~Inflater();
    Inflater(const Inflater &) = delete;
    Inflater &operator=(const Inflater &) = delete;

    // Inflates the next compressed bytes, appending what they give to *out.
    // False once the data is found wrong; error() says why and at which byte.
    bool feed(QByteArrayView compressed, QByteArray *out);
    // The input has ended: false (error() says why) if it ended inside a
    // member, or before any.
    bool finish();

    QString error() const { return m_error; }
    qint64 bytesIn() const { return m_in; }
    qint64 bytesOut() const { return m_out; }

private:
    bool fail(const QString &why);

    struct Stream;
    std::unique_ptr<Stream> m_zs;
    qint64 m_limit;
    qint64 m_in = 0;
    qint64 m_out = 0;
    bool m_inMember = false; // between a member's first byte and its end
    QByteArray m_magic;      // the first bytes, until there are two to check
    QString m_error;
};

// Inflates a whole gzip buffer with an Inflater: false (with *error) on
// anything that is not complete, valid gzip, or that would inflate past
// maxOutputBytes.
bool decompress(const QByteArray &gzip, QByteArray *out, QString *error,
                qint64 maxOutputBytes = qint64(2) * 1024 * 1024 * 1024);

} // namespace GzipCodec
} // namespace membatch
