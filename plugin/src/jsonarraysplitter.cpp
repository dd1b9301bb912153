#include "jsonarraysplitter.h"

namespace membatch {

namespace {

bool isSpace(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

} // namespace

JsonArraySplitter::JsonArraySplitter(qsizetype maxElementBytes)
    : m_max(maxElementBytes)
{
}

bool JsonArraySplitter::fail(qint64 offset, const QString &why)
{
    if (m_error.isEmpty())
        m_error = QStringLiteral("%1 (at byte %2)").arg(why).arg(offset);
    return false;
}

void JsonArraySplitter::endElement(QByteArrayView bytes, qsizetype start, qsizetype end, QList<Element> *elements)
{
    const qint64 size = m_currentBytes + (end - start);
    if (size > m_max)
        elements->append({QByteArray(), size});
    else if (m_current.isEmpty())
        elements->append({bytes.sliced(start, end - start).toByteArray(), size});
    else
        elements->append({m_current.append(bytes.sliced(start, end - start)), size});
    m_current = QByteArray();
    m_currentBytes = 0;
    ++m_count;
    m_state = State::Separator;
}

bool JsonArraySplitter::feed(QByteArrayView bytes, QList<Element> *elements)
{
    if (!m_error.isEmpty())
        return false;
    const char *data = bytes.data();
    const qsizetype size = bytes.size();
    qsizetype start = 0; // where the element in progress starts in this piece
    for (qsizetype i = 0; i < size; ++i) {
        const char c = data[i];
        switch (m_state) {
        case State::Before:
            if (m_offset + i == m_bom && m_bom < 3 && c == "\xEF\xBB\xBF"[m_bom]) {
                ++m_bom; // a UTF-8 byte order mark, perhaps over several pieces
                break;
            }
            if (isSpace(c))
                break;
            if (c != '[')
                return fail(m_offset + i, QStringLiteral("expected a JSON array, found '%1'").arg(QLatin1Char(c)));
            m_state = State::First;
            break;
        case State::First:
        case State::Next:
            if (isSpace(c))
                break;
            if (c == ']') {
                if (m_state == State::Next)
                    return fail(m_offset + i, QStringLiteral("a comma before the closing ']'"));
                m_state = State::After;
                break;
            }
            if (c == ',')
                return fail(m_offset + i, QStringLiteral("an element is missing before ','"));
            m_state = State::Element;
            start = i;
            m_depth = 0;
            m_inString = false;
            m_escape = false;
            [[fallthrough]];
        case State::Element:
            if (m_inString) {
                if (m_escape)
                    m_escape = false;
                else if (c == '\\')
                    m_escape = true;
                else if (c == '"') {
                    m_inString = false;
                    if (m_depth == 0)
                        endElement(bytes, start, i + 1, elements); // a string element
                }
                break;
            }
            if (c == '"') {
                m_inString = true;
            } else if (c == '{' || c == '[') {
                ++m_depth;
            } else if (c == '}' || c == ']') {
                if (m_depth == 0) {
                    if (c == '}')
                        return fail(m_offset + i, QStringLiteral("an unmatched '}'"));
                    endElement(bytes, start, i, elements); // a scalar, then the array's end
                    m_state = State::After;
                    break;
                }
                if (--m_depth == 0)
                    endElement(bytes, start, i + 1, elements);
            } else if (m_depth == 0 && (c == ',' || isSpace(c))) {
                endElement(bytes, start, i, elements); // a scalar (number, true, ...)
                if (c == ',')
                    m_state = State::Next;
            }
            break;
        case State::Separator:
            if (isSpace(c))
                break;
            if (c == ',')
                m_state = State::Next;
            else if (c == ']')
                m_state = State::After;
            else
                return fail(m_offset + i, QStringLiteral("expected ',' or ']' after element %1, found '%2'")
                                              .arg(m_count).arg(QLatin1Char(c)));
            break;
        case State::After:
            if (!isSpace(c))
                return fail(m_offset + i, QStringLiteral("more after the array's closing ']'"));
            break;
        }
    }
    if (m_state == State::Element) {
        m_currentBytes += size - start;
        if (m_currentBytes <= m_max)
            m_current.append(bytes.sliced(start));
        else
            m_current = QByteArray(); // too long to keep: only its size is
    }
    m_offset += size;
    return true;
}

bool JsonArraySplitter::finish()
{
    if (!m_error.isEmpty())
        return false;
    switch (m_state) {
    case State::After:
        return true;
    case State::Before:
        return fail(m_offset, QStringLiteral("no JSON array: the text is empty"));
    default:
        return fail(m_offset, QStringLiteral("the array ends early, inside element %1 or after it: no closing ']'").arg(m_count + 1));
    }
}

} // namespace membatch
