#pragma once

#include "apiresult.h"
#include "parseclient.h"

#include <membatch/connectionsettings.h>

#include <QList>
#include <QObject>
#include <QPointer>
#include <QSet>
#include <QTimer>

#include <algorithm>
#include <functional>

class QNetworkAccessManager;

namespace membatch {

// One Parse session for every job that acts as the same user, counted by
// its holders: the first job to need it signs in (one login in flight,
// however many ask at once), later ones reuse the token, and when the last
// holder lets go it is logged out (after ConnectionSettings::sessionLingerMs), before that
// holder's done() runs (a host may exit on the job's result). A session
// Parse refuses (code 209) is dropped and signed in again. A session token
// in the settings is used as it is and never logged out; the master key
// needs no session at all.
class ParseSession : public QObject
{
    Q_OBJECT
public:
    ParseSession(QNetworkAccessManager *nam, const ConnectionSettings &settings, QObject *parent = nullptr);
    ~ParseSession() override;

    const ConnectionSettings &settings() const { return m_settings; }
    // Whether these settings would sign in as another session than ours.
    bool differsFrom(const ConnectionSettings &settings) const;
    // How long the session is kept once nobody holds it (ms; below 0: none).
    void setLinger(int ms) { m_linger.setInterval(std::max(0, ms)); }
    int linger() const { return m_linger.interval(); }

    using Ready = std::function<void(const ApiResult &)>;
    // holder holds the session until release() (or its destruction); ready
    // runs, queued on holder, once there is a token (token(), userId()) or
    // signing in failed.
    void acquire(QObject *holder, Ready ready);
    // holder lets go; done runs when nothing of the session is left in
    // flight for it: at once while others hold it, else after the linger
    // and the logout (or when another job takes the session over).
    void release(QObject *holder, std::function<void()> done);
    // Parse refused token (209): unless that was already done, it is
    // dropped and the user signed in again; ready runs (queued on context)
    // when there is a new token, or with the error.
    void renew(const QString &token, QObject *context, Ready ready);

    bool isMaster() const { return m_master; }
    bool isHeld(QObject *holder) const { return m_holders.contains(holder); }
    int holders() const { return int(m_holders.size()); }
    QString token() const { return m_token; }
    QString userId() const { return m_userId; }

    // The settings were replaced: the session ends when its last holder
    // lets go (no linger), and the object deletes itself.
    void retire();

private:
    struct Waiter
    {
        QPointer<QObject> context;
        Ready ready;
    };
    enum class State { None, SigningIn, Ready, LoggingOut };

    void signIn();
    void signedIn(const ApiResult &r);
    void idle();
    void logOut();
    void loggedOut();
    void forget(QObject *holder);
    void runDone();
    static void post(QObject *context, std::function<void()> fn);

    ConnectionSettings m_settings;
    ParseClient m_parse;
    bool m_master;
    bool m_given; // a token from the settings: ours to use, not to end
    State m_state = State::None;
    QString m_token;
    QString m_userId;
    QSet<QObject *> m_holders;
    QList<Waiter> m_waiters;
    // The last holder's done(), run once the session is logged out or taken over.
    QPointer<QObject> m_doneContext;
    std::function<void()> m_done;
    QTimer m_linger;
    bool m_retired = false;
};

} // namespace membatch
