#pragma once

#include <QMainWindow>

class QLabel;
class ConsoleSession;

namespace membatch::dashboard {
class BatchDashboardWidget;
}

// The console's window: the dashboard, a File menu to submit (or drop files
// on the window), a Batch menu with the dashboard's actions, and a status bar.
class ConsoleWindow : public QMainWindow
{
    Q_OBJECT
public:
    explicit ConsoleWindow(QWidget *parent = nullptr);

    membatch::dashboard::BatchDashboardWidget *dashboard() const { return m_dashboard; }
    void setSession(ConsoleSession *session);

    // Asks for a user and password (credentialsNeeded()).
    void askForCredentials(const QString &username, const QString &why);

protected:
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void chooseFiles();

    membatch::dashboard::BatchDashboardWidget *m_dashboard;
    ConsoleSession *m_session = nullptr;
};
