#include "itemvalidator.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>
#include <cstdlib>
#include <vector>

namespace membatch {

namespace {

// A key as an error shows it: short, and without control characters.
QString shownKey(const QByteArray &utf8)
{
    constexpr qsizetype max = 64;
    const QString key = QString::fromUtf8(utf8);
    QString out;
    for (const QChar c : QStringView(key).left(max))
        out += c.isPrint() ? QString(c) : QStringLiteral("\\u%1").arg(c.unicode(), 4, 16, QLatin1Char('0'));
    return key.size() > max ? out + QStringLiteral("...") : out;
}

// A recursive-descent reader of one JSON value that refuses what strict
// JSON and Parse refuse, and copies the text without its whitespace.
class Lint
{
public:
    Lint(QByteArrayView text, QByteArray *out, int maxDepth)
        : m_p(text.data())
        , m_begin(text.data())
        , m_end(text.data() + text.size())
        , m_out(out)
        , m_maxDepth(maxDepth)
    {
    }

    bool run()
    {
        m_out->reserve(m_end - m_p);
        skipSpace();
        if (!value())
            return false;
        skipSpace();
        if (m_p != m_end)
            return bad(QStringLiteral("unexpected text after the value"));
        return true;
    }

    QString error() const { return m_error; }
    // The compact bytes of the top-level "metadata" value, as written out.
    qsizetype metadataBytes() const { return m_metadataBytes; }

private:
    struct Segment
    {
        QByteArray key; // empty with index >= 0
        qint64 index = -1;
    };

    bool fail(const QString &why)
    {
        QString where;
        for (const Segment &s : m_path) {
            if (s.index >= 0)
                where += QStringLiteral("[%1]").arg(s.index);
            else
                where += (where.isEmpty() ? QString() : QStringLiteral(".")) + shownKey(s.key);
        }
        m_error = where.isEmpty() ? why : QStringLiteral("%1: %2").arg(where, why);
        m_error += QStringLiteral(", at byte %1").arg(m_p - m_begin + 1);
        return false;
    }

    // Not JSON at all (as opposed to JSON that Parse would refuse).
    bool bad(const QString &why) { return fail(QStringLiteral("invalid JSON: ") + why); }

    void skipSpace()
    {
        while (m_p < m_end && (*m_p == ' ' || *m_p == '\t' || *m_p == '\n' || *m_p == '\r'))
            ++m_p;
    }

    bool inMetadata() const { return !m_path.empty() && m_path.front().index < 0 && m_path.front().key == "metadata"; }

    bool value()
    {
        if (m_p >= m_end)
            return bad(QStringLiteral("the text ends where a value should be"));
        switch (*m_p) {
        case '{':
            return object();
        case '[':
            return array();
        case '"':
            return string(nullptr);
        case 't':
            return literal("true");
        case 'f':
            return literal("false");
        case 'n':
            return literal("null");
        default:
            if (*m_p == '-' || (*m_p >= '0' && *m_p <= '9'))
                return number();
            return bad(QStringLiteral("'%1' cannot begin a value").arg(QChar::fromLatin1(*m_p)));
        }
    }

    bool literal(const char *word)
    {
        const qsizetype n = qsizetype(strlen(word));
        if (m_end - m_p < n || memcmp(m_p, word, size_t(n)) != 0)
            return bad(QStringLiteral("not a JSON value (true, false, null, a number, a string, an array or an object)"));
        m_out->append(m_p, n);
        m_p += n;
        return true;
    }

    bool enter()
    {
        if (int(m_path.size()) >= m_maxDepth)
            return fail(QStringLiteral("nested deeper than %1 levels").arg(m_maxDepth));
        return true;
    }

    // Copies the opening bracket; true if the closing one follows at once.
    bool opened(char open, char close)
    {
        m_out->append(open);
        ++m_p;
        skipSpace();
        if (m_p >= m_end || *m_p != close)
            return false;
        m_out->append(close);
        ++m_p;
        return true;
    }

    // After a member or an element: a comma (another follows), the closing
    // bracket, or neither.
    enum class Next { More, Closed, Neither };
    Next after(char close)
    {
        skipSpace();
        if (m_p < m_end && (*m_p == ',' || *m_p == close)) {
            const char c = *m_p++;
            m_out->append(c);
            if (c == close)
                return Next::Closed;
            skipSpace();
            return Next::More;
        }
        return Next::Neither;
    }

