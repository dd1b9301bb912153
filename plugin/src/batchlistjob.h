#pragma once

#include "clientjob.h"
#include "listcursor.h"

#include <membatch/batchoptions.h>

namespace membatch {

// A page of the signed-in user's submissions (ListOptions), newest first:
// createdAt descending, then objectId descending, resumed after a keyset
// cursor. A submission of several chunks is one row, its parent, keyed by
// (and dated as) its first chunk; its other chunks never show.
//
// A page costs a query for the rows (requests of one chunk, and the first
// chunks of parents), and one for the chunks of the parents among them;
// a status filter on parents (whose status adds up their chunks, so Parse
// cannot filter on it) may take a few more rounds, at most MaxRounds.
// Parse's ACLs decide what the user sees.
class BatchListJob : public ClientListJob
{
    Q_OBJECT
public:
    BatchListJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const ListOptions &options,
                 QObject *parent = nullptr);

    static constexpr int MaxLimit = 1000;
    static constexpr int MaxRounds = 10;

    // What `statuses` may hold.
    static QStringList knownStatuses();
    // The Parse where of one round: rows after `after` (null: from the
    // newest), created at or after since, of one of statuses (for rows of
    // one chunk; parents are filtered once added up). Public for the tests.
    static QJsonObject rowQuery(const ListCursor &after, const QDateTime &since, const QStringList &statuses);
    // A chunk's batch id is its parent's, "-" and its number: the first's
    // ends in "-0...01" (chunkBatchId pads to at least three digits). No
    // "+" in it: in a query string a "+" reaches Parse as a space.
    static QString firstChunkPattern() { return QStringLiteral("-00*1$"); }

protected:
    void doStart() override;
    void signedIn() override;
    QString purpose() const override { return tr("list"); }
    bool doKill() override;

private:
    void round();
    void readRows(const ApiResult &r);
    void readParents(qsizetype from);
    void take();
    void failed(const ApiResult &r, const QString &what);

    ListOptions m_options;
    ListCursor m_after;         // where the next round starts
    int m_rounds = 0;
    QJsonArray m_scanned;       // this round's rows, as Parse gave them
    bool m_scanFull = false;    // the round got all it asked for: there may be more
    // Where a request's chunks are kept in m_chunks: its owner and parent id.
    static QString chunksKey(const QJsonObject &request);

    QHash<QString, QJsonArray> m_chunks; // owner and parent id -> its chunks, for this round
    QList<BatchStatus> m_rows;
    QString m_next;
};

} // namespace membatch
