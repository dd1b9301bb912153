#include <membatch/dashboard/batchtablemodel.h>

#include "durationformat.h"

#include <membatch/job.h>
#include <membatch/jobtracker.h>

#include <QBrush>
#include <QColor>
#include <QLocale>
#include <QTextDocument>

namespace membatch::dashboard {

struct BatchTableModel::Row
{
    BatchStatus batch;
    BatchProgress progress;
};

namespace {

// A line of a tooltip at most: a megabyte of reason would stall its layout.
constexpr int MaxTipLineChars = 2000;

bool isBytePhase(BatchProgress::Phase phase)
{
    return phase == BatchProgress::Phase::Encoding || phase == BatchProgress::Phase::Uploading;
}

// What a state alone says of progress, for a row that has had no job's
// progress yet (a row of a list).
BatchProgress progressFromStatus(const BatchStatus &b)
{
    BatchProgress p = BatchProgress::fromStatus(b);
    if (b.processingDurationMs >= 0)
        p.elapsedMs = b.processingDurationMs;
    else if (b.createdAt.isValid() && b.completedAt.isValid())
        p.elapsedMs = b.createdAt.msecsTo(b.completedAt);
    if (b.isFinal())
        p.reason = b.workflowFailure;
    return p;
}

bool canRetry(const BatchStatus &b)
{
    return b.isFinal() && (b.failCount > 0 || b.successCount < b.totalMemories);
}

bool sameRow(const BatchStatus &a, const BatchProgress &ap, const BatchStatus &b, const BatchProgress &bp)
{
    return ap == bp && a.toJson() == b.toJson();
}

} // namespace

// Forwards the tracker's hooks to the model.
class BatchTableModel::Tracker : public JobTracker
{
public:
    explicit Tracker(BatchTableModel *model)
        : m_model(model)
    {
    }

protected:
    void batchChanged(Job *job, const BatchStatus &batch, const BatchProgress &progress) override
    {
        Q_UNUSED(job)
        m_model->updateBatch(batch, progress);
    }

    void finished(Job *job) override
    {
        if (auto *list = qobject_cast<ListJob *>(job)) {
            if (list->error() == Job::NoError) {
                m_model->addListed(list->batches());
            }
        }
        QString batchId;
        if (auto *batchJob = qobject_cast<BatchJob *>(job)) {
            const BatchStatus batch = batchJob->batch();
            batchId = batch.batchId;
            if (!batchId.isEmpty()) {
                const BatchProgress last = job->progress();
                m_model->updateBatch(batch, last.batchId == batchId ? last : BatchProgress());
            }
        }
        // A batch that ended badly says so in its row, and a job killed was
        // stopped on purpose; anything else (a refused sign-in, a cancel
        // that could not be sent) is the job's own.
        if (job->error() != Job::NoError && job->error() != Job::BatchFailedError && job->error() != Job::KilledError)
            Q_EMIT m_model->jobFailed(job, batchId, job->errorString());
    }

private:
    BatchTableModel *m_model;
};

BatchTableModel::BatchTableModel(QObject *parent)
    : QAbstractTableModel(parent)
    , m_tracker(new Tracker(this))
{
}

BatchTableModel::~BatchTableModel() = default;

void BatchTableModel::registerJob(Job *job)
{
    m_tracker->registerJob(job);
}

JobTracker *BatchTableModel::tracker() const
{
    return m_tracker.data();
}

void BatchTableModel::updateBatch(const BatchStatus &batch, const BatchProgress &progress)
{
    update(batch, progress, false);
}

void BatchTableModel::addListed(const QList<BatchStatus> &batches)
{
    // A row a monitor or a submit already follows knows more.
    for (const BatchStatus &b : batches) {
        if (rowOf(b.batchId) < 0)
            update(b, {}, true);
    }
}

void BatchTableModel::update(const BatchStatus &incoming, const BatchProgress &incomingProgress, bool listed)
{
    const QString id = incoming.batchId.isEmpty() ? incomingProgress.batchId : incoming.batchId;
    if (id.isEmpty())
        return;
    BatchStatus batch = incoming;
    batch.batchId = id;
    const int row = rowOf(id);
    // A submit's early progress names a batch that has no request yet: its
    // state is then only the progress, and a known state is kept.
    const bool stateless = batch.requestId.isEmpty() && batch.status.isEmpty();
    if (row >= 0 && stateless)
        batch = m_rows.at(row).batch;
    BatchProgress progress = incomingProgress.batchId.isEmpty() ? progressFromStatus(batch) : incomingProgress;
    if (stateless && !incomingProgress.batchId.isEmpty()) {
        batch.totalMemories = qMax(batch.totalMemories, progress.total);
        batch.processedCount = qMax(batch.processedCount, progress.processed);
        batch.successCount = qMax(batch.successCount, progress.succeeded);
        batch.failCount = qMax(batch.failCount, progress.failed);
    }

    if (row >= 0) {
        Row &r = m_rows[row];
        if (sameRow(r.batch, r.progress, batch, progress))
            return;
        r.batch = batch;
        r.progress = progress;
        Q_EMIT dataChanged(index(row, 0), index(row, ColumnCount - 1));
        return;
    }

    // Newest first: by creation, a batch not yet created (a submission on
    // its way) above all, an undated row of a list below what is shown.
    int at = listed && !batch.createdAt.isValid() ? int(m_rows.size()) : 0;
    if (batch.createdAt.isValid()) {
        while (at < m_rows.size()) {
            const QDateTime other = m_rows.at(at).batch.createdAt;
            if (other.isValid() && other < batch.createdAt)
                break;
            ++at;
        }
    }
    beginInsertRows({}, at, at);
    m_rows.insert(at, Row{batch, progress});
    for (int i = at; i < m_rows.size(); ++i)
        m_rowOf.insert(m_rows.at(i).batch.batchId, i);
    endInsertRows();
    Q_EMIT batchAdded(id);
}

void BatchTableModel::removeBatch(const QString &batchId)
{
    const int row = rowOf(batchId);
    if (row < 0)
        return;
    beginRemoveRows({}, row, row);
    m_rows.removeAt(row);
    m_rowOf.remove(batchId);
    for (int i = row; i < m_rows.size(); ++i)
        m_rowOf.insert(m_rows.at(i).batch.batchId, i);
    endRemoveRows();
}

void BatchTableModel::clear()
{
    if (m_rows.isEmpty())
        return;
    beginResetModel();
    m_rows.clear();
    m_rowOf.clear();
    endResetModel();
}

int BatchTableModel::rowOf(const QString &batchId) const
{
    return m_rowOf.value(batchId, -1);
}

QString BatchTableModel::batchIdAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? m_rows.at(row).batch.batchId : QString();
}

