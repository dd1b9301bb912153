#pragma once

#include <membatch/batchoptions.h>
#include <membatch/connectionsettings.h>
#include <membatch/job.h>

#include <QPointer>

class QNetworkAccessManager;

namespace membatch {

class ParseMonitorJob;
class ParseSession;

// Follows one batch until it ends (or, with options.once, reports it once):
// a ParseMonitorJob of that one batch, so it gets push with catch-up, the
// request merged with its workflow, timing and stalled like a monitor of
// many. batch() is the merged state; progress the batch's own.
class WatchJob : public BatchJob
{
    Q_OBJECT
public:
    WatchJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
             const WatchOptions &options, QObject *parent = nullptr);
    ~WatchJob() override;

    // A watch job on a session another job signed in (no login of its own),
    // owned by parent and not deleted on its result.
    static WatchJob *onSession(QNetworkAccessManager *nam, ConnectionSettings settings, const QString &sessionToken,
                               const QString &batchId, const WatchOptions &options, QObject *parent);

    ParseMonitorJob *monitor() const { return m_monitor; }
    // The session to hold instead of one of the job's own; before start().
    void setSession(ParseSession *session);

protected:
    void doStart() override;
    bool doKill() override;

private:
    ParseMonitorJob *m_monitor; // a child: lives as long as the watch
};

} // namespace membatch