    bool object()
    {
        if (!enter())
            return false;
        if (opened('{', '}'))
            return true; // {}
        std::vector<QByteArray> keys;
        const bool checkKeys = inMetadata();
        for (;;) {
            if (m_p >= m_end || *m_p != '"')
                return bad(QStringLiteral("expected a key in double quotes"));
            QByteArray key;
            if (!string(&key))
                return false;
            for (const QByteArray &k : keys) {
                if (k == key)
                    return fail(QStringLiteral("the key '%1' appears twice (Parse would keep only the last)").arg(shownKey(key)));
            }
            keys.push_back(key);
            if (checkKeys && !metadataKey(key))
                return false;
            skipSpace();
            if (m_p >= m_end || *m_p != ':')
                return bad(QStringLiteral("expected ':' after a key"));
            m_out->append(':');
            ++m_p;
            skipSpace();
            const bool metadata = m_path.empty() && key == "metadata";
            const qsizetype before = m_out->size();
            m_path.push_back({key, -1});
            if (!value())
                return false;
            m_path.pop_back();
            if (metadata)
                m_metadataBytes = m_out->size() - before;
            const Next next = after('}');
            if (next != Next::More)
                return next == Next::Closed || bad(QStringLiteral("expected ',' or '}' in an object"));
        }
    }

    // Parse stores metadata as a JSON object of its own: some keys it reads
    // as operators or types, or as paths into the object.
    bool metadataKey(const QByteArray &key)
    {
        if (key.startsWith('$'))
            return fail(QStringLiteral("the key '%1' starts with '$', which Parse refuses in an object").arg(shownKey(key)));
        if (key.contains('.'))
            return fail(QStringLiteral("the key '%1' holds a '.', which Parse reads as a path").arg(shownKey(key)));
        if (key == "__type" || key == "__op")
            return fail(QStringLiteral("the key '%1' is Parse's own (a type or an operation), and Parse would change or drop the object")
                            .arg(shownKey(key)));
        return true;
    }

    bool array()
    {
        if (!enter())
            return false;
        if (opened('[', ']'))
            return true; // []
        for (qint64 i = 0;; ++i) {
            m_path.push_back({{}, i});
            if (!value())
                return false;
            m_path.pop_back();
            const Next next = after(']');
            if (next != Next::More)
                return next == Next::Closed || bad(QStringLiteral("expected ',' or ']' in an array"));
        }
    }

    static int hex(char c)
    {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    }

    bool hex4(const char *at, uint *code)
    {
        if (m_end - at < 4)
            return false;
        uint v = 0;
        for (int i = 0; i < 4; ++i) {
            const int d = hex(at[i]);
            if (d < 0)
                return false;
            v = v * 16 + uint(d);
        }
        *code = v;
        return true;
    }

