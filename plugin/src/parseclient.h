#pragma once

#include "restclient.h"

#include <membatch/connectionsettings.h>

#include <QJsonArray>
#include <QJsonObject>
#include <QUrl>
#include <QUrlQuery>

namespace membatch {

class ParseSession;

// Parse Server's REST API: login, files, objects, queries and /batch.
// Requests carry the session token when there is one, else the master key.
class ParseClient
{
public:
    enum class Auth { Session, Master };

    ParseClient(QNetworkAccessManager *nam, const ConnectionSettings &settings, Auth auth);
    ~ParseClient();
    ParseClient(const ParseClient &) = delete;
    ParseClient &operator=(const ParseClient &) = delete;
    // A client acts as its user when it has one, else with the master key.
    static Auth clientAuth(const ConnectionSettings &settings);

    using Handler = RestClient::Handler;
    // How failed calls are retried (RetryPolicy's defaults unless set).
    void setRetryPolicy(const RetryPolicy &policy) { m_rest.setRetryPolicy(policy); }

    // The session signIn() takes a hold on (the plugin's shared one), before
    // signIn(). Without one, signIn() opens a session of this client's own,
    // ended by signOut().
    void setSession(ParseSession *session);
    // The session signIn() holds (for a sub-job to hold too: no sign-in of its own).
    ParseSession *session() const;
    // Establishes who we are: with the master key, nobody (userId empty);
    // else context holds the session (ParseSession: a login with the
    // username and password, or the session token given, checked with GET
    // /users/me) until signOut(). A request Parse answers 209 (invalid
    // session token) is sent again once on a renewed session.
    void signIn(QObject *context, std::function<void(const ApiResult &, const QString &userId)> handler);
    QString sessionToken() const { return m_sessionToken; }
    // Lets go of the session signIn() held; done runs when nothing of it is
    // left in flight (the last holder's session is logged out first). A
    // session token given in the settings is never logged out.
    void signOut(QObject *context, std::function<void()> done);

    // What ParseSession sends. POST /login with the username and password
    // (101 "wrong password" is an AuthenticationError); the answer has
    // sessionToken and objectId.
    void logIn(QObject *context, Handler handler);
    // GET /users/me, POST /logout with this token.
    void getMe(const QString &token, QObject *context, Handler handler);
    void logOut(const QString &token, QObject *context, Handler handler);
    // POST /files/NAME with raw bytes; the answer carries name and url.
    void uploadFile(const QString &name, const QByteArray &data, const QByteArray &contentType, QObject *context,
                    Handler handler, RestClient::UploadProgress progress = {});
    void createObject(const QString &className, const QJsonObject &fields, QObject *context, Handler handler);
    void updateObject(const QString &className, const QString &objectId, const QJsonObject &fields, QObject *context,
                      Handler handler);
    void getObject(const QString &className, const QString &objectId, QObject *context, Handler handler);
    // GET /classes/CLASS?where=...; answer {"results":[...]}. A where too
    // long for a URL (over MaxGetUrlBytes) is a POST with "_method":"GET".
    void find(const QString &className, const QJsonObject &where, QObject *context, Handler handler,
              int limit = 100, const QString &order = QStringLiteral("createdAt,objectId"));
    // POST /batch; requests are {"method","path","body"} with path relative
    // to the mount ("classes/Memory"): the mount is prefixed here.
    // Each request is compact JSON text.
    void batch(const QByteArrayList &requests, QObject *context, Handler handler);
    // GET a file's url, raw: no Parse headers, no transparent gunzip, no
    // redirect followed. The reply can be read as it comes (readyRead);
    // handler gets what is left unread when it ends.
    QNetworkReply *download(const QUrl &url, QObject *context, Handler handler);

    // A file url of this Parse Server (under <server>/files/, no way out of
    // it): the only kind a batch's files may have, so nobody can send the
    // worker, or a client, to fetch from another host.
    bool isFileUrl(const QUrl &url) const;
    // A file name as Parse Server gives them: one path segment, no "..".
    static bool isFileName(const QString &name);

    // The path of a class endpoint as /batch wants it ("/parse/classes/Memory").
    QString batchPath(const QString &relative) const;

    static QJsonObject pointer(const QString &className, const QString &objectId);
    static QJsonObject date(const QDateTime &time);
    static QDateTime dateFrom(const QJsonValue &value);

    // GET /classes/CLASS with only these keys in each result (objectId,
    // createdAt and updatedAt always come too); order empty: Parse's own.
    void findKeys(const QString &className, const QJsonObject &where, const QStringList &keys, QObject *context,
                  Handler handler, int limit = 100, const QString &order = QStringLiteral("createdAt,objectId"));
    // How many objects match where; answer {"results":[],"count":N}. Give a
    // where: without one, Postgres answers the planner's estimate.
    void count(const QString &className, const QJsonObject &where, QObject *context, Handler handler);
    void deleteObject(const QString &className, const QString &objectId, QObject *context, Handler handler);
    // DELETE /files/NAME: the master key only. A file that is not there is
    // an error, whose shape depends on the files adapter (FileSystemAdapter:
    // 400 code 153, "ENOENT..."): look at the file's url to tell.
    void deleteFile(const QString &name, QObject *context, Handler handler);
    // GET /schemas (the master key only): {"results":[{className, fields}]}.
    void schemas(QObject *context, Handler handler);
    // POST (a new class) or PUT (more of an existing one) /schemas/CLASS.
    void changeSchema(const QByteArray &verb, const QString &className, const QJsonObject &body, QObject *context, Handler handler);

    // The longest URL a query is sent in; servers refuse from 8 to 16 KiB.
    static constexpr int MaxGetUrlBytes = 6 * 1024;

private:
    // A find: params (where, limit, order, keys, count) in the URL, or in
    // a POST body when the URL would be too long.
    void query(const QString &className, const QJsonObject &params, QObject *context, Handler handler);
    QNetworkRequest request(const QString &path, const QUrlQuery &query = {}) const;
    // m_rest.send, but a 209 on a session we hold renews it and sends again once.
    void send(const QByteArray &verb, const QNetworkRequest &request, const QByteArray &body, QObject *context,
              Handler handler, RestClient::UploadProgress progress = {});

    QNetworkAccessManager *m_nam;
    RestClient m_rest;
    ConnectionSettings m_settings;
    Auth m_auth;
    QString m_sessionToken;
    QPointer<ParseSession> m_session;
    std::unique_ptr<ParseSession> m_ownSession;
    bool m_holding = false;
};

} // namespace membatch
