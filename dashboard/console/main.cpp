// membatch-console: the admin console. See the README's "The admin console".
#include "consolesession.h"
#include "consolewindow.h"

#include <membatch/connectionsettings.h>
#include <membatch/dashboard/batchdashboardwidget.h>
#include <membatch/dashboard/batchtablemodel.h>
#include <membatch/pluginloader.h>
#include <membatch/version.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QImage>
#include <QJsonArray>
#include <QPixmap>
#include <QTextStream>
#include <QTimer>

#include <memory>

namespace {

// Where the plugin is looked for, as the membatch command does: then the
// one installed beside this program.
QStringList searchPaths(const QString &pluginDir)
{
    QStringList paths = membatch::PluginLoader::defaultSearchPaths();
    const QDir appDir(QCoreApplication::applicationDirPath());
    const qsizetype buildTree = paths.indexOf(appDir.filePath(QStringLiteral("../plugins/membatch")));
    paths.insert(buildTree + 1, QDir::cleanPath(appDir.filePath(QStringLiteral(MEMBATCH_PLUGINDIR_FROM_BINDIR))));
    if (!pluginDir.isEmpty())
        paths.prepend(pluginDir);
    return paths;
}

int fail(const QString &message)
{
    QTextStream(stderr) << "membatch-console: " << message << '\n';
    return 1;
}

// --help and --version answer without a display (QApplication would abort
// for want of one), so that a terminal without X can read them.
bool onlyAsksForHelp(int argc, char **argv)
{
    for (int i = 1; i < argc; ++i) {
        const QByteArray a(argv[i]);
        if (a == "-h" || a == "--help" || a == "--help-all" || a == "-v" || a == "--version")
            return true;
    }
    return false;
}

} // namespace

