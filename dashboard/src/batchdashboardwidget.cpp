#include <membatch/dashboard/batchdashboardwidget.h>

#include <membatch/dashboard/batchtablemodel.h>

#include "progressdelegate.h"

#include <membatch/ibatchprocessor.h>
#include <membatch/job.h>

#include <QAction>
#include <QFrame>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QJsonArray>
#include <QJsonObject>
#include <QLabel>
#include <QSplitter>
#include <QStyle>
#include <QStyledItemDelegate>
#include <QTextDocument>
#include <QTimer>
#include <QToolButton>
#include <QTreeView>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <memory>
#include <utility>

namespace membatch::dashboard {

namespace {

// More than this many errors are counted, not listed: a failed million
// would otherwise fill the widget with rows nobody reads.
constexpr int MaxListedErrors = 1000;
// A reason or an error is shown up to this long: a megabyte of one would
// stretch the window and stall the tooltip's layout.
constexpr int MaxTipChars = 2000;

// Columns sized to their contents, with room between the figures.
class PaddedDelegate : public QStyledItemDelegate
{
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override
    {
        return QStyledItemDelegate::sizeHint(option, index) + QSize(16, 0);
    }
};

QIcon themed(const char *name, QStyle::StandardPixmap fallback, const QWidget *widget)
{
    return QIcon::fromTheme(QLatin1String(name), widget->style()->standardIcon(fallback));
}

} // namespace

BatchDashboardWidget::BatchDashboardWidget(QWidget *parent)
    : QWidget(parent)
    , m_model(new BatchTableModel(this))
    , m_messageBar(new QFrame(this))
    , m_messageText(new QLabel(m_messageBar))
    , m_view(new QTreeView(this))
    , m_summary(new QLabel(this))
    , m_detail(new QLabel(this))
    , m_errorsToggle(new QToolButton(this))
    , m_errors(new QTreeWidget(this))
    , m_cancel(new QAction(themed("process-stop", QStyle::SP_BrowserStop, this), tr("&Cancel batch"), this))
    , m_retry(new QAction(themed("view-refresh", QStyle::SP_BrowserReload, this), tr("&Retry failed items"), this))
{
    m_cancel->setToolTip(tr("Ask the worker to stop the selected batch at its next heartbeat"));
    m_retry->setToolTip(tr("Submit the items of the selected batch that failed or were never stored, as a new batch"));
    connect(m_cancel, &QAction::triggered, this, &BatchDashboardWidget::cancelSelected);
    connect(m_retry, &QAction::triggered, this, &BatchDashboardWidget::retrySelected);

    // A job's error: a pale red bar above the table, until closed.
    m_messageBar->setObjectName(QStringLiteral("messageBar"));
    m_messageBar->setStyleSheet(QStringLiteral("#messageBar { background: #fdecea; border: 1px solid #e6b0aa; border-radius: 4px; }"
                                               "#messageBar QLabel { color: #922b21; }"));
    m_messageText->setWordWrap(true);
    // Job errors quote servers and items: shown as text, never as HTML.
    m_messageText->setTextFormat(Qt::PlainText);
    m_messageText->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto *closeMessage = new QToolButton(m_messageBar);
    closeMessage->setAutoRaise(true);
    closeMessage->setIcon(style()->standardIcon(QStyle::SP_TitleBarCloseButton));
    closeMessage->setToolTip(tr("Dismiss"));
    connect(closeMessage, &QToolButton::clicked, this, &BatchDashboardWidget::clearMessage);
    auto *messageLayout = new QHBoxLayout(m_messageBar);
    messageLayout->setContentsMargins(8, 4, 4, 4);
    messageLayout->addWidget(m_messageText, 1);
    messageLayout->addWidget(closeMessage, 0, Qt::AlignTop);
    m_messageBar->hide();

    auto *cancelButton = new QToolButton(this);
    cancelButton->setDefaultAction(m_cancel);
    cancelButton->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    auto *retryButton = new QToolButton(this);
    retryButton->setDefaultAction(m_retry);
    retryButton->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    auto *actions = new QHBoxLayout;
    actions->addWidget(cancelButton);
    actions->addWidget(retryButton);
    actions->addStretch(1);
    actions->addWidget(m_summary);

    m_view->setModel(m_model);
    m_view->setRootIsDecorated(false);
    m_view->setUniformRowHeights(true);
    m_view->setAlternatingRowColors(true);
    m_view->setAllColumnsShowFocus(true);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setItemDelegate(new PaddedDelegate(m_view));
    m_view->setItemDelegateForColumn(BatchTableModel::ProgressColumn, new ProgressDelegate(m_view));
    m_view->setContextMenuPolicy(Qt::ActionsContextMenu);
    m_view->addAction(m_cancel);
    m_view->addAction(m_retry);
    QHeaderView *header = m_view->header();
    header->setStretchLastSection(false);
    // The figures take what they need, the bar a fixed width, and the batch
    // id the rest: no horizontal scrolling at the console's sizes.
    // Fitted to their contents a quarter of a second after a change, not at
    // each one: ResizeToContents measures every row of every column on each
    // dataChanged, 23 ms a change with 500 rows, and a watch of 500 batches
    // changes hundreds of rows a second.
    header->setSectionResizeMode(QHeaderView::Interactive);
    header->setSectionResizeMode(BatchTableModel::BatchColumn, QHeaderView::Stretch);
    header->setSectionResizeMode(BatchTableModel::ProgressColumn, QHeaderView::Fixed);
    header->resizeSection(BatchTableModel::ProgressColumn, 150);
    header->setMinimumSectionSize(56);

    // The selected batch: what went wrong, and its per-item errors.
    m_detail->setWordWrap(true);
    m_detail->setTextFormat(Qt::RichText); // built below with every piece escaped
    m_summary->setTextFormat(Qt::PlainText);
    m_detail->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_errorsToggle->setCheckable(true);
    m_errorsToggle->setAutoRaise(true);
    m_errorsToggle->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_errorsToggle->setArrowType(Qt::RightArrow);
    connect(m_errorsToggle, &QToolButton::toggled, this, &BatchDashboardWidget::setErrorsExpanded);
    m_errors->setColumnCount(3);
    m_errors->setHeaderLabels({tr("Item"), tr("Stage"), tr("Error")});
    m_errors->setRootIsDecorated(false);
    m_errors->setUniformRowHeights(true);
    m_errors->setAlternatingRowColors(true);
    m_errors->header()->resizeSection(0, 70);
    m_errors->header()->resizeSection(1, 90);
    m_errors->hide();

    auto *details = new QWidget(this);
    auto *detailLayout = new QVBoxLayout(details);
    detailLayout->setContentsMargins(0, 0, 0, 0);
    detailLayout->addWidget(m_detail);
    detailLayout->addWidget(m_errorsToggle, 0, Qt::AlignLeft);
    detailLayout->addWidget(m_errors, 1);

    m_splitter = new QSplitter(Qt::Vertical, this);
    m_splitter->addWidget(m_view);
    m_splitter->addWidget(details);
    m_splitter->setStretchFactor(0, 3);
    m_splitter->setStretchFactor(1, 1);
    m_splitter->setChildrenCollapsible(false);

    auto *layout = new QVBoxLayout(this);
    layout->addWidget(m_messageBar);
    layout->addLayout(actions);
    layout->addWidget(m_splitter, 1);

    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this, [this] {
        updateActions();
        updateDetails();
    });
    auto refresh = [this] {
        updateActions();
        updateDetails();
        const QString text = summary();
        if (m_summary->text() != text) {
            m_summary->setText(text);
            Q_EMIT summaryChanged(text);
        }
    };
    // At the first change, then at most every 150 ms while changes come.
    auto *fit = new QTimer(this);
    fit->setSingleShot(true);
    fit->setInterval(150);
    auto fitNow = [this] {
        for (int c = 0; c < m_model->columnCount(); ++c)
            if (c != BatchTableModel::BatchColumn && c != BatchTableModel::ProgressColumn)
                m_view->resizeColumnToContents(c);
    };
    auto pending = std::make_shared<bool>(false);
    connect(fit, &QTimer::timeout, this, [fit, fitNow, pending] {
        if (!std::exchange(*pending, false))
            return;
        fitNow();
        fit->start();
    });
    const auto fitLater = [fit, fitNow, pending] {
        if (fit->isActive()) {
            *pending = true;
            return;
        }
        fitNow();
        fit->start();
    };
    connect(m_model, &QAbstractItemModel::dataChanged, this, fitLater);
    connect(m_model, &QAbstractItemModel::rowsInserted, this, fitLater);
    connect(m_model, &QAbstractItemModel::rowsRemoved, this, fitLater);
    connect(m_model, &QAbstractItemModel::modelReset, this, fitLater);
    connect(m_model, &QAbstractItemModel::dataChanged, this, refresh);
    connect(m_model, &QAbstractItemModel::rowsInserted, this, refresh);
    connect(m_model, &QAbstractItemModel::rowsRemoved, this, refresh);
    connect(m_model, &QAbstractItemModel::modelReset, this, refresh);
    connect(m_model, &BatchTableModel::jobFailed, this, &BatchDashboardWidget::onJobFailed);
    refresh();
}

