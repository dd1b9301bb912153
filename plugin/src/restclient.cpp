#include "restclient.h"

#include <membatch/job.h>

#include "logging.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QPointer>
#include <QRandomGenerator>
#include <QTimer>
#include <QUrlQuery>
#include <QJsonDocument>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QSysInfo>

#ifdef Q_OS_LINUX
#include <QDir>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif

namespace membatch {

namespace {

// What to show of a URL in a message: no query (it may hold search terms),
// never credentials (we send none in URLs, but a user-given URL might).
QString where(const QUrl &url)
{
    return url.toDisplayString(QUrl::RemoveQuery | QUrl::RemoveUserInfo | QUrl::RemoveFragment);
}

int classifyHttpStatus(int status)
{
    if (status == 401 || status == 403)
        return Job::AuthenticationError;
    if (status == 404)
        return Job::NotFoundError;
    return Job::ServerError;
}

// Qt's HTTP/1 connections leave Nagle's algorithm on (qhttpnetworkconnectionchannel
// sets only SO_KEEPALIVE), and they write a request in 16 KiB pieces: every
// piece after the first waits for the server's delayed ACK, 40 ms on Linux,
// so a /batch call of 100 memories took 73 ms instead of 27. Qt offers no
// option for its sockets, so when one of them starts connecting, every TCP
// socket of this process that has Nagle on gets TCP_NODELAY, as curl,
// browsers and gRPC set it. Elsewhere this does nothing.
void lowDelayForNewConnections()
{
#ifdef Q_OS_LINUX
    const QStringList fds = QDir(QStringLiteral("/proc/self/fd")).entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::System);
    for (const QString &name : fds) {
        bool isNumber = false;
        const int fd = name.toInt(&isNumber);
        int type = 0;
        int domain = 0;
        int noDelay = 0;
        socklen_t size = sizeof(int);
        if (!isNumber || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 || type != SOCK_STREAM)
            continue;
        size = sizeof(int);
        if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0 || (domain != AF_INET && domain != AF_INET6))
            continue;
        size = sizeof(int);
        if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &noDelay, &size) == 0 && !noDelay) {
            const int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        }
    }
#endif
}

} // namespace

bool ApiResult::expectFields(std::initializer_list<const char *> keys)
{
    if (!ok())
        return false;
    for (const char *key : keys) {
        if (json.value(QLatin1String(key)).toString().isEmpty()) {
            error = Job::ServerError;
            message = QStringLiteral("%1 answered %2 to %3 without '%4'")
                          .arg(service)
                          .arg(httpStatus)
                          .arg(target, QLatin1String(key));
            return false;
        }
    }
    return true;
}

QByteArray compactJson(const QJsonObject &json)
{
    return QJsonDocument(json).toJson(QJsonDocument::Compact);
}

QUrl appendPath(const QUrl &base, const QString &path)
{
    QUrl url = base;
    QString joined = url.path();
    if (joined.endsWith(QLatin1Char('/')))
        joined.chop(1);
    url.setPath(joined + path, QUrl::TolerantMode);
    return url;
}

void setEncodedQuery(QUrl &url, const QUrlQuery &query)
{
    // QUrl keeps "%2B" apart from "+" (a sub-delimiter), so this survives.
    QString encoded = query.toString(QUrl::FullyEncoded);
    encoded.replace(QLatin1Char('+'), QLatin1String("%2B"));
    url.setQuery(encoded, QUrl::StrictMode);
}

QString processIdentity(const QString &role)
{
    return QStringLiteral("%1@%2:%3").arg(role, QSysInfo::machineHostName()).arg(QCoreApplication::applicationPid());
}

RestClient::RestClient(QNetworkAccessManager *nam, const QString &serviceName, ErrorReader readError)
    : m_nam(nam)
    , m_service(serviceName)
    , m_readError(std::move(readError))
{
}

// One call, over its attempts.
struct RestClient::Call
{
    QByteArray verb;
    QNetworkRequest request;
    QByteArray body;
    QPointer<QObject> context;
    Handler handler;
    UploadProgress progress;
    bool idempotent = false;
    // Copies: a retry may outlive the client that began the call.
    QNetworkAccessManager *nam = nullptr;
    QString service;
    ErrorReader readError;
    RetryPolicy policy;
    int failures = 0;
    QElapsedTimer failingSince;
    QElapsedTimer attemptTime; // since this attempt was issued
};

