#include "consolewindow.h"

#include "consolesession.h"
#include "signindialog.h"

#include <membatch/dashboard/batchdashboardwidget.h>

#include <QAction>
#include <QApplication>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QLabel>
#include <QMenuBar>
#include <QMimeData>
#include <QStatusBar>
#include <QStyle>
#include <QToolBar>

using membatch::dashboard::BatchDashboardWidget;

ConsoleWindow::ConsoleWindow(QWidget *parent)
    : QMainWindow(parent)
    , m_dashboard(new BatchDashboardWidget(this))
{
    setWindowTitle(tr("membatch console"));
    setCentralWidget(m_dashboard);
    setAcceptDrops(true);
    resize(1180, 680);
    setMinimumSize(720, 400);

    auto *submit = new QAction(QIcon::fromTheme(QStringLiteral("document-open"), style()->standardIcon(QStyle::SP_DialogOpenButton)),
                               tr("&Submit file…"), this);
    submit->setShortcut(QKeySequence::Open);
    submit->setToolTip(tr("Submit a JSON array or JSON lines file of memories (or drop files on the window)"));
    connect(submit, &QAction::triggered, this, &ConsoleWindow::chooseFiles);
    auto *refresh = new QAction(QIcon::fromTheme(QStringLiteral("view-refresh"), style()->standardIcon(QStyle::SP_BrowserReload)),
                                tr("&Refresh"), this);
    refresh->setShortcut(QKeySequence::Refresh);
    connect(refresh, &QAction::triggered, this, [this] {
        if (m_session)
            m_session->refresh();
    });
    auto *quit = new QAction(tr("&Quit"), this);
    quit->setShortcut(QKeySequence::Quit);
    connect(quit, &QAction::triggered, this, &QWidget::close);

    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->addAction(submit);
    file->addAction(refresh);
    file->addSeparator();
    file->addAction(quit);
    QMenu *batch = menuBar()->addMenu(tr("&Batch"));
    batch->addAction(m_dashboard->cancelAction());
    batch->addAction(m_dashboard->retryAction());

    QToolBar *tools = addToolBar(tr("Main"));
    tools->setObjectName(QStringLiteral("mainToolBar"));
    tools->setMovable(false);
    tools->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    tools->addAction(submit);
    tools->addAction(refresh);

    // The dashboard shows the summary above the table; here, what the console is doing.
    statusBar()->showMessage(tr("Starting…"));
}

void ConsoleWindow::setSession(ConsoleSession *session)
{
    m_session = session;
    m_dashboard->setProcessor(session->processor());
    connect(session, &ConsoleSession::statusMessage, this, [this](const QString &text) { statusBar()->showMessage(text); });
    connect(session, &ConsoleSession::credentialsNeeded, this, &ConsoleWindow::askForCredentials);
    setWindowTitle(tr("membatch console — %1").arg(session->who()));
}

void ConsoleWindow::askForCredentials(const QString &username, const QString &why)
{
    // Asked from the event loop, not from inside the job's result.
    auto *dialog = new SignInDialog(m_session->settings().parseUrl.host(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setUsername(username);
    dialog->setMessage(why);
    connect(dialog, &QDialog::accepted, this, [this, dialog] {
        m_session->signIn(dialog->username(), dialog->password(), dialog->remember());
        setWindowTitle(tr("membatch console — %1").arg(m_session->who()));
    });
    connect(dialog, &QDialog::rejected, this, [this] { statusBar()->showMessage(tr("Not signed in: F5 asks again")); });
    dialog->open();
}

void ConsoleWindow::chooseFiles()
{
    const QStringList files = QFileDialog::getOpenFileNames(
        this, tr("Submit memories"), QString(), tr("Memories (*.json *.jsonl *.json.gz *.jsonl.gz);;All files (*)"));
    for (const QString &f : files)
        m_session->submit(f);
}

void ConsoleWindow::dragEnterEvent(QDragEnterEvent *event)
{
    const QList<QUrl> urls = event->mimeData()->urls();
    if (m_session && !urls.isEmpty() && std::all_of(urls.cbegin(), urls.cend(), [](const QUrl &u) { return u.isLocalFile(); }))
        event->acceptProposedAction();
}

void ConsoleWindow::dropEvent(QDropEvent *event)
{
    const QList<QUrl> urls = event->mimeData()->urls();
    for (const QUrl &url : urls)
        m_session->submit(url.toLocalFile());
    event->acceptProposedAction();
}
