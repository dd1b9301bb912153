#pragma once

#include <membatch/dashboard/membatch_dashboard_export.h>

#include <QHash>
#include <QWidget>

class QAction;
class QLabel;
class QTreeView;
class QTreeWidget;
class QToolButton;
class QFrame;
class QSplitter;
class QModelIndex;

namespace membatch {

class IBatchProcessor;
class Job;

namespace dashboard {

class BatchTableModel;

// Batches at a glance: a row each with a progress bar, phase, counts, rate,
// ETA and elapsed time; the selected batch's per-item errors below, folded
// away until asked for; Cancel and Retry failed as buttons and in the
// context menu, each enabled only where it makes sense. The jobs those
// start go to the model, and their errors are shown above the table.
class MEMBATCH_DASHBOARD_EXPORT BatchDashboardWidget : public QWidget
{
    Q_OBJECT
public:
    explicit BatchDashboardWidget(QWidget *parent = nullptr);
    ~BatchDashboardWidget() override;

    // Where Cancel and Retry failed go; not owned. Without one they stay off.
    void setProcessor(IBatchProcessor *processor);
    IBatchProcessor *processor() const { return m_processor; }

    BatchTableModel *model() const { return m_model; }
    QTreeView *view() const { return m_view; }
    QTreeWidget *errorList() const { return m_errors; }
    QAction *cancelAction() const { return m_cancel; }
    QAction *retryAction() const { return m_retry; }

    QString selectedBatchId() const;
    void selectBatch(const QString &batchId);
    // Shows or folds the selected batch's error list.
    void setErrorsExpanded(bool expanded);
    bool errorsExpanded() const;

    // The message shown above the table (a job's error), empty if none.
    QString message() const;
    void showMessage(const QString &text);
    void clearMessage();

    // "4 batches: 1 running, 2 completed, 1 failed", for a status bar.
    QString summary() const;

public Q_SLOTS:
    void cancelSelected();
    void retrySelected();

Q_SIGNALS:
    // A job this widget started (a cancel, a retry), registered with the model.
    void jobStarted(membatch::Job *job);
    void summaryChanged(const QString &summary);

private:
    void startJob(Job *job, const QString &batchId, const QString &what);
    void updateActions();
    void updateDetails();
    void onJobFailed(Job *job, const QString &batchId, const QString &text);

    IBatchProcessor *m_processor = nullptr;
    BatchTableModel *m_model;
    QFrame *m_messageBar;
    QLabel *m_messageText;
    QTreeView *m_view;
    QSplitter *m_splitter;
    QLabel *m_summary;
    QLabel *m_detail;
    QToolButton *m_errorsToggle;
    QTreeWidget *m_errors;
    QAction *m_cancel;
    QAction *m_retry;
    QString m_detailFor; // the batch the details show, and its errors' count
    qsizetype m_detailErrors = -1;
    // Jobs this widget started, by what they do ("Cancel of b1"), and the
    // batches they act on (no second cancel while one is on its way).
    QHash<Job *, QString> m_ownJobs;
    QHash<QString, Job *> m_busy;
};

} // namespace dashboard
} // namespace membatch