    static void appendUtf8(QByteArray *to, uint cp)
    {
        if (cp < 0x80) {
            to->append(char(cp));
        } else if (cp < 0x800) {
            to->append(char(0xC0 | (cp >> 6))).append(char(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            to->append(char(0xE0 | (cp >> 12))).append(char(0x80 | ((cp >> 6) & 0x3F))).append(char(0x80 | (cp & 0x3F)));
        } else {
            to->append(char(0xF0 | (cp >> 18)))
                .append(char(0x80 | ((cp >> 12) & 0x3F)))
                .append(char(0x80 | ((cp >> 6) & 0x3F)))
                .append(char(0x80 | (cp & 0x3F)));
        }
    }

    // The length of the valid UTF-8 sequence at p (RFC 3629: no overlong
    // forms, no surrogates, nothing past U+10FFFF), or 0.
    qsizetype utf8Length(const char *p) const
    {
        const auto b = [p](int i) { return uchar(p[i]); };
        const qsizetype left = m_end - p;
        const uchar c = b(0);
        auto cont = [&](int i, uchar lo = 0x80, uchar hi = 0xBF) { return i < left && b(i) >= lo && b(i) <= hi; };
        if (c >= 0xC2 && c <= 0xDF)
            return cont(1) ? 2 : 0;
        if (c == 0xE0)
            return cont(1, 0xA0) && cont(2) ? 3 : 0;
        if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
            return cont(1) && cont(2) ? 3 : 0;
        if (c == 0xED)
            return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;
        if (c == 0xF0)
            return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
        if (c >= 0xF1 && c <= 0xF3)
            return cont(1) && cont(2) && cont(3) ? 4 : 0;
        if (c == 0xF4)
            return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;
        return 0;
    }

    // A string, copied as written; decoded into *decoded if asked (keys).
    bool string(QByteArray *decoded)
    {
        const char *start = m_p;
        ++m_p;
        while (m_p < m_end) {
            const uchar c = uchar(*m_p);
            if (c == '"') {
                ++m_p;
                m_out->append(start, m_p - start);
                return true;
            }
            if (c == 0)
                return fail(QStringLiteral("a string holds a NUL character, which Parse refuses"));
            if (c < 0x20)
                return bad(QStringLiteral("a string holds control character %1 unescaped").arg(c));
            if (c == '\\') {
                if (!escape(decoded))
                    return false;
                continue;
            }
            if (c >= 0x80) {
                const qsizetype n = utf8Length(m_p);
                if (n == 0)
                    return fail(QStringLiteral("a string is not valid UTF-8"));
                if (decoded)
                    decoded->append(m_p, n);
                m_p += n;
                continue;
            }
            if (decoded)
                decoded->append(char(c));
            ++m_p;
        }
        m_p = start;
        return bad(QStringLiteral("a string is not closed"));
    }

    bool escape(QByteArray *decoded)
    {
        if (m_end - m_p < 2)
            return bad(QStringLiteral("a string ends inside an escape"));
        const char e = m_p[1];
        static const char plain[] = "\"\\/bfnrt";
        static const char meaning[] = "\"\\/\b\f\n\r\t";
        if (e != 'u') {
            const char *at = strchr(plain, e);
            if (!at || !e)
                return bad(QStringLiteral("'\\%1' is not a JSON escape").arg(QChar::fromLatin1(e)));
            if (decoded)
                decoded->append(meaning[at - plain]);
            m_p += 2;
            return true;
        }
        uint code = 0;
        if (!hex4(m_p + 2, &code))
            return bad(QStringLiteral("'\\u' must be followed by 4 hex digits"));
        if (code == 0)
            return fail(QStringLiteral("a string holds \\u0000 (NUL), which Parse refuses"));
        if (code >= 0xDC00 && code <= 0xDFFF)
            return fail(QStringLiteral("a string holds a lone low surrogate \\u%1, which Parse would turn into U+FFFD")
                            .arg(code, 4, 16, QLatin1Char('0')));
        if (code >= 0xD800 && code <= 0xDBFF) {
            uint low = 0;
            if (m_end - m_p < 12 || m_p[6] != '\\' || m_p[7] != 'u' || !hex4(m_p + 8, &low) || low < 0xDC00 || low > 0xDFFF)
                return fail(QStringLiteral("a string holds a lone high surrogate \\u%1, which Parse would turn into U+FFFD")
                                .arg(code, 4, 16, QLatin1Char('0')));
            if (decoded)
                appendUtf8(decoded, 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00));
            m_p += 12;
            return true;
        }
        if (decoded)
            appendUtf8(decoded, code);
        m_p += 6;
        return true;
    }

    bool number()
    {
        const char *start = m_p;
        if (*m_p == '-')
            ++m_p;
        const char *digits = m_p;
        if (m_p < m_end && *m_p == '0') {
            ++m_p;
        } else if (m_p < m_end && *m_p >= '1' && *m_p <= '9') {
            while (m_p < m_end && *m_p >= '0' && *m_p <= '9')
                ++m_p;
        } else {
            return bad(QStringLiteral("a number needs a digit"));
        }
        const qsizetype intDigits = m_p - digits;
        bool integer = true;
        if (m_p < m_end && *m_p == '.') {
            integer = false;
            ++m_p;
            if (m_p >= m_end || *m_p < '0' || *m_p > '9')
                return bad(QStringLiteral("a number needs a digit after '.'"));
            while (m_p < m_end && *m_p >= '0' && *m_p <= '9')
                ++m_p;
        }
        if (m_p < m_end && (*m_p == 'e' || *m_p == 'E')) {
            integer = false;
            ++m_p;
            if (m_p < m_end && (*m_p == '+' || *m_p == '-'))
                ++m_p;
            if (m_p >= m_end || *m_p < '0' || *m_p > '9')
                return bad(QStringLiteral("a number needs a digit in its exponent"));
            while (m_p < m_end && *m_p >= '0' && *m_p <= '9')
                ++m_p;
        }
        const QByteArray text(start, m_p - start);
        if (integer && intDigits >= 16) {
            // 2^53 = 9007199254740992: past it, a double skips integers.
            static const QByteArray limit("9007199254740992");
            const QByteArray magnitude = QByteArray(digits, intDigits);
            if (intDigits > limit.size() || (intDigits == limit.size() && magnitude > limit))
                return fail(QStringLiteral("the integer %1 is beyond 2^53 and would lose precision (send it as a string)")
                                .arg(QString::fromLatin1(text)));
        } else if (!integer && !std::isfinite(std::strtod(text.constData(), nullptr))) {
            return fail(QStringLiteral("the number %1 is too large for a double").arg(QString::fromLatin1(text.left(40))));
        }
        m_out->append(text);
        return true;
    }

    const char *m_p;
    const char *m_begin;
    const char *m_end;
    QByteArray *m_out;
    int m_maxDepth;
    std::vector<Segment> m_path;
    QString m_error;
    qsizetype m_metadataBytes = 0;
};

// What toUtf8().size() would say, without making the bytes (a lone
// surrogate, which the lint refuses, would count 3, as Qt writes it).
qsizetype utf8Bytes(QStringView text)
{
    qsizetype n = 0;
    for (qsizetype i = 0; i < text.size(); ++i) {
        const char16_t u = text.at(i).unicode();
        if (u < 0x80)
            n += 1;
        else if (u < 0x800)
            n += 2;
        else if (QChar::isHighSurrogate(u) && i + 1 < text.size() && QChar::isLowSurrogate(text.at(i + 1).unicode()))
            n += 4, ++i;
        else
            n += 3;
    }
    return n;
}

} // namespace

ItemValidator::ItemValidator(const ValidationLimits &limits)
    : m_limits(limits)
{
}

bool ItemValidator::lint(QByteArrayView text, QByteArray *compact, QString *error, int maxDepth, qsizetype *metadataBytes)
{
    compact->clear();
    Lint lint(text, compact, maxDepth);
    if (lint.run()) {
        if (metadataBytes)
            *metadataBytes = lint.metadataBytes();
        return true;
    }
    if (error)
        *error = lint.error();
    return false;
}

bool ItemValidator::check(QByteArrayView text, const QString &label, Checked *out, QString *error)
{
    return checkItem(text, out, error) && checkDimension(out->item.embedding.size(), label, error);
}

bool ItemValidator::checkDimension(qsizetype n, const QString &label, QString *error)
{
    if (n == 0)
        return true;
    if (m_dimension < 0) {
        m_dimension = n;
        m_dimensionLabel = label;
        return true;
    }
    if (n == m_dimension)
        return true;
    if (error)
        *error = QStringLiteral("'embedding' has %1 numbers, but %2's has %3: every embedding of a batch must have the same dimension")
                     .arg(n)
                     .arg(m_dimensionLabel)
                     .arg(m_dimension);
    return false;
}

bool ItemValidator::checkItem(QByteArrayView text, Checked *out, QString *error) const
{
    auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return false;
    };
    // Two levels for the item and its metadata field, then the metadata's own.
    qsizetype metadataBytes = 0;
    if (!lint(text, &out->compact, error, m_limits.maxMetadataDepth + 2, &metadataBytes))
        return false;
    if (out->compact.size() > m_limits.maxItemBytes)
        return fail(QStringLiteral("the memory is %1 bytes of JSON, more than the %2 a memory may be")
                        .arg(out->compact.size())
                        .arg(m_limits.maxItemBytes));
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(out->compact, &parseError);
    if (parseError.error != QJsonParseError::NoError) // lint passed: only a limit of QJsonDocument's
        return fail(QStringLiteral("not readable as JSON: %1").arg(parseError.errorString()));
    if (!doc.isObject())
        return fail(QStringLiteral("not a JSON object"));
    const QJsonObject json = doc.object();
    if (json.contains(QLatin1String("contentHash")))
        return fail(QStringLiteral("'contentHash' is written by membatch; leave it out"));
    if (!MemoryItem::fromJson(json, &out->item, error))
        return false;

