#include "activitytaskpoller.h"

#include "logging.h"

#include <membatch/job.h>

#include <QCoreApplication>
#include <QJsonDocument>
#include <QMutex>
#include <QMutexLocker>

#include <grpcpp/grpcpp.h>
#include <temporal/api/workflowservice/v1/service.grpc.pb.h>

#include <chrono>

namespace membatch {

namespace wfs = temporal::api::workflowservice::v1;

namespace {

qint64 durationMs(const google::protobuf::Duration &d)
{
    return d.seconds() * 1000 + d.nanos() / 1000000;
}

// The JSON value of one payload, as Temporal's JSON converter writes it;
// false (and why) for an encoding this worker cannot read.
bool payloadValue(const temporal::api::common::v1::Payload &payload, QJsonValue *value, QString *why)
{
    const auto encoding = payload.metadata().find("encoding");
    const std::string enc = encoding == payload.metadata().end() ? std::string() : encoding->second;
    if (enc == "binary/null") {
        *value = QJsonValue::Null;
        return true;
    }
    if (enc != "json/plain") {
        *why = QStringLiteral("a payload with encoding '%1' (this worker reads json/plain)").arg(QString::fromStdString(enc));
        return false;
    }
    // Wrapped in an array, so that a bare string or number parses too.
    const QByteArray wrapped = '[' + QByteArray::fromStdString(payload.data()) + ']';
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(wrapped, &error);
    if (error.error != QJsonParseError::NoError || doc.array().size() != 1) {
        *why = QStringLiteral("a json/plain payload that is not JSON");
        return false;
    }
    *value = doc.array().first();
    return true;
}

ActivityTask taskFromResponse(const wfs::PollActivityTaskQueueResponse &r)
{
    ActivityTask task;
    task.taskToken = QByteArray::fromStdString(r.task_token()).toBase64();
    task.workflowId = QString::fromStdString(r.workflow_execution().workflow_id());
    task.runId = QString::fromStdString(r.workflow_execution().run_id());
    task.activityId = QString::fromStdString(r.activity_id());
    task.activityType = QString::fromStdString(r.activity_type().name());
    task.attempt = r.attempt();
    task.maximumAttempts = r.retry_policy().maximum_attempts();
    task.heartbeatTimeoutMs = durationMs(r.heartbeat_timeout());
    task.startToCloseTimeoutMs = durationMs(r.start_to_close_timeout());
    for (const auto &payload : r.input().payloads()) {
        QJsonValue value;
        if (!payloadValue(payload, &value, &task.inputError))
            break;
        task.input.append(value);
    }
    return task;
}

// What a failed poll means, as a Job error and a message that says where.
ApiResult resultFromStatus(const grpc::Status &status, const QString &address)
{
    ApiResult r;
    r.service = QStringLiteral("Temporal");
    r.target = QStringLiteral("gRPC PollActivityTaskQueue at %1").arg(address);
    r.serviceCode = status.error_code();
    const QString says = QString::fromStdString(status.error_message());
    switch (status.error_code()) {
    case grpc::StatusCode::OK:
        return r;
    case grpc::StatusCode::UNAVAILABLE:
        r.error = Job::NetworkError;
        if (says.contains(QLatin1String("http1.x")))
            r.message = QStringLiteral("%1 answers in HTTP/1, not gRPC: MEMBATCH_TEMPORAL_ADDRESS must be Temporal's gRPC "
                                       "frontend (7233 by default), not its HTTP API")
                            .arg(address);
        else
            r.message = QStringLiteral("cannot reach Temporal's gRPC frontend at %1 (%2)").arg(address, says);
        return r;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
        r.error = Job::AuthenticationError;
        break;
    case grpc::StatusCode::NOT_FOUND:
        r.error = Job::NotFoundError;
        break;
    case grpc::StatusCode::INVALID_ARGUMENT:
        r.error = Job::ConfigurationError;
        break;
    case grpc::StatusCode::UNIMPLEMENTED:
        r.error = Job::ConfigurationError;
        r.message = QStringLiteral("%1 does not serve Temporal's WorkflowService over gRPC (%2)").arg(address, says);
        return r;
    default:
        r.error = Job::ServerError;
        break;
    }
    r.message = QStringLiteral("Temporal at %1 refused the poll: %2 (gRPC code %3)").arg(address, says).arg(status.error_code());
    return r;
}

// One poll in flight. gRPC owns it through the completion callback; the
// guard, a child of the caller's context, is how the callback finds its way
// back to the context's thread, and its destruction cancels the call.
struct PollCall
{
    grpc::ClientContext context;
    wfs::PollActivityTaskQueueRequest request;
    wfs::PollActivityTaskQueueResponse response;
    QMutex mutex;
    QObject *guard = nullptr; // under mutex: null once the guard is gone
};

} // namespace

class PollGuard : public QObject
{
    Q_OBJECT
public:
    PollGuard(std::shared_ptr<PollCall> call, QObject *parent)
        : QObject(parent)
        , m_call(std::move(call))
    {
        m_call->guard = this;
    }
    ~PollGuard() override
    {
        bool pending;
        {
            QMutexLocker lock(&m_call->mutex);
            pending = m_call->guard != nullptr;
            m_call->guard = nullptr;
        }
        if (pending)
            m_call->context.TryCancel(); // the callback still runs, on gRPC's thread, and finds no guard
    }

private:
    std::shared_ptr<PollCall> m_call;
};

struct ActivityTaskPoller::Connection
{
    explicit Connection(std::shared_ptr<grpc::Channel> c)
        : channel(std::move(c))
        , stub(channel)
    {
    }
    std::shared_ptr<grpc::Channel> channel;
    wfs::WorkflowService::Stub stub;
};

ActivityTaskPoller::ActivityTaskPoller(const ConnectionSettings &settings)
    : m_settings(settings)
{
}

ActivityTaskPoller::~ActivityTaskPoller() = default;

void ActivityTaskPoller::poll(const QString &identity, QObject *context, Handler handler)
{
    if (!m_connection) {
        grpc::ChannelArguments args;
        // Back on its feet within seconds of a server restart, not minutes.
        args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
        args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
        args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
        // A task's input is two ids; anything near the gRPC default is not ours.
        args.SetMaxReceiveMessageSize(4 * 1024 * 1024);
        m_connection = std::make_unique<Connection>(grpc::CreateCustomChannel(
            m_settings.temporalAddress.toStdString(), grpc::InsecureChannelCredentials(), args));
    }
    auto call = std::make_shared<PollCall>();
    call->request.set_namespace_(m_settings.temporalNamespace.toStdString());
    call->request.mutable_task_queue()->set_name(m_settings.taskQueue.toStdString());
    call->request.mutable_task_queue()->set_kind(temporal::api::enums::v1::TASK_QUEUE_KIND_NORMAL);
    call->request.set_identity(identity.toStdString());
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(PollDeadlineMs));
    new PollGuard(call, context); // owned by context