BatchDashboardWidget::~BatchDashboardWidget() = default;

void BatchDashboardWidget::setProcessor(IBatchProcessor *processor)
{
    m_processor = processor;
    updateActions();
}

QString BatchDashboardWidget::selectedBatchId() const
{
    const QModelIndex current = m_view->selectionModel()->currentIndex();
    return current.isValid() ? m_model->batchIdAt(current.row()) : QString();
}

void BatchDashboardWidget::selectBatch(const QString &batchId)
{
    const int row = m_model->rowOf(batchId);
    if (row < 0) {
        m_view->selectionModel()->clear();
        return;
    }
    m_view->selectionModel()->setCurrentIndex(m_model->index(row, 0),
                                              QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

void BatchDashboardWidget::setErrorsExpanded(bool expanded)
{
    if (m_errorsToggle->isChecked() != expanded)
        m_errorsToggle->setChecked(expanded); // comes back here through toggled()
    m_errorsToggle->setArrowType(expanded ? Qt::DownArrow : Qt::RightArrow);
    m_errors->setVisible(expanded);
    // Unfolded, the list gets a third of the height, or what the user gave it.
    const QList<int> sizes = m_splitter->sizes();
    const int total = sizes.value(0) + sizes.value(1);
    if (expanded && total > 0 && sizes.value(1) < total / 3)
        m_splitter->setSizes({total - total / 3, total / 3});
}

bool BatchDashboardWidget::errorsExpanded() const
{
    return m_errorsToggle->isChecked();
}

QString BatchDashboardWidget::message() const
{
    return m_messageBar->isHidden() ? QString() : m_messageText->text();
}

void BatchDashboardWidget::showMessage(const QString &text)
{
    m_messageText->setText(text);
    m_messageBar->show();
}

void BatchDashboardWidget::clearMessage()
{
    m_messageText->clear();
    m_messageBar->hide();
}

QString BatchDashboardWidget::summary() const
{
    const int rows = m_model->rowCount();
    if (rows == 0)
        return tr("No batches");
    int running = 0, stalled = 0;
    QMap<QString, int> ended;
    for (int row = 0; row < rows; ++row) {
        const QModelIndex i = m_model->index(row, 0);
        if (!i.data(BatchTableModel::FinalRole).toBool()) {
            ++running;
            stalled += i.data(BatchTableModel::StalledRole).toBool() ? 1 : 0;
        } else {
            ++ended[i.data(BatchTableModel::OutcomeRole).toString().replace(QLatin1Char('_'), QLatin1Char(' '))];
        }
    }
    QStringList parts;
    if (running)
        parts << tr("%1 running").arg(running);
    if (stalled)
        parts << tr("%1 stalled").arg(stalled);
    for (auto it = ended.cbegin(); it != ended.cend(); ++it)
        parts << QStringLiteral("%1 %2").arg(it.value()).arg(it.key());
    // Plural forms by hand: %n needs a translation loaded to say "batches".
    const QString list = parts.join(QStringLiteral(", "));
    return rows == 1 ? tr("1 batch: %1").arg(list) : tr("%1 batches: %2").arg(rows).arg(list);
}

void BatchDashboardWidget::cancelSelected()
{
    const QString batchId = selectedBatchId();
    if (batchId.isEmpty() || !m_processor)
        return;
    Job *job = m_processor->cancel(batchId, WatchOptions(), tr("canceled from the dashboard"));
    if (!job) {
        showMessage(tr("Cannot cancel %1: the plugin does not offer cancel.").arg(batchId));
        return;
    }
    startJob(job, batchId, tr("Cancel of %1").arg(batchId));
}

void BatchDashboardWidget::retrySelected()
{
    const QString batchId = selectedBatchId();
    if (batchId.isEmpty() || !m_processor)
        return;
    Job *job = m_processor->retryFailed(batchId);
    if (!job) {
        showMessage(tr("Cannot retry %1: the plugin does not offer retrying failed items.").arg(batchId));
        return;
    }
    startJob(job, batchId, tr("Retry of the failed items of %1").arg(batchId));
}

void BatchDashboardWidget::startJob(Job *job, const QString &batchId, const QString &what)
{
    m_ownJobs.insert(job, what);
    m_busy.insert(batchId, job);
    // First, so that the model's jobFailed() comes while the job is still known as ours.
    m_model->registerJob(job);
    connect(job, &Job::result, this, [this, batchId](Job *done) {
        if (m_busy.value(batchId) == done)
            m_busy.remove(batchId);
        m_ownJobs.remove(done);
        updateActions();
    });
    connect(job, &QObject::destroyed, this, [this, job, batchId] {
        m_ownJobs.remove(job);
        if (m_busy.value(batchId) == job)
            m_busy.remove(batchId);
        updateActions();
    });
    updateActions();
    Q_EMIT jobStarted(job);
    job->start();
}

void BatchDashboardWidget::onJobFailed(Job *job, const QString &batchId, const QString &text)
{
    const QString what = m_ownJobs.value(job);
    if (!what.isEmpty())
        showMessage(tr("%1 failed: %2").arg(what, text));
    else if (!batchId.isEmpty() && !text.contains(batchId))
        showMessage(tr("%1: %2").arg(batchId, text));
    else
        showMessage(text);
}

void BatchDashboardWidget::updateActions()
{
    const QString batchId = selectedBatchId();
    const int row = m_model->rowOf(batchId);
    const QModelIndex i = row >= 0 ? m_model->index(row, 0) : QModelIndex();
    const bool usable = i.isValid() && m_processor && !m_busy.contains(batchId);
    m_cancel->setEnabled(usable && i.data(BatchTableModel::CanCancelRole).toBool());
    m_retry->setEnabled(usable && i.data(BatchTableModel::CanRetryRole).toBool());
}

void BatchDashboardWidget::updateDetails()
{
    const QString batchId = selectedBatchId();
    const int row = m_model->rowOf(batchId);
    if (row < 0) {
        m_detail->setText(tr("Select a batch to see what went wrong with it."));
        m_errorsToggle->setText(tr("Errors"));
        m_errorsToggle->setEnabled(false);
        m_errors->clear();
        m_detailFor.clear();
        m_detailErrors = -1;
        return;
    }
    const QModelIndex i = m_model->index(row, 0);
    const QJsonArray errors = i.data(BatchTableModel::ErrorsRole).toJsonArray();
    const BatchStatus batch = i.data(BatchTableModel::BatchStatusRole).value<BatchStatus>();
    const BatchProgress progress = i.data(BatchTableModel::BatchProgressRole).value<BatchProgress>();

    QStringList lines;
    lines << tr("<b>%1</b>: %2").arg(batchId.toHtmlEscaped(), BatchTableModel::statusText(batch, progress).toHtmlEscaped());
    const QString reason = i.data(BatchTableModel::ReasonRole).toString();
    if (!reason.isEmpty())
        lines << (reason.size() > MaxTipChars ? reason.left(MaxTipChars) + QChar(0x2026) : reason).toHtmlEscaped();
    m_detail->setText(lines.join(QStringLiteral("<br>")));
    m_errorsToggle->setText(errors.isEmpty() ? tr("No item errors") : (errors.size() == 1 ? tr("1 item error") : tr("%1 item errors").arg(errors.size())));
    m_errorsToggle->setEnabled(!errors.isEmpty());

    // Only rebuilt when the batch or its errors change, so that a row's
    // progress does not reset the list's scrolling.
    if (m_detailFor == batchId && m_detailErrors == errors.size())
        return;
    m_detailFor = batchId;
    m_detailErrors = errors.size();
    m_errors->clear();
    QList<QTreeWidgetItem *> items;
    for (int n = 0; n < errors.size() && n < MaxListedErrors; ++n) {
        const QJsonObject e = errors.at(n).toObject();
        const QJsonValue index = e.value(QStringLiteral("index"));
        auto *item = new QTreeWidgetItem({index.isDouble() ? QString::number(index.toInteger()) : QStringLiteral("-"),
                                          e.value(QStringLiteral("stage")).toString(),
                                          e.value(QStringLiteral("error")).toString()});
        item->setToolTip(2, Qt::convertFromPlainText(item->text(2).left(MaxTipChars), Qt::WhiteSpaceNormal));
        items << item;
    }
    if (errors.size() > MaxListedErrors)
        items << new QTreeWidgetItem({QString(), QString(), tr("... and %1 more").arg(errors.size() - MaxListedErrors)});
    m_errors->addTopLevelItems(items);
}

} // namespace membatch::dashboard
