#pragma once

// A tiny in-process stand-in for Temporal's gRPC frontend, for unit tests:
// it serves WorkflowService.PollActivityTaskQueue (the one method the worker
// calls over gRPC) on loopback, hands out queued tasks in order, and long-
// polls like the real server when there is nothing to hand out, only for a
// short time so that tests stay fast. Every poll is recorded, with how many
// were in flight at once and how many the client cancelled, so tests can
// check what the worker asked for and when it let go.
//
// The handler uses gRPC's synchronous API and so runs on gRPC's own threads,
// never on the test's (Qt) thread: all shared state is behind one mutex, and
// a condition variable wakes held polls when a task is queued or the server
// stops. Nothing here touches a QObject, so it needs no event loop: tests wait
// for it with QTRY_* while the worker's event loop runs.
#include <grpcpp/grpcpp.h>
#include <temporal/api/workflowservice/v1/service.grpc.pb.h>

#include <QString>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

class FakeGrpcServer final : public temporal::api::workflowservice::v1::WorkflowService::Service
{
    using Lock = std::lock_guard<std::mutex>;

public:
    using PollRequest = temporal::api::workflowservice::v1::PollActivityTaskQueueRequest;
    using PollResponse = temporal::api::workflowservice::v1::PollActivityTaskQueueResponse;

    // What one poll asked for.
    struct Poll
    {
        QString ns;
        QString taskQueue;
        QString identity;
    };

    // How long a poll waits for a task before it answers "nothing to do"; the
    // real server holds it about a minute. Tests that need polls to stay in
    // flight (to count or cancel them) raise it.
    static constexpr int DefaultHoldMs = 200;

    FakeGrpcServer() = default;
    ~FakeGrpcServer() override { stop(); }
    FakeGrpcServer(const FakeGrpcServer &) = delete;
    FakeGrpcServer &operator=(const FakeGrpcServer &) = delete;

    // Listens on 127.0.0.1: a port gRPC picks (0), or the given one, so that
    // a test can stop a server and start another where it was (a restart;
    // gRPC binds with SO_REUSEADDR, so the port is free again at once).
    bool start(int port = 0)
    {
        stop();
        {
            Lock lock(m_mutex);
            m_stopping = false;
        }
        grpc::ServerBuilder builder;
        int selected = 0;
        builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &selected);
        builder.RegisterService(this);
        m_server = builder.BuildAndStart();
        if (!m_server || selected == 0) {
            m_server.reset();
            return false;
        }
        m_port = selected;
        return true;
    }

    // Goes away like a server being shut down: held polls end at once with
    // UNAVAILABLE (what a client sees when a server goes), then the port is
    // closed. Returns once no handler runs any more. Records stay.
    void stop()
    {
        if (!m_server)
            return;
        {
            Lock lock(m_mutex);
            m_stopping = true;
        }
        m_wake.notify_all();
        // The deadline only bounds a handler that would not return; ours do.
        m_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
        m_server->Wait();
        m_server.reset();
    }

    int port() const { return m_port; }
    // host:port, as ConnectionSettings::temporalAddress takes it.
    QString address() const { return QStringLiteral("127.0.0.1:%1").arg(m_port); }

    void setHoldMs(int ms)
    {
        Lock lock(m_mutex);
        m_holdMs = ms;
    }

    // The answer to a later poll (first queued, first handed out); a poll
    // already held takes it at once, as with the real server.
    void queue(const PollResponse &task)
    {
        {
            Lock lock(m_mutex);
            m_tasks.push_back(task);
        }
        m_wake.notify_all();
    }

    // What the polls so far asked for, in arrival order.
    std::vector<Poll> polls() const { Lock lock(m_mutex); return m_polls; }
    int pollCount() const { Lock lock(m_mutex); return int(m_polls.size()); }
    // Polls being held now, and the most ever held at once.
    int inFlight() const { Lock lock(m_mutex); return m_inFlight; }
    int maxInFlight() const { Lock lock(m_mutex); return m_maxInFlight; }
    // Polls that ended because the client cancelled them.
    int cancelledPolls() const { Lock lock(m_mutex); return m_cancelled; }
    // Polls answered with nothing to do, and with a task; tasks still queued.
    int emptyAnswers() const { Lock lock(m_mutex); return m_empty; }
    int tasksHandedOut() const { Lock lock(m_mutex); return m_handedOut; }
    int tasksQueued() const { Lock lock(m_mutex); return int(m_tasks.size()); }

    // Blocks the calling thread (and so the test's event loop, on purpose)
    // until n tasks have been handed out: lets a test act between the
    // server's answer and the client's handling of it.
    bool waitForTasksHandedOut(int n, int timeoutMs)
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        return m_wake.wait_for(lock, std::chrono::milliseconds(timeoutMs), [this, n] { return m_handedOut >= n; });
    }

    grpc::Status PollActivityTaskQueue(grpc::ServerContext *context, const PollRequest *request,
                                       PollResponse *response) override
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_polls.push_back({QString::fromStdString(request->namespace_()),
                           QString::fromStdString(request->task_queue().name()),
                           QString::fromStdString(request->identity())});
        m_maxInFlight = std::max(m_maxInFlight, ++m_inFlight);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(m_holdMs);
        grpc::Status status = grpc::Status::OK;
        for (;;) {
            if (m_stopping) {
                status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake Temporal is shutting down");
                break;
            }
            // Before looking at the queue: a poll the client gave up on must
            // not swallow a task.
            if (context->IsCancelled()) {
                ++m_cancelled;
                status = grpc::Status::CANCELLED;
                break;
            }
            if (!m_tasks.empty()) {
                *response = m_tasks.front();
                m_tasks.pop_front();
                ++m_handedOut;
                m_wake.notify_all(); // for waitForTasksHandedOut()
                break;
            }
            const auto now = std::chrono::steady_clock::now();
            if (now >= deadline) {
                ++m_empty; // an empty response: the long poll ran out
                break;
            }
            // Cancellation has no notification in the sync API: look again
            // every few milliseconds.
            m_wake.wait_until(lock, std::min(deadline, now + std::chrono::milliseconds(5)));
        }
        --m_inFlight;
        return status;
    }

private:
    std::unique_ptr<grpc::Server> m_server; // used from the test's thread only
    int m_port = 0;

    mutable std::mutex m_mutex; // guards everything below
    std::condition_variable m_wake;
    bool m_stopping = false;
    int m_holdMs = DefaultHoldMs;
    std::deque<PollResponse> m_tasks;
    std::vector<Poll> m_polls;
    int m_inFlight = 0;
    int m_maxInFlight = 0;
    int m_cancelled = 0;
    int m_empty = 0;
    int m_handedOut = 0;
};
