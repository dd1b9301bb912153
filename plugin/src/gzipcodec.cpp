#include "gzipcodec.h"

#include <libdeflate.h>
#include <zlib.h>

#include <algorithm>
#include <limits>
#include <utility>

namespace membatch::GzipCodec {

namespace {
constexpr int kGzipWindowBits = 15 + 16; // 15-bit window, gzip wrapper
constexpr qsizetype kChunk = 256 * 1024;
// zlib counts in uInt; feed it slices small enough for any build.
constexpr qsizetype kMaxSlice = std::numeric_limits<uInt>::max() / 2;
} // namespace

QByteArray compress(const QByteArray &data, int level)
{
    Deflater deflater(level);
    deflater.append(data);
    return deflater.finish();
}

QByteArray compressBuffer(QByteArrayView data, int level)
{
    struct Free
    {
        void operator()(libdeflate_compressor *c) const { libdeflate_free_compressor(c); }
    };
    const std::unique_ptr<libdeflate_compressor, Free> compressor(libdeflate_alloc_compressor(std::clamp(level, 1, 12)));
    if (!compressor)
        return compress(data.toByteArray(), std::clamp(level, 1, 9)); // out of memory for libdeflate's tables: zlib
    QByteArray out(qsizetype(libdeflate_gzip_compress_bound(compressor.get(), size_t(data.size()))), Qt::Uninitialized);
    const size_t n = libdeflate_gzip_compress(compressor.get(), data.data(), size_t(data.size()), out.data(), size_t(out.size()));
    out.truncate(qsizetype(n)); // the bound always fits
    return out;
}

struct Deflater::Stream
{
    z_stream zs{};
    bool ready = false;
    ~Stream()
    {
        if (ready)
            deflateEnd(&zs);
    }
};

Deflater::Deflater(int level)
    : m_zs(std::make_unique<Stream>())
{
    if (deflateInit2(&m_zs->zs, std::clamp(level, 1, 9), Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        qFatal("zlib: deflateInit2 failed"); // only on out-of-memory or a broken zlib
    m_zs->ready = true;
}

Deflater::~Deflater() = default;

void Deflater::run(QByteArrayView data, int flush)
{
    z_stream &zs = m_zs->zs;
    qsizetype inLeft = data.size();
    const char *in = data.data();
    for (;;) {
        const qsizetype slice = std::min(inLeft, kMaxSlice);
        zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in));
        zs.avail_in = uInt(slice);
        const bool last = slice == inLeft;
        int rc = Z_OK;
        do {
            const qsizetype written = m_out.size();
            m_out.resize(written + kChunk);
            zs.next_out = reinterpret_cast<Bytef *>(m_out.data() + written);
            zs.avail_out = uInt(kChunk);
            rc = deflate(&zs, last ? flush : Z_NO_FLUSH);
            m_out.resize(m_out.size() - qsizetype(zs.avail_out));
            if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
                qFatal("zlib: deflate failed (%d)", rc);
        } while (zs.avail_out == 0 || (flush == Z_FINISH && last && rc != Z_STREAM_END));
        in += slice - qsizetype(zs.avail_in);
        inLeft -= slice - qsizetype(zs.avail_in);
        if (last)
            return;
    }
}

void Deflater::append(QByteArrayView data)
{
    if (!data.isEmpty())
        run(data, Z_NO_FLUSH);
}

QByteArray Deflater::finish()
{
    run({}, Z_FINISH);
    m_zs.reset();
    return std::exchange(m_out, {});
}

struct Inflater::Stream
{
    z_stream zs{};
    bool ready = false;
    ~Stream()
    {
        if (ready)
            inflateEnd(&zs);
    }
};

Inflater::Inflater(qint64 maxOutputBytes)
    : m_zs(std::make_unique<Stream>())
    , m_limit(maxOutputBytes)
{
    m_zs->ready = inflateInit2(&m_zs->zs, kGzipWindowBits) == Z_OK;
    if (!m_zs->ready)
        m_error = QStringLiteral("zlib could not start inflating");
}

Inflater::~Inflater() = default;

bool Inflater::fail(const QString &why)
{
    if (m_error.isEmpty())
        m_error = why;
    return false;
}

bool Inflater::feed(QByteArrayView compressed, QByteArray *out)
{
    if (!m_error.isEmpty())
        return false;
    if (m_magic.size() < 2) {
        m_magic.append(compressed.first(std::min<qsizetype>(2 - m_magic.size(), compressed.size())));
        if (m_magic.size() == 2 && m_magic != "\x1f\x8b")
            return fail(QStringLiteral("not gzip data: the first bytes are not the gzip magic 1f 8b"));
    }
    z_stream &zs = m_zs->zs;
    const auto *next = reinterpret_cast<const Bytef *>(compressed.data());
    qsizetype left = compressed.size();
    for (;;) {
        const qsizetype slice = std::min(left, kMaxSlice);
        zs.next_in = const_cast<Bytef *>(next);
        zs.avail_in = uInt(slice);
        const qsizetype before = out->size();
        out->resize(before + kChunk);
        zs.next_out = reinterpret_cast<Bytef *>(out->data() + before);
        zs.avail_out = uInt(kChunk);
        if (slice > 0)
            m_inMember = true;
        const int rc = inflate(&zs, Z_NO_FLUSH);
        const qsizetype used = slice - qsizetype(zs.avail_in);
        const qsizetype produced = kChunk - qsizetype(zs.avail_out);
        out->resize(before + produced);
        next += used;
        left -= used;
        m_in += used;
        m_out += produced;
        if (m_out > m_limit)
            return fail(QStringLiteral("gzip data inflates past the limit of %1 bytes").arg(m_limit));
        if (rc == Z_STREAM_END) {
            m_inMember = false;
            if (inflateReset(&zs) != Z_OK)
                return fail(QStringLiteral("zlib could not reset between gzip members"));
            if (left == 0)
                return true;
            continue; // another member follows
        }
        if (rc == Z_BUF_ERROR || (rc == Z_OK && left == 0 && zs.avail_out > 0))
            return true; // all taken and all given: the rest needs more input
        if (rc != Z_OK) {
            const QString why = zs.msg ? QString::fromLatin1(zs.msg) : QStringLiteral("error %1").arg(rc);
            return fail(QStringLiteral("gzip data is corrupt near byte %1: %2").arg(m_in).arg(why));
        }
    }
}

bool Inflater::finish()
{
    if (!m_error.isEmpty())
        return false;
    if (m_in < 18)
        return fail(QStringLiteral("not gzip data: %1 bytes is shorter than any gzip file").arg(m_in));
    if (m_inMember)
        return fail(QStringLiteral("gzip data is truncated: it ends after %1 bytes, inside a member").arg(m_in));
    return true;
}

bool decompress(const QByteArray &gzip, QByteArray *out, QString *error, qint64 maxOutputBytes)
{
    Inflater inflater(maxOutputBytes);
    QByteArray result;
    if (!inflater.feed(gzip, &result) || !inflater.finish()) {
        if (error)
            *error = inflater.error();
        return false;
    }
    *out = std::move(result);
    return true;
}

} // namespace membatch::GzipCodec
