#pragma once

#include <membatch/batchprogress.h>
#include <membatch/batchstatus.h>
#include <membatch/dashboard/membatch_dashboard_export.h>
#include <membatch/jobtracker.h>

#include <QAbstractTableModel>
#include <QHash>
#include <QList>
#include <QScopedPointer>

namespace membatch {

class Job;

namespace dashboard {

// One row per batch (a submission of several chunks is one row, its parent),
// fed by jobs: register a MonitorJob, a submit's or a cancel's BatchJob, a
// ListJob, and each change of a batch updates its row alone. The model
// follows jobs through a JobTracker (tracker()); it cannot be one itself,
// since both are QObjects.
class MEMBATCH_DASHBOARD_EXPORT BatchTableModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        BatchColumn,
        StatusColumn,
        ProgressColumn,
        ProcessedColumn, // processed / total
        StoredColumn,
        FailedColumn,
        RateColumn,
        EtaColumn,
        ElapsedColumn,
        ColumnCount
    };
    Q_ENUM(Column)

    // The raw values behind the text, for a delegate, a sort or a test; the
    // same on every column of a row.
    enum Role {
        BatchIdRole = Qt::UserRole + 1,
        OutcomeRole,       // QString: the status, or the outcome once final ("partial_failure")
        PhaseRole,         // int: BatchProgress::Phase
        PercentRole,       // int 0..100, -1 unknown
        ProcessedRole,     // qint64
        TotalRole,         // qint64
        StoredRole,        // qint64
        FailedRole,        // qint64
        RateRole,          // double, items (or bytes while uploading) a second; 0 unknown
        EtaMsRole,         // qint64, -1 unknown
        ElapsedMsRole,     // qint64, -1 unknown
        EstimatedCompletionRole, // QDateTime
        StalledRole,       // bool
        FinalRole,         // bool
        ReasonRole,        // QString
        ErrorsRole,        // QJsonArray: BatchStatus::errors ({index?, stage?, error, timestamp})
        ChunksRole,        // int: the chunks of a parent (1 for a batch alone)
        ChunksFinalRole,   // int
        CanCancelRole,     // bool: not final
        CanRetryRole,      // bool: ended with items failed or never stored
        BatchStatusRole,   // membatch::BatchStatus
        BatchProgressRole, // membatch::BatchProgress
    };
    Q_ENUM(Role)

    explicit BatchTableModel(QObject *parent = nullptr);
    ~BatchTableModel() override;

    // Follows the job until its result(): see the class comment.
    void registerJob(Job *job);
    JobTracker *tracker() const;

    // Adds or updates a row from a state alone (a journal), or with its
    // progress. A new row goes by creation time, newest first; one not yet
    // created (a submission on its way) on top.
    void updateBatch(const BatchStatus &batch, const BatchProgress &progress = {});
    // Adds the rows of a list (newest first) that are not shown yet, below
    // the newer ones: in the list's order where they have no creation time.
    void addListed(const QList<BatchStatus> &batches);
    void removeBatch(const QString &batchId);
    void clear();

    int rowOf(const QString &batchId) const; // -1 if none
    QString batchIdAt(int row) const;
    QStringList batchIds() const;
    BatchStatus batch(const QString &batchId) const;
    BatchProgress progress(const QString &batchId) const;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    // The text of a status cell ("processing", "partial failure",
    // "processing, stalled"), for a status line as well.
    static QString statusText(const BatchStatus &batch, const BatchProgress &progress);

Q_SIGNALS:
    // A batch got a row (a submission, a retry, a row of a list).
    void batchAdded(const QString &batchId);
    // A job the model follows ended with an error (not for a batch that
    // merely ended badly: its row says so).
    void jobFailed(membatch::Job *job, const QString &batchId, const QString &message);

private:
    class Tracker;
    struct Row;
    QVariant cell(const Row &row, int column, int role) const;
    void update(const BatchStatus &batch, const BatchProgress &progress, bool listed);

    QList<Row> m_rows;
    QHash<QString, int> m_rowOf;
    QScopedPointer<Tracker> m_tracker;
};

} // namespace dashboard
} // namespace membatch