    const MemoryItem &item = out->item;
    const qsizetype contentBytes = utf8Bytes(item.content);
    if (contentBytes > m_limits.maxContentBytes)
        return fail(QStringLiteral("'content' is %1 bytes, more than the %2 allowed").arg(contentBytes).arg(m_limits.maxContentBytes));
    if (item.tags.size() > m_limits.maxTags)
        return fail(QStringLiteral("'tags' has %1 tags, more than the %2 allowed").arg(item.tags.size()).arg(m_limits.maxTags));
    for (qsizetype i = 0; i < item.tags.size(); ++i) {
        if (item.tags.at(i).isEmpty() || item.tags.at(i).size() > m_limits.maxTagLength)
            return fail(QStringLiteral("'tags' element %1 must be 1 to %2 characters").arg(i).arg(m_limits.maxTagLength));
    }
    // Measured as it is sent: the compact text the lint wrote.
    if (metadataBytes > m_limits.maxMetadataBytes)
        return fail(QStringLiteral("'metadata' is %1 bytes of JSON, more than the %2 allowed").arg(metadataBytes).arg(m_limits.maxMetadataBytes));
    if (!item.embedding.isEmpty()) {
        const qsizetype n = item.embedding.size();
        if (n > m_limits.maxEmbeddingDimension)
            return fail(QStringLiteral("'embedding' has %1 numbers, more than the %2 allowed").arg(n).arg(m_limits.maxEmbeddingDimension));
    }
    return true;
}

} // namespace membatch