QStringList BatchTableModel::batchIds() const
{
    QStringList ids;
    ids.reserve(m_rows.size());
    for (const Row &r : m_rows)
        ids << r.batch.batchId;
    return ids;
}

BatchStatus BatchTableModel::batch(const QString &batchId) const
{
    const int row = rowOf(batchId);
    return row >= 0 ? m_rows.at(row).batch : BatchStatus();
}

BatchProgress BatchTableModel::progress(const QString &batchId) const
{
    const int row = rowOf(batchId);
    return row >= 0 ? m_rows.at(row).progress : BatchProgress();
}

int BatchTableModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int BatchTableModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString BatchTableModel::statusText(const BatchStatus &batch, const BatchProgress &progress)
{
    QString text;
    if (batch.isFinal() || progress.phase == BatchProgress::Phase::Done) {
        text = batch.outcome().isEmpty() ? progress.status : batch.outcome();
        text.replace(QLatin1Char('_'), QLatin1Char(' '));
    } else if (progress.phase != BatchProgress::Phase::Idle) {
        text = BatchProgress::phaseName(progress.phase);
    } else {
        text = batch.status;
    }
    if (batch.isParent() && !batch.isFinal())
        text = tr("%1 (%2/%3 chunks)").arg(text).arg(batch.chunksFinal).arg(batch.chunkCount);
    if (progress.stalled && !batch.isFinal())
        text = tr("%1, stalled").arg(text);
    return text;
}

