#pragma once

#include <membatch/batchoptions.h>
#include <membatch/memoryitem.h>

#include <QByteArray>
#include <QByteArrayView>
#include <QString>

namespace membatch {

// Checks one memory as its submitter wrote it, before anything is sent:
// the JSON itself, strictly (what QJsonDocument would let pass, and Parse
// would then refuse or silently change: a NUL, a lone surrogate, invalid
// UTF-8, a duplicate key, an integer past 2^53), the keys Parse reads as
// its own inside metadata ('$...', 'a.b', '__type', '__op'), the memory's
// fields, the limits, and that every embedding has the same dimension.
//
// Errors name the field ("metadata.a[2]: ...") and say why. One validator
// reads one submission, item after item, on one thread.
class ItemValidator
{
public:
    explicit ItemValidator(const ValidationLimits &limits);

    struct Checked
    {
        MemoryItem item;
        QByteArray compact; // the item's own text without insignificant whitespace
    };

    // label names the item in an error about another one ("item 3", "line 7").
    bool check(QByteArrayView text, const QString &label, Checked *out, QString *error);
    // The item alone, without the dimension check that needs the items
    // before it: safe to run on many threads at once (it changes nothing).
    bool checkItem(QByteArrayView text, Checked *out, QString *error) const;
    // The dimension check, item after item, in order.
    bool checkDimension(qsizetype dimension, const QString &label, QString *error);

    // The strict JSON check alone: compacts text into *compact. Public for
    // its tests.
    static bool lint(QByteArrayView text, QByteArray *compact, QString *error, int maxDepth = 64,
                     qsizetype *metadataBytes = nullptr);

private:
    ValidationLimits m_limits;
    qsizetype m_dimension = -1; // of the first embedding seen
    QString m_dimensionLabel;
};

} // namespace membatch
