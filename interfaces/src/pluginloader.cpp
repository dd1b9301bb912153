#include <membatch/ibatchprocessor.h>
#include <membatch/pluginloader.h>
#include <membatch/version.h>

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QLibrary>
#include <QPluginLoader>
#include <QSet>
#include <QVersionNumber>

namespace membatch {

bool PluginInfo::fromLoaderMetaData(const QString &fileName, const QJsonObject &metaData, PluginInfo *info,
                                    QString *error)
{
    auto refuse = [&](const QString &why) {
        if (error)
            *error = QStringLiteral("%1: %2").arg(fileName, why);
        return false;
    };
    if (metaData.isEmpty())
        return refuse(QStringLiteral("not a Qt plugin (no plugin metadata)"));

    PluginInfo out;
    out.fileName = fileName;
    out.iid = metaData.value(QStringLiteral("IID")).toString();
    const QJsonObject own = metaData.value(QStringLiteral("MetaData")).toObject();
    out.id = own.value(QStringLiteral("Id")).toString();
    out.name = own.value(QStringLiteral("Name")).toString();
    out.version = own.value(QStringLiteral("Version")).toString();
    out.compatVersion = own.value(QStringLiteral("CompatVersion")).toString();
    out.description = own.value(QStringLiteral("Description")).toString();
    if (info)
        *info = out;

    if (out.iid != QLatin1String(MEMBATCH_IBATCHPROCESSOR_IID))
        return refuse(QStringLiteral("implements '%1', not '%2'").arg(out.iid, QLatin1String(MEMBATCH_IBATCHPROCESSOR_IID)));

    const int qtVersion = metaData.value(QStringLiteral("version")).toInt();
    if ((qtVersion >> 16) != QT_VERSION_MAJOR)
        return refuse(QStringLiteral("built against Qt %1, this host uses Qt %2")
                          .arg(qtVersion >> 16)
                          .arg(QT_VERSION_MAJOR));

    if (out.id.isEmpty())
        return refuse(QStringLiteral("its metadata has no Id"));

    const QVersionNumber version = QVersionNumber::fromString(out.version);
    const QVersionNumber compat = QVersionNumber::fromString(out.compatVersion);
    const QVersionNumber host = QVersionNumber::fromString(PluginLoader::apiVersion());
    if (version.isNull() || compat.isNull())
        return refuse(QStringLiteral("its metadata needs Version and CompatVersion"));
    if (host < compat || host > version)
        return refuse(QStringLiteral("plugin %1 %2 works with hosts %3 to %2; this host is %4")
                          .arg(out.id, out.version, out.compatVersion, PluginLoader::apiVersion()));

    return true;
}

PluginLoader::PluginLoader() = default;

PluginLoader::~PluginLoader() = default;

QString PluginLoader::apiVersion()
{
    return QStringLiteral(MEMBATCH_API_VERSION);
}

QStringList PluginLoader::defaultSearchPaths()
{
    QStringList paths;
    const QString fromEnv = qEnvironmentVariable("MEMBATCH_PLUGIN_PATH");
    if (!fromEnv.isEmpty())
        paths += fromEnv.split(QDir::listSeparator(), Qt::SkipEmptyParts);
    if (QCoreApplication::instance())
        paths << QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("../plugins/membatch"));
    const QStringList qtPaths = QCoreApplication::libraryPaths();
    for (const QString &p : qtPaths)
        paths << QDir(p).filePath(QStringLiteral("membatch"));
    return paths;
}

QList<PluginLoader::Candidate> PluginLoader::discover(const QStringList &searchPaths)
{
    QList<Candidate> found;
    QSet<QString> seen;
    for (const QString &path : searchPaths) {
        const QFileInfoList entries = QDir(path).entryInfoList(QDir::Files, QDir::Name);
        for (const QFileInfo &entry : entries) {
            const QString file = entry.canonicalFilePath();
            if (!QLibrary::isLibrary(entry.fileName()) || seen.contains(file))
                continue;
            seen.insert(file);
            const QJsonObject metaData = QPluginLoader(entry.absoluteFilePath()).metaData();
            if (metaData.isEmpty())
                continue; // not a plugin at all (a library beside them)
            Candidate candidate;
            PluginInfo::fromLoaderMetaData(entry.absoluteFilePath(), metaData, &candidate.info, &candidate.refusal);
            found.append(candidate);
        }
    }
    return found;
}

IBatchProcessor *PluginLoader::load(const QString &fileName, const QStringList &searchPaths)
{
    if (!fileName.isEmpty())
        return loadChecked(fileName);

    QStringList refusals;
    for (const QString &path : searchPaths) {
        const QFileInfoList entries = QDir(path).entryInfoList(QDir::Files, QDir::Name);
        for (const QFileInfo &entry : entries) {
            if (!QLibrary::isLibrary(entry.fileName()))
                continue;
            if (IBatchProcessor *processor = loadChecked(entry.absoluteFilePath()))
                return processor;
            refusals << m_error;
        }
    }
    if (refusals.isEmpty())
        m_error = QStringLiteral("no membatch plugin found in: %1 (set MEMBATCH_PLUGIN_PATH or --plugin)")
                      .arg(searchPaths.join(QStringLiteral(", ")));
    else
        m_error = QStringLiteral("no usable membatch plugin; refused:\n  %1").arg(refusals.join(QStringLiteral("\n  ")));
    return nullptr;
}

IBatchProcessor *PluginLoader::loadChecked(const QString &fileName)
{
    if (!QFileInfo::exists(fileName)) {
        m_error = QStringLiteral("%1: no such file").arg(fileName);
        return nullptr;
    }
    auto loader = std::make_unique<QPluginLoader>(fileName);
    PluginInfo info;
    if (!PluginInfo::fromLoaderMetaData(fileName, loader->metaData(), &info, &m_error))
        return nullptr; // refused from its metadata alone: the library was never loaded

    QObject *instance = loader->instance();
    if (!instance) {
        m_error = QStringLiteral("%1: cannot load: %2").arg(fileName, loader->errorString());
        return nullptr;
    }
    auto *processor = qobject_cast<IBatchProcessor *>(instance);
    if (!processor) {
        m_error = QStringLiteral("%1: its root object does not implement %2")
                      .arg(fileName, QLatin1String(MEMBATCH_IBATCHPROCESSOR_IID));
        loader->unload();
        return nullptr;
    }
    m_loader = std::move(loader);
    m_info = info;
    m_error.clear();
    return processor;
}

} // namespace membatch
