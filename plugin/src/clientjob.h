#pragma once

#include "parseclient.h"
#include "temporalclient.h"

#include <membatch/job.h>

namespace membatch {

// What every job a user runs against one batch shares: the settings it
// needs checked, a hold on a Parse session (ParseSession: the plugin's
// shared one, else one of its own; taken at the start, let go at the end)
// and Temporal. Subclasses go on in signedIn() and end with finish().
//
// A template over the job type a host sees (BatchJob, ResultsJob, MonitorJob), without
// a meta-object of its own: the subclasses have theirs.
template <class JobType>
class ClientJobBase : public JobType
{
public:
    // The session to hold instead of one of the job's own; before start().
    void setSession(ParseSession *session) { m_parse.setSession(session); }

protected:
    ClientJobBase(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId, QObject *parent);

    void doStart() override;
    virtual void signedIn() = 0;
    // Lets go of the session (the last holder's is logged out), then emits the result.
    void finish();
    // Looks the batch's BatchMemoryRequest up as this user sees it (answer
    // {"results":[...]}, at most one).
    void findRequest(RestClient::Handler handler);
    // The chunks of a submission whose parent id is the batch's, in chunk
    // order (answer {"results":[...]}, every one).
    void findChunks(RestClient::Handler handler);
    // Fails the job: no such batch, or not this user's to see.
    void notFound();
    // What to say a batch is being looked at for ("look at", "cancel").
    virtual QString purpose() const = 0;

    // How many requests under one batch id findRequest reads to find the
    // user's own among those of others it may see.
    static constexpr int SameIdOwners = 100;

    QNetworkAccessManager *m_nam;
    ConnectionSettings m_settings;
    QString m_batchId;
    QString m_userId; // who signed in (empty: the master key)
    ParseClient m_parse;
    TemporalClient m_temporal;
};

using ClientJob = ClientJobBase<BatchJob>;
using ClientResultsJob = ClientJobBase<ResultsJob>;
using ClientListJob = ClientJobBase<ListJob>;
using ClientMonitorJob = ClientJobBase<MonitorJob>;

} // namespace membatch
