#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QNetworkRequest>
#include <QPointer>
#include <QString>

#include <functional>

class QNetworkAccessManager;
class QNetworkReply;
class QObject;

namespace membatch {

// The outcome of one HTTP exchange, classified: error is a Job::Error and
// message says what failed, where, and what the server said.
struct ApiResult
{
    int httpStatus = 0;      // 0: no answer (network error)
    QByteArray body;
    QJsonObject json;        // the body, if it is a JSON object
    int error = 0;           // Job::Error
    int serviceCode = 0;     // Parse's "code" or the gRPC status code
    QString message;
    QByteArray retryAfter;   // the Retry-After header, if any

    bool ok() const { return error == 0; }
};

// One small JSON-over-HTTP client per service over the shared
// QNetworkAccessManager. Replies belong to the context object: when it is
// destroyed they are aborted and the handler never runs.
class RestClient
{
public:
    using Handler = std::function<void(const ApiResult &)>;
    using UploadProgress = std::function<void(qint64 sent, qint64 total)>;
    // Reads a service's error body into serviceCode and a readable text.
    using ErrorReader = std::function<void(ApiResult &result, QString *serverSays)>;

    RestClient(QNetworkAccessManager *nam, const QString &serviceName, ErrorReader readError);

    static constexpr int DefaultTimeoutMs = 30000;

    QNetworkReply *send(const QByteArray &verb, QNetworkRequest request, const QByteArray &body, QObject *context,
                        Handler handler, UploadProgress progress = {});

    // Aborts every reply owned by context without running its handler.
    static void abortAll(QObject *context);

    QNetworkAccessManager *manager() const { return m_nam; }

private:
    QNetworkAccessManager *m_nam;
    QString m_service;
    ErrorReader m_readError;
};

} // namespace membatch
