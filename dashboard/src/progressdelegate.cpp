#include "progressdelegate.h"

#include <membatch/dashboard/batchtablemodel.h>

#include <QApplication>
#include <QPainter>
#include <QStyle>
#include <QStyleOptionProgressBar>

namespace membatch::dashboard {

void ProgressDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    // The cell's background (selection, alternate rows) first, without its text.
    QStyleOptionViewItem background = option;
    initStyleOption(&background, index);
    background.text.clear();
    QStyle *style = option.widget ? option.widget->style() : QApplication::style();
    style->drawControl(QStyle::CE_ItemViewItem, &background, painter, option.widget);

    const int percent = index.data(BatchTableModel::PercentRole).toInt();
    if (percent < 0)
        return;
    QStyleOptionProgressBar bar;
    bar.rect = option.rect.adjusted(4, 3, -4, -3);
    bar.minimum = 0;
    bar.maximum = 100;
    bar.progress = percent;
    bar.text = index.data(Qt::DisplayRole).toString();
    bar.textVisible = true;
    bar.textAlignment = Qt::AlignCenter;
    bar.state = option.state | QStyle::State_Horizontal;
    bar.direction = option.direction;
    bar.fontMetrics = option.fontMetrics;
    bar.palette = option.palette;
    // The bar says how it went: a batch that ended with failures is not green.
    const QString outcome = index.data(BatchTableModel::OutcomeRole).toString();
    const bool final = index.data(BatchTableModel::FinalRole).toBool();
    QColor fill;
    if (index.data(BatchTableModel::StalledRole).toBool())
        fill = QColor(0xe6, 0x9f, 0x1e);
    else if (final && outcome == QLatin1String(BatchStatus::Completed))
        fill = QColor(0x2e, 0xa0, 0x5a);
    else if (final && outcome == QLatin1String(BatchStatus::Canceled))
        fill = QColor(0x95, 0xa5, 0xa6);
    else if (final && outcome == QLatin1String(BatchStatus::PartialFailure))
        fill = QColor(0xf0, 0xa2, 0x02); // most stored, some not: amber, not the red of a failure
    else if (final)
        fill = QColor(0xd3, 0x54, 0x3c);
    if (fill.isValid())
        bar.palette.setColor(QPalette::Highlight, fill);
    bar.palette.setColor(QPalette::HighlightedText, bar.palette.color(QPalette::Text));
    style->drawControl(QStyle::CE_ProgressBar, &bar, painter, option.widget);
}

QSize ProgressDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QSize size = QStyledItemDelegate::sizeHint(option, index);
    size.setWidth(qMax(size.width(), 140));
    size.setHeight(qMax(size.height(), option.fontMetrics.height() + 10));
    return size;
}

} // namespace membatch::dashboard
