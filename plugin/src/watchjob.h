#pragma once

#include "clientjob.h"

#include <membatch/batchoptions.h>

#include <QTimer>

namespace membatch {

// Follows one batch: polls its BatchMemoryRequest in Parse and its workflow
// in Temporal until the batch ends, emitting progress on every change.
// With options.once it reports the current state and finishes.
class WatchJob : public ClientJob
{
    Q_OBJECT
public:
    WatchJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
             const WatchOptions &options, QObject *parent = nullptr);

    // A watch job on a session another job signed in (no login of its own),
    // owned by parent and not deleted on its result.
    static WatchJob *onSession(QNetworkAccessManager *nam, ConnectionSettings settings, const QString &sessionToken,
                               const QString &batchId, const WatchOptions &options, QObject *parent);

protected:
    void signedIn() override { poll(); }
    QString purpose() const override { return tr("look at"); }
    bool doKill() override;

private:
    void poll();
    void readRequest(const ApiResult &r);
    void lookAtChunks();
    void readWorkflow(const ApiResult &r, const WorkflowState &state);
    void update();
    // Sets the outcome's error, if any, then finishes.
    void end();
    // A failed look (retried already, for up to five minutes, by the
    // clients' policy): the watch ends with it.
    void lookFailed(const ApiResult &r, const QString &what);

    WatchOptions m_options;
    QTimer m_timer;
    BatchStatus m_status;
    int m_completedLooks = 0;
    bool m_followLatestRun = false;
};

} // namespace membatch
