#pragma once

#include "temporalclient.h"

#include <QString>

#include <functional>
#include <memory>

namespace membatch {

// Long-polls Temporal's gRPC frontend for activity tasks
// (WorkflowService.PollActivityTaskQueue): the one worker call that has no
// HTTP route. Asynchronous: gRPC completes the call on its own thread and
// the handler runs on the context's thread. Destroying the context (or
// cancelAll) cancels its polls, and their handlers never run.
class ActivityTaskPoller
{
public:
    explicit ActivityTaskPoller(const ConnectionSettings &settings);
    ~ActivityTaskPoller();
    ActivityTaskPoller(const ActivityTaskPoller &) = delete;
    ActivityTaskPoller &operator=(const ActivityTaskPoller &) = delete;

    using Handler = std::function<void(const ApiResult &, const ActivityTask &)>;

    // One long poll of the settings' namespace and task queue. A poll that
    // ends with nothing to do gives an ok result and an empty task.
    void poll(const QString &identity, QObject *context, Handler handler);

    // Cancels every poll that context owns; their handlers never run.
    static void cancelAll(QObject *context);

    // Longer than a server's long poll (about a minute): a poll the server
    // holds longer than this is treated as an empty one.
    static constexpr int PollDeadlineMs = 70000;

private:
    struct Connection; // the gRPC channel and stub, made on the first poll
    ConnectionSettings m_settings;
    std::unique_ptr<Connection> m_connection;
};

} // namespace membatch
