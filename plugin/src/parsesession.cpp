#include "parsesession.h"

#include "logging.h"

#include <membatch/job.h>

namespace membatch {

namespace {

ConnectionSettings withoutToken(ConnectionSettings settings)
{
    settings.sessionToken.clear(); // each request names the token it acts in
    return settings;
}

} // namespace

ParseSession::ParseSession(QNetworkAccessManager *nam, const ConnectionSettings &settings, QObject *parent)
    : QObject(parent)
    , m_settings(settings)
    , m_parse(nam, withoutToken(settings), ParseClient::Auth::Session)
    , m_master(ParseClient::clientAuth(settings) == ParseClient::Auth::Master)
    , m_given(!settings.sessionToken.isEmpty())
{
    m_linger.setSingleShot(true);
    setLinger(settings.sessionLingerMs);
    connect(&m_linger, &QTimer::timeout, this, &ParseSession::logOut);
}

ParseSession::~ParseSession() = default;

bool ParseSession::differsFrom(const ConnectionSettings &s) const
{
    const ConnectionSettings &m = m_settings;
    return s.parseUrl != m.parseUrl || s.appId != m.appId || s.restKey != m.restKey || s.masterKey != m.masterKey
        || s.username != m.username || s.password != m.password || s.sessionToken != m.sessionToken;
}

void ParseSession::post(QObject *context, std::function<void()> fn)
{
    if (context)
        QMetaObject::invokeMethod(context, std::move(fn), Qt::QueuedConnection);
}

void ParseSession::acquire(QObject *holder, Ready ready)
{
    if (!m_holders.contains(holder)) {
        m_holders.insert(holder);
        // A job killed, or deleted, while it holds the session lets go of it.
        connect(holder, &QObject::destroyed, this, [this, holder] { forget(holder); });
        if (auto *job = qobject_cast<Job *>(holder))
            connect(job, &Job::result, this, [this, holder] { forget(holder); });
    }
    if (m_master) {
        post(holder, [ready] { ready(ApiResult{}); });
        return;
    }
    switch (m_state) {
    case State::Ready:
        m_linger.stop();
        runDone(); // the session's last holder, lingering, is let go: we take it over
        post(holder, [ready] { ready(ApiResult{}); });
        return;
    case State::None:
        m_waiters.append({holder, std::move(ready)});
        signIn();
        return;
    case State::SigningIn:
    case State::LoggingOut: // signed in anew once it is out
        m_waiters.append({holder, std::move(ready)});
        return;
    }
}

void ParseSession::release(QObject *holder, std::function<void()> done)
{
    disconnect(holder, nullptr, this, nullptr);
    if (!m_holders.remove(holder) || !m_holders.isEmpty()) {
        done();
        return;
    }
    m_doneContext = holder;
    m_done = std::move(done);
    idle();
}

void ParseSession::forget(QObject *holder)
{
    // What it waited for is not wanted any more (and not signed in for after a logout).
    m_waiters.removeIf([holder](const Waiter &w) { return !w.context || w.context == holder; });
    if (m_holders.remove(holder) && m_holders.isEmpty())
        idle();
}

void ParseSession::renew(const QString &token, QObject *context, Ready ready)
{
    if (m_master || m_given) {
        // Nothing to sign in again with: the token given is the session.
        ApiResult refused;
        refused.service = QStringLiteral("Parse");
        refused.error = Job::AuthenticationError;
        refused.message = tr("Parse refused the session token given (invalid or expired)");
        post(context, [ready, refused] { ready(refused); });
        return;
    }
    if (m_state == State::Ready && m_token != token) { // renewed already
        post(context, [ready] { ready(ApiResult{}); });
        return;
    }
    m_waiters.append({context, std::move(ready)});
    if (m_state == State::Ready) {
        qCDebug(lcParse) << "Parse refused the session of" << m_settings.username << ": signing in again";
        m_token.clear(); // refused: nothing to log out
        m_state = State::None;
    }
    if (m_state == State::None)
        signIn();
}

void ParseSession::retire()
{
    m_retired = true;
    if (m_holders.isEmpty())
        idle();
}

void ParseSession::signIn()
{
    m_state = State::SigningIn;
    if (m_given) {
        m_parse.getMe(m_settings.sessionToken, this, [this](const ApiResult &r) {
            m_token = m_settings.sessionToken;
            signedIn(r);
        });
        return;
    }
    qCDebug(lcParse) << "signing in as" << m_settings.username;
    m_parse.logIn(this, [this](const ApiResult &r) {
        m_token = r.json.value(QStringLiteral("sessionToken")).toString();
        signedIn(r);
    });
}

void ParseSession::signedIn(const ApiResult &r)
{
    if (r.ok()) {
        m_state = State::Ready;
        m_userId = r.json.value(QStringLiteral("objectId")).toString();
    } else {
        m_state = State::None;
        m_token.clear();
        m_userId.clear();
    }
    ApiResult told = r;
    told.body.clear(); // the answer of a login carries the token: not passed around
    told.json = QJsonObject();
    const QList<Waiter> waiters = std::exchange(m_waiters, {});
    for (const Waiter &w : waiters)
        post(w.context, [ready = w.ready, told] { ready(told); });
    if (m_holders.isEmpty())
        idle();
}

// Nobody holds the session: it is ended (after the linger), unless it is not ours to end.
void ParseSession::idle()
{
    if (!m_holders.isEmpty())
        return;
    switch (m_state) {
    case State::Ready:
        if (!m_given) {
            if (m_retired || m_linger.interval() <= 0)
                logOut();
            else
                m_linger.start();
            return;
        }
        [[fallthrough]];
    case State::None:
        runDone();
        if (m_retired)
            deleteLater();
        return;
    case State::SigningIn:
    case State::LoggingOut:
        return; // back here when it ends
    }
}

void ParseSession::logOut()
{
    m_linger.stop();
    m_state = State::LoggingOut;
    qCDebug(lcParse) << "ending the session of" << m_settings.username;
    m_parse.logOut(m_token, this, [this](const ApiResult &r) {
        if (!r.ok())
            qCWarning(lcParse) << "could not end the session:" << r.message;
        m_state = State::None;
        m_token.clear();
        m_userId.clear();
        runDone();
        if (!m_waiters.isEmpty())
            signIn(); // a job came while it ended
        else if (m_retired && m_holders.isEmpty())
            deleteLater();
    });
}

void ParseSession::runDone()
{
    if (!m_done)
        return;
    post(m_doneContext, std::exchange(m_done, {}));
    m_doneContext.clear();
}

} // namespace membatch
