#include "gzipcodec.h"

#include <zlib.h>

#include <algorithm>
#include <limits>

namespace membatch::GzipCodec {

namespace {
constexpr int kGzipWindowBits = 15 + 16; // 15-bit window, gzip wrapper
constexpr qsizetype kChunk = 256 * 1024;
// zlib counts in uInt; feed it slices small enough for any build.
constexpr qsizetype kMaxSlice = std::numeric_limits<uInt>::max() / 2;
} // namespace

QByteArray compress(const QByteArray &data, int level)
{
    z_stream zs{};
    if (deflateInit2(&zs, std::clamp(level, 1, 9), Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        qFatal("zlib: deflateInit2 failed"); // only on out-of-memory or a broken zlib

    QByteArray out;
    out.resize(qsizetype(deflateBound(&zs, uLong(data.size()))));
    zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.constData()));
    qsizetype inLeft = data.size();
    qsizetype written = 0;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        const qsizetype slice = std::min(inLeft, kMaxSlice);
        zs.avail_in = uInt(slice);
        if (out.size() - written < kChunk)
            out.resize(out.size() + kChunk);
        zs.next_out = reinterpret_cast<Bytef *>(out.data() + written);
        zs.avail_out = uInt(std::min(out.size() - written, kMaxSlice));
        const uInt availOutBefore = zs.avail_out;
        rc = deflate(&zs, slice == inLeft ? Z_FINISH : Z_NO_FLUSH);
        inLeft -= slice - qsizetype(zs.avail_in);
        written += availOutBefore - zs.avail_out;
        if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
            qFatal("zlib: deflate failed (%d)", rc);
    }
    deflateEnd(&zs);
    out.truncate(written);
    return out;
}

bool decompress(const QByteArray &gzip, QByteArray *out, QString *error, qint64 maxOutputBytes)
{
    auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return false;
    };
    if (gzip.size() < 18)
        return fail(QStringLiteral("not gzip data: %1 bytes is shorter than any gzip file").arg(gzip.size()));
    if (uchar(gzip.at(0)) != 0x1f || uchar(gzip.at(1)) != 0x8b)
        return fail(QStringLiteral("not gzip data: the first bytes are not the gzip magic 1f 8b"));

    z_stream zs{};
    if (inflateInit2(&zs, kGzipWindowBits) != Z_OK)
        return fail(QStringLiteral("zlib could not start inflating"));

    QByteArray result;
    const auto *begin = reinterpret_cast<const Bytef *>(gzip.constData());
    qsizetype consumed = 0;
    int rc = Z_OK;
    char buffer[kChunk];
    for (;;) {
        const qsizetype slice = std::min(gzip.size() - consumed, kMaxSlice);
        zs.next_in = const_cast<Bytef *>(begin + consumed);
        zs.avail_in = uInt(slice);
        zs.next_out = reinterpret_cast<Bytef *>(buffer);
        zs.avail_out = sizeof buffer;
        rc = inflate(&zs, Z_NO_FLUSH);
        consumed += slice - qsizetype(zs.avail_in);
        const qsizetype produced = qsizetype(sizeof buffer) - qsizetype(zs.avail_out);
        if (result.size() + produced > maxOutputBytes) {
            inflateEnd(&zs);
            return fail(QStringLiteral("gzip data inflates past the limit of %1 bytes").arg(maxOutputBytes));
        }
        result.append(buffer, produced);

        if (rc == Z_STREAM_END) {
            if (consumed == gzip.size())
                break;
            // Another member follows (as `cat a.gz b.gz` makes); gzip -d reads on.
            if (inflateReset(&zs) != Z_OK) {
                inflateEnd(&zs);
                return fail(QStringLiteral("zlib could not reset between gzip members"));
            }
            continue;
        }
        if (rc == Z_OK)
            continue;
        if (rc == Z_BUF_ERROR && consumed == gzip.size()) {
            inflateEnd(&zs);
            return fail(QStringLiteral("gzip data is truncated: it ends after %1 bytes, inside a member").arg(consumed));
        }
        const QString why = zs.msg ? QString::fromLatin1(zs.msg) : QStringLiteral("error %1").arg(rc);
        inflateEnd(&zs);
        return fail(QStringLiteral("gzip data is corrupt near byte %1: %2").arg(consumed).arg(why));
    }
    inflateEnd(&zs);
    *out = std::move(result);
    return true;
}

} // namespace membatch::GzipCodec
