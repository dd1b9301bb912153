#include <membatch/ibatchprocessor.h>
#include <membatch/pluginloader.h>

#include <QJsonObject>
#include <QTest>

using namespace membatch;

class tst_PluginLoader : public QObject
{
    Q_OBJECT

private:
    static QString badPlugin(const char *name)
    {
        return QStringLiteral(TEST_PLUGIN_DIR "/lib%1.so").arg(QLatin1String(name));
    }

    static QJsonObject metaData(int qtVersion, const QJsonObject &own)
    {
        return {{QStringLiteral("IID"), QStringLiteral(MEMBATCH_IBATCHPROCESSOR_IID)},
                {QStringLiteral("version"), qtVersion},
                {QStringLiteral("MetaData"), own}};
    }

private Q_SLOTS:
    void init() { qunsetenv("MEMBATCH_TEST_PLUGIN_LOADED"); }

    void loadsTheRealPlugin()
    {
        PluginLoader loader;
        IBatchProcessor *processor = loader.load({}, {QStringLiteral(MEMBATCH_PLUGIN_DIR)});
        QVERIFY2(processor, qPrintable(loader.errorString()));
        QCOMPARE(loader.info().id, QStringLiteral("org.membatch.parse-temporal"));
        QCOMPARE(loader.info().iid, QStringLiteral(MEMBATCH_IBATCHPROCESSOR_IID));
        QCOMPARE(loader.info().version, PluginLoader::apiVersion());
        QVERIFY(!loader.info().description.isEmpty());
    }

    void refusesAnotherInterfaceWithoutLoadingIt()
    {
        PluginLoader loader;
        QVERIFY(!loader.load(badPlugin("membatch-test-wrongiid")));
        QVERIFY2(loader.errorString().contains(QStringLiteral("implements 'org.example.Other/1.0', not '"
                                                               MEMBATCH_IBATCHPROCESSOR_IID "'")),
                 qPrintable(loader.errorString()));
        QVERIFY2(qEnvironmentVariableIsEmpty("MEMBATCH_TEST_PLUGIN_LOADED"), "the refused library was loaded");
    }

    void refusesAnIncompatibleVersionWithoutLoadingIt()
    {
        PluginLoader loader;
        QVERIFY(!loader.load(badPlugin("membatch-test-futureversion")));
        QVERIFY2(loader.errorString().contains(QStringLiteral("works with hosts 10.0.0 to 19.0.0; this host is ")),
                 qPrintable(loader.errorString()));
        QVERIFY(qEnvironmentVariableIsEmpty("MEMBATCH_TEST_PLUGIN_LOADED"));
    }

    void searchPassesOverRefusedPlugins()
    {
        PluginLoader loader;
        QVERIFY2(loader.load({}, {QStringLiteral(TEST_PLUGIN_DIR), QStringLiteral(MEMBATCH_PLUGIN_DIR)}),
                 qPrintable(loader.errorString()));
        QCOMPARE(loader.info().id, QStringLiteral("org.membatch.parse-temporal"));
        QVERIFY(qEnvironmentVariableIsEmpty("MEMBATCH_TEST_PLUGIN_LOADED"));
    }

    void searchReportsEveryRefusal()
    {
        PluginLoader loader;
        QVERIFY(!loader.load({}, {QStringLiteral(TEST_PLUGIN_DIR)}));
        const QString error = loader.errorString();
        QVERIFY2(error.contains(QStringLiteral("wrongiid")) && error.contains(QStringLiteral("futureversion")), qPrintable(error));
    }

    void reportsMissingFilesAndEmptyPaths()
    {
        PluginLoader loader;
        QVERIFY(!loader.load(QStringLiteral("/nonexistent/libx.so")));
        QVERIFY(loader.errorString().contains(QStringLiteral("no such file")));
        QVERIFY(!loader.load({}, {QStringLiteral("/nonexistent")}));
        QVERIFY(loader.errorString().contains(QStringLiteral("no membatch plugin found in: /nonexistent")));
    }

    void checksMetaData_data()
    {
        QTest::addColumn<QJsonObject>("metaData");
        QTest::addColumn<QString>("expected"); // empty: accepted
        const QJsonObject good{{QStringLiteral("Id"), QStringLiteral("x")},
                               {QStringLiteral("Version"), PluginLoader::apiVersion()}, // this host
                               {QStringLiteral("CompatVersion"), QStringLiteral("0.1.0")}};
        QTest::newRow("good") << metaData(0x060400, good) << QString();
        QTest::newRow("qt5") << metaData(0x050f02, good) << QStringLiteral("built against Qt 5");
        QJsonObject noId = good;
        noId.remove(QStringLiteral("Id"));
        QTest::newRow("no id") << metaData(0x060400, noId) << QStringLiteral("no Id");
        QJsonObject noVersion = good;
        noVersion.remove(QStringLiteral("CompatVersion"));
        QTest::newRow("no compat version") << metaData(0x060400, noVersion) << QStringLiteral("needs Version and CompatVersion");
        QJsonObject old = good;
        old.insert(QStringLiteral("Version"), QStringLiteral("0.0.9"));
        old.insert(QStringLiteral("CompatVersion"), QStringLiteral("0.0.1"));
        QTest::newRow("too old") << metaData(0x060400, old) << QStringLiteral("works with hosts 0.0.1 to 0.0.9");
        QTest::newRow("empty") << QJsonObject() << QStringLiteral("not a Qt plugin");
    }

    void checksMetaData()
    {
        QFETCH(QJsonObject, metaData);
        QFETCH(QString, expected);
        PluginInfo info;
        QString error;
        const bool accepted = PluginInfo::fromLoaderMetaData(QStringLiteral("f.so"), metaData, &info, &error);
        QCOMPARE(accepted, expected.isEmpty());
        if (!accepted)
            QVERIFY2(error.startsWith(QStringLiteral("f.so: ")) && error.contains(expected), qPrintable(error));
    }
};

QTEST_GUILESS_MAIN(tst_PluginLoader)
#include "tst_pluginloader.moc"
