#include "consolesession.h"

#include <membatch/dashboard/batchtablemodel.h>
#include <membatch/ibatchprocessor.h>
#include <membatch/job.h>

#include <QFileInfo>
#include <QLoggingCategory>

Q_LOGGING_CATEGORY(lcConsole, "membatch.console", QtWarningMsg)

using namespace membatch;

ConsoleSession::ConsoleSession(dashboard::BatchTableModel *model, QObject *parent)
    : QObject(parent)
    , m_model(model)
{
    // Every batch that gets a row (a submission, a retry) is followed too.
    connect(m_model, &dashboard::BatchTableModel::batchAdded, this, [this](const QString &batchId) {
        if (m_monitor && !m_monitor->isFinished())
            m_monitor->addBatch(batchId);
    });
}

ConsoleSession::~ConsoleSession()
{
    // The jobs end with us: no session left behind, nothing called on a dead model.
    if (m_list)
        m_list->kill();
    if (m_monitor)
        m_monitor->kill();
}

bool ConsoleSession::loadPlugin(const QString &fileName, const QStringList &searchPaths)
{
    m_processor = m_loader.load(fileName, searchPaths);
    if (!m_processor)
        m_error = m_loader.errorString();
    return m_processor != nullptr;
}

QString ConsoleSession::account() const
{
    // One entry per user and server: the same name on two servers is two people.
    return QStringLiteral("%1@%2").arg(m_settings.username, m_settings.parseUrl.toString(QUrl::RemoveUserInfo | QUrl::RemoveQuery));
}

QString ConsoleSession::who() const
{
    const QString server = m_settings.parseUrl.host() + (m_settings.parseUrl.port() > 0 ? QStringLiteral(":%1").arg(m_settings.parseUrl.port()) : QString());
    if (!m_settings.username.isEmpty())
        return tr("%1 on %2").arg(m_settings.username, server);
    return m_settings.masterKey.isEmpty() ? server : tr("the master key on %1").arg(server);
}

void ConsoleSession::start()
{
    if (!m_processor) {
        Q_EMIT failed(tr("no plugin loaded"));
        return;
    }
    if (m_settings.parseUrl.isEmpty() || m_settings.appId.isEmpty()) {
        Q_EMIT failed(tr("set MEMBATCH_PARSE_URL and MEMBATCH_APP_ID (and MEMBATCH_TEMPORAL_URL) to say which server to watch"));
        return;
    }
    if (!m_settings.sessionToken.isEmpty() || (m_settings.username.isEmpty() && !m_settings.masterKey.isEmpty())) {
        m_source = Source::Session;
        connectNow();
        return;
    }
    if (m_settings.username.isEmpty()) {
        needCredentials({});
        return;
    }
    const QString envPassword = m_envPassword;
    m_settings.password.clear();
    Q_EMIT statusMessage(tr("Looking for the password of %1 in the keyring…").arg(m_settings.username));
    auto c = std::make_shared<QMetaObject::Connection>();
    *c = connect(&m_store, &PasswordStore::passwordRead, this,
                 [this, c, envPassword](bool found, const QString &password, const QString &error) {
                     disconnect(*c);
                     if (found && !password.isEmpty()) {
                         m_settings.password = password;
                         m_source = Source::Keyring;
                     } else if (!envPassword.isEmpty()) {
                         m_settings.password = envPassword;
                         m_source = Source::Environment;
                     } else {
                         needCredentials(error);
                         return;
                     }
                     connectNow();
                 });
    m_store.read(account());
}

void ConsoleSession::needCredentials(const QString &why)
{
    if (!m_interactive) {
        QString text = m_settings.username.isEmpty()
            ? tr("no user to sign in as: set MEMBATCH_USERNAME and MEMBATCH_PASSWORD (or MEMBATCH_SESSION_TOKEN)")
            : tr("no password for %1: none in the keyring and MEMBATCH_PASSWORD is not set").arg(m_settings.username);
        if (!why.isEmpty())
            text += QStringLiteral(" (%1)").arg(why);
        Q_EMIT failed(text);
        return;
    }
    Q_EMIT credentialsNeeded(m_settings.username, why);
}

void ConsoleSession::signIn(const QString &username, const QString &password, bool remember)
{
    m_settings.username = username;
    m_settings.password = password;
    m_settings.sessionToken.clear();
    m_source = Source::Dialog;
    m_remember = remember;
    connectNow();
}

void ConsoleSession::refresh()
{
    // No password left (it was refused, the dialog closed): look for one again.
    if (m_source == Source::None || (m_source != Source::Session && m_settings.password.isEmpty()))
        start();
    else
        connectNow();
}

