// membatch-console against the real stack, in an X window (run under
// xvfb-run -a, platform xcb): the user's batches in four states (processing,
// completed, partial failure, canceled) are made with the membatch command,
// a worker and a request made by hand; then `membatch-console --screenshot`
// must render them all, each in its state, to a real PNG of the asked size.
// Another user sees none of them, and a wrong password is refused with a
// message and a non-zero exit, the password in no output.
//
// It needs the plugin's list() and monitor(): until they exist the console
// says so and this test fails at its first screenshot.

#include "stackclient.h"

#include "gzipcodec.h"

#include <QImage>
#include <QJsonArray>
#include <QProcess>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryDir>
#include <QTest>
#include <QUrlQuery>
#include <QUuid>

using namespace membatch;

class TestConsoleStack : public QObject
{
    Q_OBJECT

    StackClient m_stack;
    QTemporaryDir m_dir;
    QList<QProcess *> m_workers;
    QStringList m_workflows; // started here: ended in cleanupTestCase()
    QString m_tag = QUuid::createUuid().toString(QUuid::WithoutBraces).left(8);
    QString m_processing, m_completed, m_partial, m_canceled; // batch ids

    struct Run
    {
        int exitCode = -1;
        QByteArray output;
    };

    static Run run(const QString &program, const QStringList &args, const QMap<QString, QString> &env = {},
                   const QStringList &unset = {}, int timeoutMs = 120000)
    {
        QProcess p;
        QProcessEnvironment e = QProcessEnvironment::systemEnvironment();
        for (const QString &k : unset)
            e.remove(k);
        for (auto it = env.cbegin(); it != env.cend(); ++it)
            e.insert(it.key(), it.value());
        p.setProcessEnvironment(e);
        p.setProcessChannelMode(QProcess::MergedChannels);
        p.start(program, args);
        if (!p.waitForFinished(timeoutMs)) {
            p.kill();
            p.waitForFinished();
            return {-1, "did not finish in time: " + p.readAll()};
        }
        return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAll()};
    }

    static Run membatch(const QStringList &args) { return run(QStringLiteral(MEMBATCH_BIN), args); }

    // The console with no session bus: the keyring fails at once and the
    // password comes from the environment.
    static Run console(const QStringList &args, const QMap<QString, QString> &env = {}, const QStringList &unset = {})
    {
        QMap<QString, QString> all = env;
        all.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("xcb"));
        return run(QStringLiteral(MEMBATCH_CONSOLE_BIN), args, all, unset + QStringList{QStringLiteral("DBUS_SESSION_BUS_ADDRESS")});
    }

    QString submit(const QString &name, int count, const QStringList &extra = {})
    {
        const QString batchId = QStringLiteral("console-%1-%2").arg(name, m_tag);
        const QString path = StackClient::writeBatch(m_dir.filePath(name + QStringLiteral(".jsonl")), count, batchId);
        const Run r = membatch(QStringList{QStringLiteral("submit"), path, QStringLiteral("--batch-id"), batchId} + extra);
        if (r.exitCode != 0)
            qWarning("submit %s: %s", qPrintable(batchId), r.output.constData());
        m_workflows << QStringLiteral("batch-") + batchId;
        return r.exitCode == 0 ? batchId : QString();
    }

    QJsonObject request(const QString &batchId)
    {
        QUrlQuery q;
        q.addQueryItem(QStringLiteral("where"), QStringLiteral("{\"batchId\":\"%1\"}").arg(batchId));
        const QJsonArray results = m_stack.parseAsMaster("GET", QStringLiteral("/classes/BatchMemoryRequest"), q).json()
                                       .value(QStringLiteral("results")).toArray();
        return results.isEmpty() ? QJsonObject() : results.first().toObject();
    }

    QString status(const QString &batchId) { return request(batchId).value(QStringLiteral("status")).toString(); }

    static bool isRealImage(const QImage &image, QString *why)
    {
        QSet<QRgb> colours;
        for (int y = 0; y < image.height(); y += 5)
            for (int x = 0; x < image.width(); x += 5)
                colours.insert(image.pixel(x, y));
        *why = QStringLiteral("%1 colours").arg(colours.size());
        return colours.size() > 50;
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(m_stack.settings.missingForWorker().isEmpty(), "the stack's env is not set: run under tests/stack/with-env.sh");
        QVERIFY(m_dir.isValid());
        const QByteArray token = m_stack.logIn();
        QVERIFY2(!token.isEmpty(), "the stack's user cannot sign in");
        const QString userId = m_stack.parseAsUser(token, "GET", QStringLiteral("/users/me")).json().value(QStringLiteral("objectId")).toString();
        QVERIFY(!userId.isEmpty());

        // Canceled before any worker took it: the workflow is canceled, and
        // the worker started below settles the request as canceled.
        m_canceled = submit(QStringLiteral("canceled"), 30);
        QVERIFY(!m_canceled.isEmpty());
        const Run cancel = membatch({QStringLiteral("cancel"), m_canceled, QStringLiteral("--reason"), QStringLiteral("tst_console_stack")});
        QVERIFY2(cancel.exitCode == 0, cancel.output.constData());

        // A partial failure needs items the submitter would refuse: made by
        // hand, then given to the user as the submitter would.
        m_partial = QStringLiteral("console-partial-") + m_tag;
        const QByteArray json = "[{\"content\":\"console good one " + m_tag.toUtf8() + "\"},{\"content\":\"\"},"
                                "{\"content\":\"console good two\",\"tags\":\"not-a-list\"},{\"content\":\"console good three " + m_tag.toUtf8() + "\"}]";
        const QString requestId = m_stack.createRequestByHand(m_partial, GzipCodec::compress(json), 4);
        QVERIFY2(!requestId.contains(QLatin1Char(' ')), qPrintable(requestId));
        const QJsonObject owner{
            {QStringLiteral("user"), QJsonObject{{QStringLiteral("__type"), QStringLiteral("Pointer")}, {QStringLiteral("className"), QStringLiteral("_User")}, {QStringLiteral("objectId"), userId}}},
            {QStringLiteral("ACL"), QJsonObject{{userId, QJsonObject{{QStringLiteral("read"), true}, {QStringLiteral("write"), true}}}}}};
        const Http owned = m_stack.parseAsMaster("PUT", QStringLiteral("/classes/BatchMemoryRequest/") + requestId, {},
                                                 QJsonDocument(owner).toJson(QJsonDocument::Compact));
        QVERIFY2(owned.status == 200, owned.body.constData());
        m_workflows << QStringLiteral("batch-") + m_partial;
        const QString started = m_stack.startByHand(m_partial, requestId);
        QVERIFY2(started.isEmpty(), qPrintable(started));

        m_completed = submit(QStringLiteral("completed"), 40);
        QVERIFY(!m_completed.isEmpty());
        // Large, and stored a few at a time, so that it is still going when
        // its worker is killed below: it then stays processing.
        m_processing = submit(QStringLiteral("processing"), 20000, {QStringLiteral("--chunk-size"), QStringLiteral("20000")});
        QVERIFY(!m_processing.isEmpty());

        auto *worker = new QProcess(this);
        worker->setProcessChannelMode(QProcess::MergedChannels);
        worker->start(QStringLiteral(MEMBATCH_BIN), {QStringLiteral("work"), QStringLiteral("--identity"), QStringLiteral("console-") + m_tag,
                                                     QStringLiteral("--concurrency"), QStringLiteral("4"), QStringLiteral("--group-size"),
                                                     QStringLiteral("5"), QStringLiteral("--groups-in-flight"), QStringLiteral("1")});
        m_workers << worker;
        QVERIFY(worker->waitForStarted());
        QTRY_COMPARE_WITH_TIMEOUT(status(m_completed), QStringLiteral("completed"), 90000);
        QTRY_COMPARE_WITH_TIMEOUT(status(m_partial), QStringLiteral("partial_failure"), 60000);
        QTRY_COMPARE_WITH_TIMEOUT(status(m_canceled), QStringLiteral("canceled"), 60000);
        QTRY_VERIFY_WITH_TIMEOUT(request(m_processing).value(QStringLiteral("processedCount")).toInteger() > 0, 60000);
        worker->kill(); // no goodbye: the batch stays processing with the counts so far
        QVERIFY(worker->waitForFinished(5000));
        QCOMPARE(status(m_processing), QStringLiteral("processing"));
    }

    void cleanupTestCase()
    {
        for (QProcess *worker : std::as_const(m_workers)) {
            worker->kill();
            worker->waitForFinished(5000);
        }
        // Nothing left running for the next test's workers to take.
        for (const QString &id : std::as_const(m_workflows))
            m_stack.temporal("POST", QStringLiteral("/workflows/%1/terminate").arg(id), R"({"reason":"tst_console_stack cleanup"})");
    }

    void screenshotShowsEveryState()
    {
        const QString out = QStringLiteral(MEMBATCH_TEST_OUTPUT_DIR "/console-stack.png");
        QFile::remove(out);
        // As a user who holds no master key, as an admin's desktop would.
        const Run r = console({QStringLiteral("--screenshot"), out, QStringLiteral("--size"), QStringLiteral("1280x720")}, {},
                              {QStringLiteral("MEMBATCH_MASTER_KEY")});
        QVERIFY2(r.exitCode == 0, r.output.constData());
        QVERIFY2(!r.output.contains(m_stack.settings.password.toUtf8()), "the password appeared in the output");
        const QByteArray text = r.output;
        auto expectRow = [&text](const QString &batchId, const QString &state) {
            const QRegularExpression line(QStringLiteral("^batch %1: %2").arg(QRegularExpression::escape(batchId), state),
                                          QRegularExpression::MultilineOption);
            return line.match(QString::fromUtf8(text)).hasMatch();
        };
        QVERIFY2(expectRow(m_processing, QStringLiteral("processing")), text.constData());
        QVERIFY2(expectRow(m_completed, QStringLiteral("completed")), text.constData());
        QVERIFY2(expectRow(m_partial, QStringLiteral("partial failure")), text.constData());
        QVERIFY2(expectRow(m_canceled, QStringLiteral("canceled")), text.constData());

        const QImage image(out);
        QVERIFY2(!image.isNull(), qPrintable(out));
        QCOMPARE(image.size(), QSize(1280, 720));
        QString why;
        QVERIFY2(isRealImage(image, &why), qPrintable(why));
    }

    void anotherUserSeesNoneOfThem()
    {
        const QByteArray token = m_stack.signUp(QStringLiteral("console-other-") + m_tag);
        QVERIFY(!token.isEmpty());
        const QString out = QStringLiteral(MEMBATCH_TEST_OUTPUT_DIR "/console-stack-other.png");
        const Run r = console({QStringLiteral("--screenshot"), out},
                              {{QStringLiteral("MEMBATCH_SESSION_TOKEN"), QString::fromUtf8(token)}},
                              {QStringLiteral("MEMBATCH_USERNAME"), QStringLiteral("MEMBATCH_PASSWORD"), QStringLiteral("MEMBATCH_MASTER_KEY")});
        QVERIFY2(r.exitCode == 0, r.output.constData());
        for (const QString &id : {m_processing, m_completed, m_partial, m_canceled})
            QVERIFY2(!r.output.contains(id.toUtf8()), r.output.constData());
        QVERIFY(!QImage(out).isNull());
    }

    void aWrongPasswordIsRefused()
    {
        const QString out = QStringLiteral(MEMBATCH_TEST_OUTPUT_DIR "/console-stack-refused.png");
        QFile::remove(out);
        const QString wrong = QStringLiteral("not-the-password-") + m_tag;
        const Run r = console({QStringLiteral("--screenshot"), out, QStringLiteral("--timeout"), QStringLiteral("30")},
                              {{QStringLiteral("MEMBATCH_PASSWORD"), wrong}}, {QStringLiteral("MEMBATCH_MASTER_KEY")});
        QCOMPARE(r.exitCode, 1);
        QVERIFY2(r.output.contains("was refused"), r.output.constData());
        QVERIFY2(!r.output.contains(wrong.toUtf8()), "the password appeared in the output");
        QVERIFY(!QFile::exists(out));
    }
};

QTEST_GUILESS_MAIN(TestConsoleStack)
#include "tst_console_stack.moc"