QVariant BatchTableModel::cell(const Row &row, int column, int role) const
{
    const BatchStatus &b = row.batch;
    const BatchProgress &p = row.progress;
    const bool final = b.isFinal() || p.phase == BatchProgress::Phase::Done;
    const QLocale locale;

    switch (role) {
    case BatchIdRole:
        return b.batchId;
    case OutcomeRole:
        return b.outcome();
    case PhaseRole:
        return int(p.phase);
    case PercentRole:
        // Done is 100% of what was processed, however it ended.
        if (final && p.total > 0)
            return int(qBound(qint64(0), p.processed * 100 / p.total, qint64(100)));
        return p.percent();
    case ProcessedRole:
        return p.processed;
    case TotalRole:
        return p.total;
    case StoredRole:
        return p.succeeded;
    case FailedRole:
        return p.failed;
    case RateRole:
        return p.rate;
    case EtaMsRole:
        return final ? qint64(-1) : p.etaMs;
    case ElapsedMsRole:
        return p.elapsedMs;
    case EstimatedCompletionRole:
        return p.estimatedCompletion;
    case StalledRole:
        return p.stalled && !final;
    case FinalRole:
        return final;
    case ReasonRole:
        return p.reason.isEmpty() ? b.workflowFailure : p.reason;
    case ErrorsRole:
        return b.errors;
    case ChunksRole:
        return b.chunkCount;
    case ChunksFinalRole:
        return b.chunksFinal;
    case CanCancelRole:
        return !final;
    case CanRetryRole:
        return canRetry(b);
    case BatchStatusRole:
        return QVariant::fromValue(b);
    case BatchProgressRole:
        return QVariant::fromValue(p);
    default:
        break;
    }

    if (role == Qt::DisplayRole) {
        switch (column) {
        case BatchColumn:
            return b.batchId;
        case StatusColumn:
            return statusText(b, p);
        case ProgressColumn: {
            const int percent = cell(row, column, PercentRole).toInt();
            return percent < 0 ? QString() : tr("%1%").arg(percent);
        }
        case ProcessedColumn:
            if (p.phase == BatchProgress::Phase::Uploading && p.bytesTotal > 0)
                return tr("%1 of %2").arg(locale.formattedDataSize(p.bytesDone), locale.formattedDataSize(p.bytesTotal));
            return tr("%1 / %2").arg(locale.toString(p.processed), locale.toString(p.total));
        case StoredColumn:
            return locale.toString(p.succeeded);
        case FailedColumn:
            return locale.toString(p.failed);
        case RateColumn:
            return final ? QString() : formatRate(p.rate, isBytePhase(p.phase));
        case EtaColumn:
            return final ? QString() : formatDuration(p.etaMs);
        case ElapsedColumn:
            return formatDuration(p.elapsedMs);
        default:
            return {};
        }
    }
    if (role == Qt::TextAlignmentRole && column >= ProcessedColumn)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    if (role == Qt::ToolTipRole) {
        QStringList lines;
        lines << b.batchId.left(MaxTipLineChars);
        const QString reason = cell(row, column, ReasonRole).toString();
        if (!reason.isEmpty())
            lines << (reason.size() > MaxTipLineChars ? reason.left(MaxTipLineChars) + QChar(0x2026) : reason);
        if (p.estimatedCompletion.isValid() && !final)
            lines << tr("should end at %1").arg(locale.toString(p.estimatedCompletion.toLocalTime(), QLocale::ShortFormat));
        if (!b.errors.isEmpty())
            lines << (b.errors.size() == 1 ? tr("1 error recorded") : tr("%1 errors recorded").arg(b.errors.size()));
        // A tooltip that looks like HTML is shown as HTML: ids and reasons
        // come from Parse and from items, and are shown, never obeyed.
        return Qt::convertFromPlainText(lines.join(QLatin1Char('\n')), Qt::WhiteSpaceNormal);
    }
    if (role == Qt::ForegroundRole && (column == StatusColumn || (column == FailedColumn && p.failed > 0))) {
        if (column == FailedColumn)
            return QBrush(QColor(0xc0, 0x39, 0x2b));
        const QString outcome = b.outcome();
        if (p.stalled && !final)
            return QBrush(QColor(0xb9, 0x77, 0x0e));
        if (outcome == QLatin1String(BatchStatus::Completed))
            return QBrush(QColor(0x1e, 0x84, 0x49));
        if (outcome == QLatin1String(BatchStatus::Failed))
            return QBrush(QColor(0xc0, 0x39, 0x2b));
        if (outcome == QLatin1String(BatchStatus::PartialFailure))
            return QBrush(QColor(0xc0, 0x6c, 0x00));
        if (outcome == QLatin1String(BatchStatus::Canceled))
            return QBrush(QColor(0x7f, 0x8c, 0x8d));
    }
    return {};
}

QVariant BatchTableModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    return cell(m_rows.at(index.row()), index.column(), role);
}

QVariant BatchTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (role == Qt::TextAlignmentRole)
        return section >= ProcessedColumn ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant(Qt::AlignLeft | Qt::AlignVCenter);
    if (role != Qt::DisplayRole)
        return {};
    switch (section) {
    case BatchColumn:
        return tr("Batch");
    case StatusColumn:
        return tr("Status");
    case ProgressColumn:
        return tr("Progress");
    case ProcessedColumn:
        return tr("Processed");
    case StoredColumn:
        return tr("Stored");
    case FailedColumn:
        return tr("Failed");
    case RateColumn:
        return tr("Rate");
    case EtaColumn:
        return tr("ETA");
    case ElapsedColumn:
        return tr("Elapsed");
    default:
        return {};
    }
}

QHash<int, QByteArray> BatchTableModel::roleNames() const
{
    QHash<int, QByteArray> names = QAbstractTableModel::roleNames();
    names.insert(BatchIdRole, "batchId");
    names.insert(OutcomeRole, "outcome");
    names.insert(PhaseRole, "phase");
    names.insert(PercentRole, "percent");
    names.insert(ProcessedRole, "processed");
    names.insert(TotalRole, "total");
    names.insert(StoredRole, "stored");
    names.insert(FailedRole, "failed");
    names.insert(RateRole, "rate");
    names.insert(EtaMsRole, "etaMs");
    names.insert(ElapsedMsRole, "elapsedMs");
    names.insert(EstimatedCompletionRole, "estimatedCompletion");
    names.insert(StalledRole, "stalled");
    names.insert(FinalRole, "final");
    names.insert(ReasonRole, "reason");
    names.insert(ErrorsRole, "errors");
    names.insert(ChunksRole, "chunks");
    names.insert(ChunksFinalRole, "chunksFinal");
    names.insert(CanCancelRole, "canCancel");
    names.insert(CanRetryRole, "canRetry");
    names.insert(BatchStatusRole, "batchStatus");
    names.insert(BatchProgressRole, "batchProgress");
    return names;
}

} // namespace membatch::dashboard