void ConsoleSession::connectNow()
{
    if (m_list)
        m_list->kill();
    if (m_monitor)
        m_monitor->kill();
    m_listed = false;
    m_processor->setConnection(m_settings);
    ListOptions options;
    options.limit = 100;
    ListJob *job = m_processor->list(options);
    if (!job) {
        Q_EMIT failed(tr("the plugin %1 cannot list batches (its list() gave nothing)").arg(m_loader.info().id));
        return;
    }
    m_list = job;
    m_model->registerJob(job);
    connect(job, &Job::result, this, [this](Job *done) { listed(static_cast<ListJob *>(done)); });
    Q_EMIT statusMessage(tr("Signing in as %1 and listing batches…").arg(who()));
    job->start();
}

void ConsoleSession::listed(ListJob *job)
{
    if (job->error() == Job::AuthenticationError) {
        const QString why = tr("%1 was refused: %2").arg(m_settings.username, job->errorString());
        if (m_source == Source::Keyring)
            qCInfo(lcConsole) << "the keyring's password was refused";
        m_settings.password.clear();
        if (!m_interactive || m_source == Source::Session) {
            Q_EMIT failed(why);
            return;
        }
        needCredentials(why);
        return;
    }
    if (job->error() != Job::NoError) {
        // The widget shows the job's error; without a user, it is the end.
        if (!m_interactive)
            Q_EMIT failed(tr("listing batches: %1").arg(job->errorString()));
        else
            Q_EMIT statusMessage(tr("Listing batches failed: press F5 to try again"));
        return;
    }
    if (m_source == Source::Dialog && m_remember) {
        m_remember = false;
        auto c = std::make_shared<QMetaObject::Connection>();
        *c = connect(&m_store, &PasswordStore::written, this, [this, c](bool ok, const QString &error) {
            disconnect(*c);
            if (!ok)
                Q_EMIT statusMessage(tr("The password was not kept: %1").arg(error));
        });
        m_store.write(account(), m_settings.password);
    }

    QStringList ids;
    const QList<BatchStatus> batches = job->batches();
    for (const BatchStatus &b : batches)
        ids << b.batchId;
    // And what was submitted from here before a refresh.
    const QStringList shown = m_model->batchIds();
    for (const QString &id : shown) {
        if (!ids.contains(id))
            ids << id;
    }
    m_awaiting = QSet<QString>(ids.cbegin(), ids.cend());
    m_listed = true;

    WatchOptions options;
    options.follow = true;
    MonitorJob *monitor = m_processor->monitor(ids, options);
    if (!monitor) {
        Q_EMIT failed(tr("the plugin %1 cannot monitor batches (its monitor() gave nothing)").arg(m_loader.info().id));
        return;
    }
    m_monitor = monitor;
    m_model->registerJob(monitor);
    connect(monitor, &MonitorJob::batchChanged, this, [this](const BatchStatus &batch) {
        if (m_awaiting.remove(batch.batchId))
            checkRefreshed();
    });
    connect(monitor, &Job::result, this, [this](Job *done) {
        if (done->error() != Job::NoError && !m_interactive && !m_refreshed)
            Q_EMIT failed(tr("watching batches: %1").arg(done->errorString()));
        else if (done->error() != Job::NoError && done->error() != Job::KilledError)
            Q_EMIT statusMessage(tr("Watching stopped: %1 (F5 starts again)").arg(done->errorString()));
    });
    Q_EMIT statusMessage(tr("Signed in as %1: %2 batches").arg(who()).arg(batches.size()));
    monitor->start();
    checkRefreshed();
}

void ConsoleSession::checkRefreshed()
{
    if (m_refreshed || !m_listed || !m_awaiting.isEmpty())
        return;
    m_refreshed = true;
    Q_EMIT refreshed();
}

void ConsoleSession::submit(const QString &path)
{
    if (!m_processor)
        return;
    BatchJob *job = m_processor->submit(path, SubmitOptions());
    if (!job) {
        Q_EMIT statusMessage(tr("The plugin cannot submit %1").arg(path));
        return;
    }
    const QString name = QFileInfo(path).fileName();
    m_model->registerJob(job);
    connect(job, &Job::result, this, [this, name](Job *done) {
        auto *submitted = static_cast<BatchJob *>(done);
        if (done->error() == Job::NoError)
            Q_EMIT statusMessage(tr("%1 submitted as %2").arg(name, submitted->batch().batchId));
        else
            Q_EMIT statusMessage(tr("%1 was not submitted: %2").arg(name, done->errorString()));
    });
    Q_EMIT statusMessage(tr("Submitting %1…").arg(name));
    job->start();
}