    const QString address = m_settings.temporalAddress;
    qCDebug(lcTemporal) << "polling" << m_settings.taskQueue << "at" << address;
    m_connection->stub.async()->PollActivityTaskQueue(
        &call->context, &call->request, &call->response,
        [call, handler = std::move(handler), address](grpc::Status status) mutable {
            // gRPC's thread. Everything the call holds (its context keeps a
            // reference to the channel) must be let go on a Qt thread: were
            // the channel's last reference dropped here, gRPC would shut its
            // callback queue down from one of that queue's own threads and
            // crash later. So the call moves into a functor posted to the
            // guard's thread, or, if the guard is gone, to the application.
            QMutexLocker lock(&call->mutex);
            const bool deliver = call->guard != nullptr;
            QObject *target = deliver ? call->guard : QCoreApplication::instance();
            if (!target) { // no event loop left to hand it to: keep it rather than tear gRPC down here
                new std::shared_ptr<PollCall>(std::move(call));
                return;
            }
            QMetaObject::invokeMethod(
                target,
                [call = std::move(call), handler = std::move(handler), address, status, deliver] {
                    // The poster holds the mutex until it has posted: wait
                    // for that before the call can go. Runs on the guard
                    // only while it lives (Qt drops events to deleted
                    // objects), so the guard is there to let go of.
                    {
                        QMutexLocker posted(&call->mutex);
                        if (!deliver)
                            return;
                        if (call->guard)
                            call->guard->deleteLater();
                        call->guard = nullptr;
                    }
                    ApiResult r;
                    ActivityTask task;
                    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
                        r = resultFromStatus(grpc::Status::OK, address); // held past our deadline: nothing to do
                    } else {
                        r = resultFromStatus(status, address);
                        if (status.ok())
                            task = taskFromResponse(call->response);
                    }
                    handler(r, task);
                },
                Qt::QueuedConnection);
        });
}

void ActivityTaskPoller::cancelAll(QObject *context)
{
    qDeleteAll(context->findChildren<PollGuard *>(QString(), Qt::FindDirectChildrenOnly));
}

} // namespace membatch

#include "activitytaskpoller.moc"
