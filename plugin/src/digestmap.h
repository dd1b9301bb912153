#pragma once

#include <QByteArrayView>

#include <cstdint>
#include <cstring>
#include <vector>

namespace membatch {

// A flat hash map from a digest (its first 16 bytes: two of a million
// SHA-256 digests share them with odds of 1 in 10^26) to an item index.
// 24 bytes an entry at most half full: a million items cost 48 MiB at
// worst, where a QHash<QByteArray, qint64> costs several times that.
class DigestMap
{
public:
    // The index stored for digest, or -1; if absent, stores index.
    qint64 findOrInsert(QByteArrayView digest, qint64 index)
    {
        Q_ASSERT(digest.size() >= 16);
        if (size_t(m_size + 1) * 2 > m_slots.size())
            grow();
        Slot key;
        std::memcpy(&key.hi, digest.data(), 8);
        std::memcpy(&key.lo, digest.data() + 8, 8);
        key.index = index;
        const size_t mask = m_slots.size() - 1;
        for (size_t i = size_t(key.hi) & mask;; i = (i + 1) & mask) {
            Slot &slot = m_slots[i];
            if (slot.index < 0) {
                slot = key;
                ++m_size;
                return -1;
            }
            if (slot.hi == key.hi && slot.lo == key.lo)
                return slot.index;
        }
    }

    qsizetype size() const { return m_size; }

private:
    struct Slot
    {
        std::uint64_t hi = 0;
        std::uint64_t lo = 0;
        qint64 index = -1;
    };

    void grow()
    {
        std::vector<Slot> old(std::max<size_t>(64, m_slots.size() * 2));
        old.swap(m_slots);
        const size_t mask = m_slots.size() - 1;
        for (const Slot &slot : old) {
            if (slot.index < 0)
                continue;
            size_t i = size_t(slot.hi) & mask;
            while (m_slots[i].index >= 0)
                i = (i + 1) & mask;
            m_slots[i] = slot;
        }
    }

    std::vector<Slot> m_slots;
    qsizetype m_size = 0;
};

} // namespace membatch
