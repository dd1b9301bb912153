#pragma once

#include "parseclient.h"
#include "temporalclient.h"

#include <membatch/batchoptions.h>
#include <membatch/job.h>

namespace membatch {

class WatchJob;

// Cancels a batch: finds its BatchMemoryRequest (one the user can see: a
// batch of somebody else's is "not found"), asks Temporal to cancel its
// workflow, and with options.waitForCompletion follows it until the worker
// has recorded "canceled". Asking twice is asking once (a fixed request id);
// a batch that has already ended is reported as it ended.
class CancelJob : public BatchJob
{
    Q_OBJECT
public:
    CancelJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
              const BatchOptions &options, const QString &reason, QObject *parent = nullptr);

protected:
    void doStart() override;
    bool doKill() override;

private:
    void findRequest(bool afterCancel);
    void requestCancel();
    void follow();
    void finish();

    QNetworkAccessManager *m_nam;
    ConnectionSettings m_settings;
    QString m_batchId;
    BatchOptions m_options;
    QString m_reason;
    ParseClient m_parse;
    TemporalClient m_temporal;
    WatchJob *m_watch = nullptr;
};

} // namespace membatch
