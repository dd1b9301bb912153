#include "parseclient.h"

#include "logging.h"
#include "parsesession.h"

#include <membatch/job.h>

#include <QDateTime>
#include <QJsonDocument>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QUrlQuery>

namespace membatch {

namespace {

// Parse's error bodies come in several shapes: {"code","error"},
// {"code","message"} (internal errors), {"error"} (wrong key, 413) and HTML.
void readParseError(ApiResult &r, QString *says)
{
    r.serviceCode = r.json.value(QStringLiteral("code")).toInt();
    QString text = r.json.value(QStringLiteral("error")).toString();
    if (text.isEmpty())
        text = r.json.value(QStringLiteral("message")).toString();
    if (text.isEmpty())
        return;
    if (r.httpStatus == 403 && text == QLatin1String("unauthorized"))
        text = QStringLiteral("unauthorized (the application id or key was refused)");
    *says = r.serviceCode ? QStringLiteral("%1 (code %2)").arg(text).arg(r.serviceCode) : text;
    // 209: the session token is invalid or expired; 101 on a login: wrong password.
    if (r.serviceCode == 209)
        r.error = Job::AuthenticationError;
}

} // namespace

ParseClient::ParseClient(QNetworkAccessManager *nam, const ConnectionSettings &settings, Auth auth)
    : m_nam(nam)
    , m_rest(nam, QStringLiteral("Parse"), readParseError)
    , m_settings(settings)
    , m_auth(auth)
    , m_sessionToken(settings.sessionToken)
{
}

ParseClient::~ParseClient() = default;

ParseClient::Auth ParseClient::clientAuth(const ConnectionSettings &s)
{
    const bool hasUser = !s.sessionToken.isEmpty() || (!s.username.isEmpty() && !s.password.isEmpty());
    return hasUser ? Auth::Session : Auth::Master;
}

QNetworkRequest ParseClient::request(const QString &path, const QUrlQuery &query) const
{
    QUrl url = appendPath(m_settings.parseUrl, path);
    if (!query.isEmpty())
        setEncodedQuery(url, query);

    QNetworkRequest req(url);
    req.setRawHeader("X-Parse-Application-Id", m_settings.appId.toUtf8());
    if (m_auth == Auth::Master) {
        req.setRawHeader("X-Parse-Master-Key", m_settings.masterKey.toUtf8());
    } else {
        if (!m_sessionToken.isEmpty())
            req.setRawHeader("X-Parse-Session-Token", m_sessionToken.toUtf8());
        if (!m_settings.restKey.isEmpty())
            req.setRawHeader("X-Parse-REST-API-Key", m_settings.restKey.toUtf8());
    }
    req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/json"));
    return req;
}

void ParseClient::setSession(ParseSession *session)
{
    m_session = session;
    m_ownSession.reset();
}

ParseSession *ParseClient::session() const
{
    return m_session;
}

void ParseClient::signIn(QObject *context, std::function<void(const ApiResult &, const QString &)> handler)
{
    if (m_auth == Auth::Master) {
        handler(ApiResult{}, QString());
        return;
    }
    if (!m_session) {
        // Nobody shares one with us: a session of our own, ended as soon as it is let go.
        m_ownSession = std::make_unique<ParseSession>(m_nam, m_settings);
        m_ownSession->setLinger(0);
        m_session = m_ownSession.get();
    }
    m_holding = true;
    m_session->acquire(context, [this, handler, session = m_session](const ApiResult &r) {
        if (r.ok() && session)
            m_sessionToken = session->token();
        handler(r, session ? session->userId() : QString());
    });
}

void ParseClient::signOut(QObject *context, std::function<void()> done)
{
    if (!m_holding || !m_session) {
        done();
        return;
    }
    m_holding = false;
    m_session->release(context, std::move(done));
}

void ParseClient::logIn(QObject *context, Handler handler)
{
    const QJsonObject body{{QStringLiteral("username"), m_settings.username},
                           {QStringLiteral("password"), m_settings.password}};
    QNetworkRequest req = request(QStringLiteral("/login"));
    req.setRawHeader("X-Parse-Revocable-Session", "1");
    m_rest.send("POST", req, compactJson(body), context, [handler, user = m_settings.username](ApiResult r) {
        if (r.serviceCode == 101) { // on /login: "Invalid username/password."
            r.error = Job::AuthenticationError;
            r.message = QStringLiteral("Parse refused the login of user '%1': wrong username or password").arg(user);
        }
        r.expectFields({"sessionToken", "objectId"});
        handler(r);
    });
}

void ParseClient::getMe(const QString &token, QObject *context, Handler handler)
{
    QNetworkRequest req = request(QStringLiteral("/users/me"));
    req.setRawHeader("X-Parse-Session-Token", token.toUtf8());
    m_rest.send("GET", req, {}, context, [handler](ApiResult r) {
        r.expectFields({"objectId"});
        handler(r);
    });
}

void ParseClient::logOut(const QString &token, QObject *context, Handler handler)
{
    QNetworkRequest req = request(QStringLiteral("/logout"));
    req.setRawHeader("X-Parse-Session-Token", token.toUtf8());
    req.setAttribute(RestClient::IdempotentAttribute, true); // a session ended twice is ended
    m_rest.send("POST", req, "{}", context, std::move(handler));
}

void ParseClient::send(const QByteArray &verb, const QNetworkRequest &req, const QByteArray &body, QObject *context,
                       Handler handler, RestClient::UploadProgress progress)
{
    if (m_auth == Auth::Master || !m_holding || !m_session || m_sessionToken.isEmpty()) {
        m_rest.send(verb, req, body, context, std::move(handler), std::move(progress));
        return;
    }
    const QString sent = m_sessionToken;
    m_rest.send(verb, req, body, context, [this, verb, req, body, context, handler, progress, sent](const ApiResult &r) {
        if (r.serviceCode != 209 || !m_session) {
            handler(r);
            return;
        }
        qCDebug(lcParse) << "the session was refused (209) on" << r.target << "- renewing it";
        m_session->renew(sent, context, [this, verb, req, body, context, handler, progress, r](const ApiResult &renewed) {
            if (!renewed.ok() || !m_session) {
                handler(r);
                return;
            }
            m_sessionToken = m_session->token();
            QNetworkRequest again = req;
            again.setRawHeader("X-Parse-Session-Token", m_sessionToken.toUtf8());
            m_rest.send(verb, again, body, context, handler, progress);
        });
    }, progress);
}

void ParseClient::uploadFile(const QString &name, const QByteArray &data, const QByteArray &contentType,
                             QObject *context, Handler handler, RestClient::UploadProgress progress)
{
    QNetworkRequest req = request(QStringLiteral("/files/") + name);
    req.setHeader(QNetworkRequest::ContentTypeHeader, contentType);
    // Sent again after an unknown outcome, an upload leaves at worst a file
    // nothing points to, which membatch gc removes.
    req.setAttribute(RestClient::IdempotentAttribute, true);
    qCDebug(lcParse) << "uploading" << name << data.size() << "bytes";
    send("POST", req, data, context, std::move(handler), std::move(progress));
}

void ParseClient::createObject(const QString &className, const QJsonObject &fields, QObject *context, Handler handler)
{
    QNetworkRequest req = request(QStringLiteral("/classes/") + className);
    // With its own objectId, a create sent twice is refused the second time
    // (code 137, which its caller reads): safe to retry.
    if (fields.contains(QLatin1String("objectId")))
        req.setAttribute(RestClient::IdempotentAttribute, true);
    send("POST", req, compactJson(fields), context, std::move(handler));
}

void ParseClient::updateObject(const QString &className, const QString &objectId, const QJsonObject &fields,
                               QObject *context, Handler handler)
{
    send("PUT", request(QStringLiteral("/classes/%1/%2").arg(className, objectId)), compactJson(fields), context,
                std::move(handler));
}

void ParseClient::getObject(const QString &className, const QString &objectId, QObject *context, Handler handler)
{
    send("GET", request(QStringLiteral("/classes/%1/%2").arg(className, objectId)), {}, context,
                std::move(handler));
}

void ParseClient::find(const QString &className, const QJsonObject &where, QObject *context, Handler handler,
                       int limit, const QString &order)
{
    QJsonObject params{{QStringLiteral("where"), where}, {QStringLiteral("limit"), limit}};
    if (!order.isEmpty())
        params.insert(QStringLiteral("order"), order);
    query(className, params, context, std::move(handler));
}

void ParseClient::query(const QString &className, const QJsonObject &params, QObject *context, Handler handler)
{
    const QString path = QStringLiteral("/classes/") + className;
    QUrlQuery urlQuery;
    for (auto it = params.begin(); it != params.end(); ++it) {
        const QJsonValue v = it.value();
        urlQuery.addQueryItem(it.key(), v.isObject() ? QString::fromUtf8(compactJson(v.toObject()))
                                 : v.isDouble()      ? QString::number(v.toInteger())
                                                     : v.toString());
    }
    QNetworkRequest req = request(path, urlQuery);
    if (req.url().toEncoded().size() <= MaxGetUrlBytes) {
        send("GET", req, {}, context, std::move(handler));
        return;
    }
    // Node refuses a request line over 16 KiB (431), and proxies less: a
    // where of a few hundred ids goes in a POST body that Parse reads as a
    // GET. It is still a read, safe to send again.
    req = request(path);
    req.setAttribute(RestClient::IdempotentAttribute, true);
    QJsonObject body = params;
    body.insert(QStringLiteral("_method"), QStringLiteral("GET"));
    qCDebug(lcParse) << "query of" << className << "sent as a POST: its URL would be" << req.url().toEncoded().size() << "+ bytes";
    send("POST", req, compactJson(body), context, std::move(handler));
}

void ParseClient::batch(const QByteArrayList &requests, QObject *context, Handler handler)
{
    send("POST", request(QStringLiteral("/batch")), "{\"requests\":[" + requests.join(',') + "]}", context,
                std::move(handler));
}

QNetworkReply *ParseClient::download(const QUrl &url, QObject *context, Handler handler)
{
    QNetworkRequest req(url);
    // Keep gzip bytes as stored: no transparent inflate by Qt.
    req.setRawHeader("Accept-Encoding", "identity");
    req.setAttribute(RestClient::NoRetryAttribute, true); // read as it comes: its reader retries
    return m_rest.send("GET", req, {}, context, std::move(handler));
}

bool ParseClient::isFileUrl(const QUrl &url) const
{
    const QUrl files = appendPath(m_settings.parseUrl, QStringLiteral("/files/"));
    const QUrl normalised = url.adjusted(QUrl::NormalizePathSegments); // no "/files/../"
    return url.isValid() && normalised.scheme() == files.scheme() && normalised.host() == files.host()
        && normalised.port(-1) == files.port(-1) && normalised.path().startsWith(files.path())
        && normalised.path() == url.path();
}

QString ParseClient::batchPath(const QString &relative) const
{
    return appendPath(m_settings.parseUrl, QLatin1Char('/') + relative).path();
}

QJsonObject ParseClient::pointer(const QString &className, const QString &objectId)
{
    return {{QStringLiteral("__type"), QStringLiteral("Pointer")},
            {QStringLiteral("className"), className},
            {QStringLiteral("objectId"), objectId}};
}

QJsonObject ParseClient::date(const QDateTime &time)
{
    return {{QStringLiteral("__type"), QStringLiteral("Date")},
            {QStringLiteral("iso"), time.toUTC().toString(Qt::ISODateWithMs)}};
}

QDateTime ParseClient::dateFrom(const QJsonValue &value)
{
    const QString iso = value.isObject() ? value.toObject().value(QStringLiteral("iso")).toString() : value.toString();
    return QDateTime::fromString(iso, Qt::ISODateWithMs);
}

void ParseClient::findKeys(const QString &className, const QJsonObject &where, const QStringList &keys,
                           QObject *context, Handler handler, int limit, const QString &order)
{
    QJsonObject params{{QStringLiteral("where"), where}, {QStringLiteral("limit"), limit}};
    if (!keys.isEmpty())
        params.insert(QStringLiteral("keys"), keys.join(QLatin1Char(',')));
    if (!order.isEmpty())
        params.insert(QStringLiteral("order"), order);
    query(className, params, context, std::move(handler));
}

void ParseClient::count(const QString &className, const QJsonObject &where, QObject *context, Handler handler)
{
    query(className, {{QStringLiteral("where"), where}, {QStringLiteral("count"), 1}, {QStringLiteral("limit"), 0}}, context,
          std::move(handler));
}

void ParseClient::deleteObject(const QString &className, const QString &objectId, QObject *context, Handler handler)
{
    send("DELETE", request(QStringLiteral("/classes/%1/%2").arg(className, objectId)), {}, context,
                std::move(handler));
}

bool ParseClient::isFileName(const QString &name)
{
    static const QRegularExpression plain(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9@.~_-]{0,255}$"));
    return plain.match(name).hasMatch() && !name.contains(QLatin1String(".."));
}

void ParseClient::deleteFile(const QString &name, QObject *context, Handler handler)
{
    if (!isFileName(name)) {
        // "../users/X" would be DELETE /parse/users/X with the master key.
        ApiResult refused;
        refused.service = QStringLiteral("Parse");
        refused.error = Job::InvalidInputError;
        refused.message = QStringLiteral("'%1' is not a file name Parse Server gives: not deleted").arg(name.left(80));
        QMetaObject::invokeMethod(context, [handler = std::move(handler), refused] { handler(refused); }, Qt::QueuedConnection);
        return;
    }
    qCDebug(lcParse) << "deleting file" << name;
    send("DELETE", request(QStringLiteral("/files/") + name), {}, context, std::move(handler));
}

void ParseClient::changeSchema(const QByteArray &verb, const QString &className, const QJsonObject &body, QObject *context,
                               Handler handler)
{
    send(verb, request(QStringLiteral("/schemas/") + className), compactJson(body), context, std::move(handler));
}

void ParseClient::schemas(QObject *context, Handler handler)
{
    send("GET", request(QStringLiteral("/schemas")), {}, context, std::move(handler));
}

} // namespace membatch
