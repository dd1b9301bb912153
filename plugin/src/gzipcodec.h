#pragma once

#include <QByteArray>
#include <QString>

namespace membatch {

// Real gzip (RFC 1952), as `gzip` writes and reads it, over zlib. Not
// qCompress, which is a length prefix plus a bare zlib stream.
namespace GzipCodec {

// Compresses data into one gzip member at the given level (1..9).
QByteArray compress(const QByteArray &data, int level = 6);

// Decompresses one or more concatenated gzip members. Fails (returns false
// with *error saying why and at which byte) on anything that is not
// complete, valid gzip, or that would inflate past maxOutputBytes.
bool decompress(const QByteArray &gzip, QByteArray *out, QString *error,
                qint64 maxOutputBytes = qint64(2) * 1024 * 1024 * 1024);

} // namespace GzipCodec
} // namespace membatch
