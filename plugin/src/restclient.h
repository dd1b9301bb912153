#pragma once

#include <QByteArray>
#include <QUrl>
#include <QJsonObject>
#include <QNetworkRequest>
#include <QPointer>
#include <QString>

#include <functional>
#include <initializer_list>

class QNetworkAccessManager;
class QNetworkReply;
class QObject;

namespace membatch {

// The outcome of one HTTP exchange, classified: error is a Job::Error and
// message says what failed, where, and what the server said.
struct ApiResult
{
    QString service;         // "Parse", "Temporal"
    QString target;          // "POST http://host/parse/files/x" (no query)
    int httpStatus = 0;      // 0: no answer (network error)
    int networkError = 0;    // QNetworkReply::NetworkError
    QByteArray body;
    QJsonObject json;        // the body, if it is a JSON object
    int error = 0;           // Job::Error
    int serviceCode = 0;     // Parse's "code" or the gRPC status code
    QString message;
    QByteArray retryAfter;   // the Retry-After header, if any

    bool ok() const { return error == 0; }

    // Turns a success that lacks one of these JSON fields into a ServerError
    // saying so; returns ok() afterwards.
    bool expectFields(std::initializer_list<const char *> keys);
};

// Compact JSON bytes of an object.
QByteArray compactJson(const QJsonObject &json);

// base with path appended to its path ("/parse" + "/classes/X").
QUrl appendPath(const QUrl &base, const QString &path);

// "<role>@<host>:<pid>": who we are, in Temporal's identity fields.
QString processIdentity(const QString &role);

// One small JSON-over-HTTP client per service over the shared
// QNetworkAccessManager. Replies belong to the context object: when it is
// destroyed they are aborted and the handler never runs. Redirects are not
// followed unless a request asks for it: our requests carry keys, and a
// redirect would hand them to whatever host it names.
class RestClient
{
public:
    using Handler = std::function<void(const ApiResult &)>;
    using UploadProgress = std::function<void(qint64 sent, qint64 total)>;
    // Reads a service's error body into serviceCode and a readable text.
    using ErrorReader = std::function<void(ApiResult &result, QString *serverSays)>;

    RestClient(QNetworkAccessManager *nam, const QString &serviceName, ErrorReader readError);

    static constexpr int DefaultTimeoutMs = 30000;
    // An answer that piles up more than this unread is refused, whatever the
    // server (or something in its place) means by it: no call of ours needs
    // that much at once, and a stream's reader keeps what is unread small.
    static constexpr qint64 MaxUnreadAnswerBytes = 64 * 1024 * 1024;

    QNetworkReply *send(const QByteArray &verb, QNetworkRequest request, const QByteArray &body, QObject *context,
                        Handler handler, UploadProgress progress = {});

    // Aborts every reply owned by context without running its handler.
    static void abortAll(QObject *context);

private:
    QNetworkAccessManager *m_nam;
    QString m_service;
    ErrorReader m_readError;
};

} // namespace membatch