int main(int argc, char **argv)
{
    std::unique_ptr<QCoreApplication> appHolder;
    if (onlyAsksForHelp(argc, argv))
        appHolder = std::make_unique<QCoreApplication>(argc, argv);
    else
        appHolder = std::make_unique<QApplication>(argc, argv);
    QCoreApplication &app = *appHolder;
    QApplication::setApplicationName(QStringLiteral("membatch-console"));
    QApplication::setOrganizationName(QStringLiteral("membatch"));
    QApplication::setApplicationVersion(QStringLiteral(MEMBATCH_VERSION_STRING));
    QApplication::setApplicationDisplayName(QStringLiteral("membatch console"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral(
        "The membatch admin console: your batches at a glance, submit, cancel, retry failed items.\n"
        "Settings come from the MEMBATCH_* environment, as for membatch; the password from the\n"
        "system keyring, else MEMBATCH_PASSWORD, else a sign-in dialog."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption optScreenshot(QStringLiteral("screenshot"),
                                           QStringLiteral("Render the window to FILE (PNG) after the first full refresh, then exit."),
                                           QStringLiteral("FILE"));
    const QCommandLineOption optSize(QStringLiteral("size"), QStringLiteral("The window's size, WIDTHxHEIGHT (default 1180x680)."),
                                     QStringLiteral("WxH"));
    const QCommandLineOption optTimeout(QStringLiteral("timeout"),
                                        QStringLiteral("With --screenshot: give up after SECONDS without a full refresh (default 60)."),
                                        QStringLiteral("SECONDS"), QStringLiteral("60"));
    // Not --plugin as for membatch: QGuiApplication takes -plugin for itself.
    const QCommandLineOption optPlugin(QStringLiteral("plugin-file"), QStringLiteral("Load this membatch plugin file."),
                                       QStringLiteral("FILE"));
    const QCommandLineOption optPluginDir(QStringLiteral("plugin-dir"), QStringLiteral("Look for plugins here first."),
                                          QStringLiteral("DIR"));
    const QCommandLineOption optUsername(QStringLiteral("username"), QStringLiteral("Sign in as this Parse user."),
                                         QStringLiteral("NAME"));
    const QCommandLineOption optForget(QStringLiteral("forget-password"),
                                       QStringLiteral("Remove the user's password from the keyring and ask again."));
    parser.addOptions({optScreenshot, optSize, optTimeout, optPlugin, optPluginDir, optUsername, optForget});
    parser.process(app);

    QSize size(1180, 680);
    if (parser.isSet(optSize)) {
        const QStringList wh = parser.value(optSize).split(QLatin1Char('x'));
        bool okW = false, okH = false;
        if (wh.size() == 2)
            size = QSize(wh.at(0).toInt(&okW), wh.at(1).toInt(&okH));
        if (!okW || !okH || size.width() < 400 || size.height() < 300) {
            QTextStream(stderr) << "membatch-console: --size must be WIDTHxHEIGHT, at least 400x300\n";
            return 2;
        }
    }
    bool timeoutOk = false;
    const int timeoutS = parser.value(optTimeout).toInt(&timeoutOk);
    if (!timeoutOk || timeoutS <= 0) {
        QTextStream(stderr) << "membatch-console: --timeout must be a number of seconds\n";
        return 2;
    }
    const QString screenshot = parser.value(optScreenshot);

    ConsoleWindow window;
    window.resize(size);
    ConsoleSession session(window.dashboard()->model());
    if (!session.loadPlugin(parser.value(optPlugin), searchPaths(parser.value(optPluginDir))))
        return fail(session.errorString());
    membatch::ConnectionSettings settings = membatch::ConnectionSettings::fromEnvironment();
    if (parser.isSet(optUsername))
        settings.username = parser.value(optUsername);
    session.setSettings(settings);
    session.setInteractive(screenshot.isEmpty());
    window.setSession(&session);
    if (parser.isSet(optForget) && !settings.username.isEmpty())
        session.passwordStore()->remove(QStringLiteral("%1@%2").arg(settings.username, settings.parseUrl.toString(QUrl::RemoveUserInfo | QUrl::RemoveQuery)));

    int exitCode = 0;
    if (!screenshot.isEmpty()) {
        QObject::connect(&session, &ConsoleSession::refreshed, &window, [&window, &screenshot, &exitCode] {
            // The picture shows the error list of the first batch that has one.
            membatch::dashboard::BatchDashboardWidget *dashboard = window.dashboard();
            for (int row = 0; row < dashboard->model()->rowCount(); ++row) {
                const QModelIndex i = dashboard->model()->index(row, 0);
                if (!i.data(membatch::dashboard::BatchTableModel::ErrorsRole).toJsonArray().isEmpty()) {
                    dashboard->selectBatch(dashboard->model()->batchIdAt(row));
                    dashboard->setErrorsExpanded(true);
                    break;
                }
            }
            // After the rows' repaint, so the picture has them.
            QTimer::singleShot(200, &window, [&window, &screenshot, &exitCode] {
                const QImage image = window.grab().toImage();
                if (image.isNull() || !image.save(screenshot, "PNG")) {
                    exitCode = fail(QStringLiteral("cannot write the screenshot to %1").arg(screenshot));
                } else {
                    // What the picture shows, for a script (or a test) to read.
                    QTextStream out(stdout);
                    const auto *model = window.dashboard()->model();
                    for (int row = 0; row < model->rowCount(); ++row)
                        out << "batch " << model->batchIdAt(row) << ": "
                            << model->index(row, membatch::dashboard::BatchTableModel::StatusColumn).data().toString() << '\n';
                    out << "membatch-console: wrote " << screenshot << " (" << image.width() << 'x' << image.height() << ")\n";
                }
                QApplication::exit(exitCode);
            });
        });
        QTimer::singleShot(timeoutS * 1000, &window, [&exitCode, timeoutS] {
            exitCode = fail(QStringLiteral("no full refresh within %1 s: no screenshot").arg(timeoutS));
            QApplication::exit(exitCode);
        });
    }
    QObject::connect(&session, &ConsoleSession::failed, &window, [&exitCode, &screenshot, &window](const QString &message) {
        if (!screenshot.isEmpty()) {
            exitCode = fail(message);
            QApplication::exit(exitCode);
        } else {
            window.dashboard()->showMessage(message);
        }
    });
    window.show();
    QTimer::singleShot(0, &session, &ConsoleSession::start);
    const int rc = app.exec();
    return exitCode ? exitCode : rc;
}
