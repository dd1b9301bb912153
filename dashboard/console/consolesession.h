#pragma once

#include <algorithm>

#include <membatch/connectionsettings.h>
#include <membatch/pluginloader.h>

#include <QObject>
#include <QPointer>
#include <QSet>

#include "passwordstore.h"

namespace membatch {
class IBatchProcessor;
class ListJob;
class MonitorJob;
namespace dashboard {
class BatchTableModel;
}
} // namespace membatch

// What the console does, apart from its window: loads the plugin, finds the
// password (keyring, then MEMBATCH_PASSWORD, then the user), lists the
// user's batches and follows them, and every one submitted after, with one
// monitor. Every job goes to the model.
class ConsoleSession : public QObject
{
    Q_OBJECT
public:
    explicit ConsoleSession(membatch::dashboard::BatchTableModel *model, QObject *parent = nullptr);
    ~ConsoleSession() override;

    // Loads the plugin file, or the first acceptable one in searchPaths.
    bool loadPlugin(const QString &fileName, const QStringList &searchPaths);
    QString errorString() const { return m_error; }
    membatch::IBatchProcessor *processor() const { return m_processor; }

    void setSettings(const membatch::ConnectionSettings &settings)
    {
        m_settings = settings;
        // One job follows another (the list, then its monitor; a drop, a
        // retry): the next one takes the session over instead of signing in.
        m_settings.sessionLingerMs = std::max(m_settings.sessionLingerMs, SessionLingerMs);
        m_envPassword = settings.password;
    }
    static constexpr int SessionLingerMs = 5000;
    membatch::ConnectionSettings settings() const { return m_settings; }
    // Without a user to ask (--screenshot), a missing or refused password fails.
    void setInteractive(bool interactive) { m_interactive = interactive; }
    PasswordStore *passwordStore() { return &m_store; }

    // Finds the credentials, then lists and follows the batches.
    void start();
    // The answer to credentialsNeeded().
    void signIn(const QString &username, const QString &password, bool remember);
    // Lists and follows again (after an error).
    void refresh();
    void submit(const QString &path);

    // "alice on 127.0.0.1:1337"
    QString who() const;

Q_SIGNALS:
    // No password found, or it was refused: ask the user (interactive only).
    void credentialsNeeded(const QString &username, const QString &why);
    // The list has answered and every batch in it has had its first state.
    void refreshed();
    // Cannot go on (no plugin call, refused sign-in without a user to ask).
    void failed(const QString &message);
    void statusMessage(const QString &message);

private:
    enum class Source { None, Session, Keyring, Environment, Dialog };
    QString account() const;
    void needCredentials(const QString &why);
    void connectNow();
    void listed(membatch::ListJob *job);
    void checkRefreshed();

    membatch::dashboard::BatchTableModel *m_model;
    membatch::PluginLoader m_loader;
    membatch::IBatchProcessor *m_processor = nullptr;
    membatch::ConnectionSettings m_settings;
    PasswordStore m_store;
    QString m_envPassword; // MEMBATCH_PASSWORD, the keyring's fallback
    QString m_error;
    bool m_interactive = true;
    Source m_source = Source::None;
    bool m_remember = false;
    bool m_listed = false;
    bool m_refreshed = false;
    QSet<QString> m_awaiting; // listed batches the monitor has not reported yet
    QPointer<membatch::ListJob> m_list;
    QPointer<membatch::MonitorJob> m_monitor;
};
