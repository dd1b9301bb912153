#pragma once

#include <QStyledItemDelegate>

namespace membatch::dashboard {

// Draws BatchTableModel::PercentRole as a progress bar (nothing when unknown).
class ProgressDelegate : public QStyledItemDelegate
{
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;

    void paint(QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const override;
    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override;
};

} // namespace membatch::dashboard
