#pragma once

#include <QByteArray>
#include <QByteArrayView>
#include <QList>
#include <QString>

namespace membatch {

// Cuts the text of one JSON array, fed in pieces of any size, into the
// text of its elements, without parsing them: the elements can be parsed
// (and refused) one at a time while the rest of the array has yet to
// arrive, and the whole array is never held. Only the array's own syntax
// is checked here (brackets, commas, strings, nesting); an element that is
// not valid JSON comes out as it is, for its reader to refuse.
class JsonArraySplitter
{
public:
    struct Element
    {
        QByteArray text; // empty if longer than maxElementBytes
        qint64 bytes = 0;
    };

    // An element longer than maxElementBytes comes out without its text
    // (and is never held): one huge element costs no memory either.
    explicit JsonArraySplitter(qsizetype maxElementBytes);

    // Appends the elements that these bytes complete to *elements. False
    // once the text is found not to be one JSON array; error() says why
    // and where (the byte offset, counted from the first byte fed).
    bool feed(QByteArrayView bytes, QList<Element> *elements);
    // The text has ended: false if the array was not closed.
    bool finish();

    QString error() const { return m_error; }
    qint64 elementCount() const { return m_count; }
    // The closing bracket has been seen.
    bool isComplete() const { return m_state == State::After; }

private:
    enum class State { Before, First, Next, Element, Separator, After };
    bool fail(qint64 offset, const QString &why);
    void endElement(QByteArrayView bytes, qsizetype start, qsizetype end, QList<Element> *elements);

    qsizetype m_max;
    State m_state = State::Before;
    QByteArray m_current; // the element so far, when it spans pieces
    qint64 m_currentBytes = 0; // its size so far (m_current stops growing past the limit)
    int m_depth = 0;
    bool m_inString = false;
    bool m_escape = false;
    int m_bom = 0; // bytes of a leading byte order mark seen
    qint64 m_offset = 0; // of the first byte of the next piece
    qint64 m_count = 0;
    QString m_error;
};

} // namespace membatch
