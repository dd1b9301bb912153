// membatch-console as a user runs it, under xvfb-run (platform xcb), with a
// test-only plugin that has batches in every state: --screenshot writes a
// real picture of the window at the asked size once every row has its
// first state; a missing plugin, a missing or refused password, a server
// that answers 503 or never answers end with a message and a non-zero exit.

#include <QImage>
#include <QProcess>
#include <QSet>
#include <QTest>

class TestConsole : public QObject
{
    Q_OBJECT

    struct Run
    {
        int exitCode = -1;
        QByteArray output;
    };

    static Run console(const QStringList &args, const QMap<QString, QString> &env)
    {
        QProcess p;
        QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
        // No session bus: the keyring fails at once and the console falls back
        // to the environment (a bus with a prompter would make it wait).
        e.remove(QStringLiteral("DBUS_SESSION_BUS_ADDRESS"));
        for (const QString &k : {QStringLiteral("MEMBATCH_USERNAME"), QStringLiteral("MEMBATCH_PASSWORD"),
                                 QStringLiteral("MEMBATCH_SESSION_TOKEN"), QStringLiteral("MEMBATCH_MASTER_KEY")})
            e.remove(k);
        e.insert(QStringLiteral("MEMBATCH_PARSE_URL"), QStringLiteral("http://127.0.0.1:9/parse"));
        e.insert(QStringLiteral("MEMBATCH_APP_ID"), QStringLiteral("membatch"));
        e.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("xcb"));
        for (auto it = env.cbegin(); it != env.cend(); ++it)
            e.insert(it.key(), it.value());
        p.setProcessEnvironment(e);
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(QStringLiteral(MEMBATCH_CONSOLE_BIN), args);
        Run r;
        if (!p.waitForFinished(60000)) {
            p.kill();
            p.waitForFinished();
            r.output = "the console did not exit within 60 s: " + p.readAll();
            return r;
        }
        r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
        r.output = p.readAll();
        return r;
    }

    static const QString &plugin()
    {
        static const QString path = QStringLiteral(FAKE_PLUGIN);
        return path;
    }

private Q_SLOTS:
    void screenshot_data()
    {
        QTest::addColumn<QString>("size");
        QTest::addColumn<QSize>("expected");
        QTest::newRow("default size") << QString() << QSize(1180, 680);
        QTest::newRow("1400x760") << QStringLiteral("1400x760") << QSize(1400, 760);
    }

    void screenshot()
    {
        QFETCH(QString, size);
        QFETCH(QSize, expected);
        const QString out = QStringLiteral(MEMBATCH_TEST_OUTPUT_DIR "/console-fake-%1.png").arg(expected.width());
        QFile::remove(out);
        QStringList args{QStringLiteral("--plugin-file"), plugin(), QStringLiteral("--screenshot"), out};
        if (!size.isEmpty())
            args << QStringLiteral("--size") << size;
        const Run r = console(args, {{QStringLiteral("MEMBATCH_USERNAME"), QStringLiteral("alice")},
                                     {QStringLiteral("MEMBATCH_PASSWORD"), QStringLiteral("right")}});
        QVERIFY2(r.exitCode == 0, r.output.constData());
        QVERIFY2(r.output.contains("wrote"), r.output.constData());
        QVERIFY2(!r.output.contains("right"), "the password appeared in the output");
        QImage image(out);
        QVERIFY2(!image.isNull(), qPrintable(out));
        QCOMPARE(image.size(), expected);
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 5)
            for (int x = 0; x < image.width(); x += 5)
                colours.insert(image.pixel(x, y));
        QVERIFY2(colours.size() > 50, qPrintable(QStringLiteral("only %1 colours").arg(colours.size())));
    }

    void failures_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("username");
        QTest::addColumn<QString>("password");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("message");
        QTest::newRow("no plugin") << QStringList{QStringLiteral("--plugin-file"), QStringLiteral("/nonexistent/libnothing.so")}
                                   << "alice" << "right" << 1 << "/nonexistent/libnothing.so";
        QTest::newRow("refused sign-in") << QStringList{QStringLiteral("--plugin-file"), plugin()} << "alice" << "wrong" << 1
                                         << "alice was refused: signing in: Invalid username/password";
        QTest::newRow("server error") << QStringList{QStringLiteral("--plugin-file"), plugin()} << "alice" << "down" << 1
                                      << "listing batches: listing batches at http://127.0.0.1:9/parse: Parse answered 503";
        QTest::newRow("server stalls") << QStringList{QStringLiteral("--plugin-file"), plugin(), QStringLiteral("--timeout"), QStringLiteral("2")}
                                       << "alice" << "stall" << 1 << "no full refresh within 2 s: no screenshot";
        QTest::newRow("no password") << QStringList{QStringLiteral("--plugin-file"), plugin()} << "alice" << QString() << 1
                                     << "no password for alice: none in the keyring and MEMBATCH_PASSWORD is not set";
        QTest::newRow("no user") << QStringList{QStringLiteral("--plugin-file"), plugin()} << QString() << QString() << 1
                                 << "no user to sign in as";
        QTest::newRow("bad size") << QStringList{QStringLiteral("--size"), QStringLiteral("big")} << "alice" << "right" << 2
                                  << "--size must be WIDTHxHEIGHT";
    }

    void failures()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, username);
        QFETCH(QString, password);
        QFETCH(int, exitCode);
        QFETCH(QString, message);
        const QString out = QStringLiteral(MEMBATCH_TEST_OUTPUT_DIR "/console-refused.png");
        QFile::remove(out);
        QMap<QString, QString> env;
        if (!username.isEmpty())
            env.insert(QStringLiteral("MEMBATCH_USERNAME"), username);
        if (!password.isEmpty())
            env.insert(QStringLiteral("MEMBATCH_PASSWORD"), password);
        QStringList all = args + QStringList{QStringLiteral("--screenshot"), out};
        if (!args.contains(QStringLiteral("--timeout")))
            all << QStringLiteral("--timeout") << QStringLiteral("20");
        const Run r = console(all, env);
        QVERIFY2(r.exitCode == exitCode, r.output.constData());
        QVERIFY2(r.output.contains(message.toUtf8()), r.output.constData());
        QVERIFY(!QFile::exists(out));
    }
};

QTEST_GUILESS_MAIN(TestConsole)
#include "tst_console.moc"
