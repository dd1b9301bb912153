#pragma once

#include "clientjob.h"

#include <membatch/batchoptions.h>

namespace membatch {

class WatchJob;

// Cancels a batch: finds its BatchMemoryRequest (one the user can see: a
// batch of somebody else's is "not found"), asks Temporal to cancel its
// workflow, and with options.waitForCompletion follows it until the worker
// has recorded "canceled". Asking twice is asking once (a fixed request id);
// a batch that has already ended is reported as it ended.
class CancelJob : public ClientJob
{
    Q_OBJECT
public:
    CancelJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
              const WatchOptions &options, const QString &reason, QObject *parent = nullptr);

protected:
    void signedIn() override { lookUp(false); }
    QString purpose() const override { return tr("cancel"); }
    bool doKill() override;

private:
    void lookUp(bool afterCancel);
    void requestCancel();
    // The id is a parent's: every chunk that has not ended is canceled.
    void cancelParent();
    void cancelChunks(const QJsonArray &chunks);
    void nextChunk();
    void follow();

    WatchOptions m_options;
    QString m_reason;
    QStringList m_toCancel; // chunks' workflow ids, one cancel at a time
    int m_canceled = 0;
    WatchJob *m_watch = nullptr;
};

} // namespace membatch
