#pragma once

#include <membatch/membatch_export.h>

#include <QJsonObject>
#include <QList>
#include <QString>
#include <QStringList>

#include <memory>

class QPluginLoader;

namespace membatch {

class IBatchProcessor;

// What a plugin says of itself in its JSON metadata, read without loading it.
struct MEMBATCH_EXPORT PluginInfo
{
    QString fileName;
    QString iid;
    QString id;
    QString name;
    QString version;
    QString compatVersion;
    QString description;

    // Checks QPluginLoader::metaData() of a candidate: the interface id, the
    // Qt major version and that this host's API version lies within the
    // plugin's [CompatVersion, Version]. Returns false with *error on refusal;
    // *info holds what the metadata says either way.
    static bool fromLoaderMetaData(const QString &fileName, const QJsonObject &metaData, PluginInfo *info,
                                   QString *error);
};

// Finds a membatch plugin, checks its metadata before loading anything, then
// loads it and checks the instance. In the spirit of KPluginMetaData.
class MEMBATCH_EXPORT PluginLoader
{
public:
    PluginLoader();
    ~PluginLoader();
    PluginLoader(const PluginLoader &) = delete;
    PluginLoader &operator=(const PluginLoader &) = delete;

    // The API version of this host side ("0.1.0").
    static QString apiVersion();

    // Where plugins are looked for when no file is given: $MEMBATCH_PLUGIN_PATH
    // (colon separated), then <application dir>/../plugins/membatch, then
    // "membatch" under each of Qt's library paths.
    static QStringList defaultSearchPaths();

    // Loads this plugin file, or the first acceptable plugin in the search
    // paths if fileName is empty. Returns nullptr and sets errorString().
    IBatchProcessor *load(const QString &fileName = {}, const QStringList &searchPaths = defaultSearchPaths());

    PluginInfo info() const { return m_info; }

    // Every library in the search paths that calls itself a Qt plugin, from
    // its metadata alone (nothing is loaded), with why it would be refused
    // (empty: it would be loaded), in search order.
    struct Candidate
    {
        PluginInfo info;
        QString refusal;
    };
    static QList<Candidate> discover(const QStringList &searchPaths = defaultSearchPaths());
    QString errorString() const { return m_error; }

private:
    IBatchProcessor *loadChecked(const QString &fileName);

    std::unique_ptr<QPluginLoader> m_loader;
    PluginInfo m_info;
    QString m_error;
};

} // namespace membatch
