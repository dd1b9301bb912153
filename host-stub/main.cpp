#include "cli.h"

#include <membatch/version.h>

#include <QCoreApplication>

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("membatch"));
    QCoreApplication::setApplicationVersion(QStringLiteral(MEMBATCH_API_VERSION));

    Cli cli;
    QObject::connect(&cli, &Cli::finished, &app, &QCoreApplication::exit, Qt::QueuedConnection);
    const int immediate = cli.run(QCoreApplication::arguments());
    if (immediate >= 0)
        return immediate;
    return app.exec();
}