namespace {

constexpr char kRetryTimerName[] = "membatch.retry";

ApiResult resultOf(QNetworkReply *reply, const QByteArray &verb, const QString &service, const RestClient::ErrorReader &readError)
{
    ApiResult r;
    r.service = service;
    r.target = QStringLiteral("%1 %2").arg(QString::fromLatin1(verb), where(reply->request().url()));
    r.httpStatus = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    if (reply->property("membatch.tooLarge").toBool()) {
        r.error = Job::ServerError;
        r.message = QStringLiteral("%1's answer to %2 is larger than %3 MiB: refused")
                        .arg(service, r.target).arg(RestClient::MaxUnreadAnswerBytes >> 20);
        return r;
    }
    r.networkError = reply->error();
    r.body = reply->isOpen() ? reply->readAll() : QByteArray(); // closed: aborted by its reader
    r.retryAfter = reply->rawHeader("Retry-After");
    const QJsonDocument doc = QJsonDocument::fromJson(r.body);
    if (doc.isObject())
        r.json = doc.object();
    const bool success = r.httpStatus >= 200 && r.httpStatus <= 299;
    const bool timedOut = reply->error() == QNetworkReply::OperationCanceledError;

    if (r.httpStatus == 0 || (success && reply->error() != QNetworkReply::NoError)) {
        // No answer, or a success whose body was cut off: either way
        // nothing trustworthy arrived.
        r.error = Job::NetworkError;
        if (timedOut)
            r.message = QStringLiteral("%1 did not answer %2 within %3 s")
                            .arg(service, r.target)
                            .arg(reply->request().transferTimeout() / 1000);
        else if (r.httpStatus)
            r.message = QStringLiteral("%1's answer to %2 was cut off: %3").arg(service, r.target, reply->errorString());
        else
            r.message = QStringLiteral("cannot reach %1 (%2): %3").arg(service, r.target, reply->errorString());
    } else if (!success) {
        r.error = classifyHttpStatus(r.httpStatus);
        QString says;
        readError(r, &says);
        if (says.isEmpty())
            says = QString::fromUtf8(r.body.left(200)).simplified();
        r.message = QStringLiteral("%1 answered %2 to %3: %4").arg(service).arg(r.httpStatus).arg(r.target, says);
    }
    return r;
}

} // namespace

QNetworkReply *RestClient::send(const QByteArray &verb, QNetworkRequest request, const QByteArray &body,
                                QObject *context, Handler handler, UploadProgress progress)
{
    if (request.transferTimeout() == 0)
        request.setTransferTimeout(DefaultTimeoutMs);
    if (!request.attribute(QNetworkRequest::RedirectPolicyAttribute).isValid())
        request.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    auto call = std::make_shared<Call>();
    call->verb = verb;
    call->request = request;
    call->body = body;
    call->context = context;
    call->handler = std::move(handler);
    call->progress = std::move(progress);
    call->idempotent = verb == "GET" || verb == "PUT" || verb == "DELETE" || verb == "HEAD"
        || request.attribute(IdempotentAttribute).toBool();
    call->nam = m_nam;
    call->service = m_service;
    call->readError = m_readError;
    call->policy = request.attribute(NoRetryAttribute).toBool() ? RetryPolicy::none() : m_policy;
    return issue(call);
}

QNetworkReply *RestClient::issue(const std::shared_ptr<Call> &call)
{
    QObject *context = call->context;
    const QNetworkRequest &request = call->request;
    QNetworkReply *reply = call->body.isNull() && call->verb == "GET" ? call->nam->get(request)
                                                                      : call->nam->sendCustomRequest(request, call->verb, call->body);
    reply->setParent(context); // dies, and aborts, with its owner
    call->attemptTime.start();
    QObject::connect(reply, &QNetworkReply::socketStartedConnecting, reply, &lowDelayForNewConnections);
    if (call->progress)
        QObject::connect(reply, &QNetworkReply::uploadProgress, context, call->progress);

    QObject::connect(reply, &QNetworkReply::readyRead, reply, [reply] {
        if (reply->bytesAvailable() > MaxUnreadAnswerBytes) {
            reply->setProperty("membatch.tooLarge", true);
            reply->abort();
        }
    });

    QObject::connect(reply, &QNetworkReply::finished, context, [reply, call] {
        reply->deleteLater();
        const ApiResult r = resultOf(reply, call->verb, call->service, call->readError);
        qCDebug(lcHttp).noquote() << r.target << r.httpStatus << "in" << call->attemptTime.elapsed() << "ms,"
                                  << call->body.size() << "bytes sent," << r.body.size() << "received";
        const RetryPolicy &policy = call->policy;
        if (!r.ok()) {
            if (call->failures++ == 0)
                call->failingSince.start();
            const qint64 delay = policy.delayMs(r, call->idempotent, call->failures, call->failingSince.elapsed(),
                                                QRandomGenerator::global()->generateDouble());
            if (delay >= 0 && call->context) {
                qCInfo(lcRetry) << "again in" << delay << "ms (attempt" << call->failures + 1 << "of" << policy.maxAttempts
                                << "):" << r.message;
                // A child of the context, so that abortAll() (and the
                // context's end) cancels the retry with the replies.
                auto *timer = new QTimer(call->context);
                timer->setObjectName(QLatin1String(kRetryTimerName));
                timer->setSingleShot(true);
                QObject::connect(timer, &QTimer::timeout, timer, [timer, call] {
                    timer->deleteLater();
                    if (call->context)
                        issue(call);
                });
                timer->start(int(delay));
                return;
            }
        }
        call->handler(r);
    });
    return reply;
}

void RestClient::abortAll(QObject *context)
{
    const auto timers = context->findChildren<QTimer *>(QLatin1String(kRetryTimerName), Qt::FindDirectChildrenOnly);
    for (QTimer *timer : timers)
        delete timer;
    const auto replies = context->findChildren<QNetworkReply *>(Qt::FindDirectChildrenOnly);
    for (QNetworkReply *reply : replies) {
        QObject::disconnect(reply, nullptr, context, nullptr);
        reply->abort();
        reply->deleteLater();
    }
}

} // namespace membatch
