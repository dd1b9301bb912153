// embedding-host FILE: loads a membatch plugin from Qt's plugin path (in a
// "membatch" directory under any of QCoreApplication::libraryPaths(), so
// QT_PLUGIN_PATH works), refuses one built for another interface from its
// metadata before loading it, then submits FILE with the connection from the
// MEMBATCH_* variables and prints its progress until the batch ends.
#include <membatch/ibatchprocessor.h>
#include <membatch/pluginloader.h>
#include <membatch/version.h>

#include <QCoreApplication>
#include <QDir>
#include <QTextStream>

using namespace membatch;

int main(int argc, char *argv[])
{
    QCoreApplication app(argc, argv);
    QTextStream out(stdout);
    QTextStream err(stderr);
    if (argc != 2) {
        err << "usage: embedding-host FILE\n";
        return 2;
    }

    QStringList paths;
    for (const QString &dir : QCoreApplication::libraryPaths())
        paths << QDir(dir).filePath(QStringLiteral("membatch"));
    PluginLoader loader;
    IBatchProcessor *processor = loader.load({}, paths);
    if (!processor) {
        err << "embedding-host (membatch " << MEMBATCH_VERSION_STRING << "): " << loader.errorString() << '\n';
        return 1;
    }
    out << "loaded " << loader.info().id << ' ' << loader.info().version << " from " << loader.info().fileName << '\n';
    out.flush();

    processor->setConnection(ConnectionSettings::fromEnvironment());
    SubmitOptions options;
    options.waitForCompletion = true;
    options.pollIntervalMs = 200;
    BatchJob *job = processor->submit(QString::fromLocal8Bit(argv[1]), options);
    QObject::connect(job, &Job::progressChanged, &app, [&out](const BatchProgress &p) {
        out << BatchProgress::phaseName(p.phase) << ' ' << p.processed << '/' << p.total << '\n';
        out.flush();
    });
    QObject::connect(job, &Job::result, &app, [&](Job *) {
        if (job->error()) {
            err << "embedding-host: " << job->errorString() << '\n';
            app.exit(1);
            return;
        }
        out << "batch " << job->batch().batchId << ": " << job->batch().status << ", " << job->batch().successCount
            << " stored\n";
        app.exit(0);
    });
    job->start();
    return app.exec();
}
