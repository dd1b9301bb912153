#pragma once

#include "apiresult.h"
#include "retrypolicy.h"

#include <QByteArray>
#include <QUrl>
#include <QJsonObject>
#include <QNetworkRequest>
#include <QPointer>
#include <QString>

#include <functional>
#include <memory>

class QNetworkAccessManager;
class QNetworkReply;
class QObject;

class QUrlQuery;

namespace membatch {

// Compact JSON bytes of an object.
QByteArray compactJson(const QJsonObject &json);

// base with path appended to its path ("/parse" + "/classes/X").
QUrl appendPath(const QUrl &base, const QString &path);

// Sets url's query from the items, every reserved character of a value
// percent-encoded: QUrlQuery leaves '+' as it is, and servers read a bare
// '+' in a query as a space (a where with "a+b" would look for "a b").
void setEncodedQuery(QUrl &url, const QUrlQuery &query);

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

    // A POST that is safe to send twice (a create with a fixed id, a start
    // with a request id): retried like a PUT when its outcome is unknown.
    static constexpr QNetworkRequest::Attribute IdempotentAttribute = QNetworkRequest::Attribute(QNetworkRequest::User + 1);
    // A call never retried here (a stream read as it comes: its reader has a
    // loop of its own).
    static constexpr QNetworkRequest::Attribute NoRetryAttribute = QNetworkRequest::Attribute(QNetworkRequest::User + 2);

    // Every call is retried by policy (RetryPolicy says what may be); the
    // handler gets the last answer. The reply returned is the first one.
    QNetworkReply *send(const QByteArray &verb, QNetworkRequest request, const QByteArray &body, QObject *context,
                        Handler handler, UploadProgress progress = {});

    void setRetryPolicy(const RetryPolicy &policy) { m_policy = policy; }
    const RetryPolicy &retryPolicy() const { return m_policy; }

    // Aborts every reply owned by context, and every retry it waits for,
    // without running their handlers.
    static void abortAll(QObject *context);

private:
    struct Call;
    static QNetworkReply *issue(const std::shared_ptr<Call> &call);

    QNetworkAccessManager *m_nam;
    QString m_service;
    ErrorReader m_readError;
    RetryPolicy m_policy;
};

} // namespace membatch
