#pragma once

#include "batchcodec.h"
#include "parseclient.h"
#include "temporalclient.h"

#include <membatch/batchoptions.h>
#include <membatch/job.h>

#include <QFutureWatcher>
#include <QPointer>

namespace membatch {

class WatchJob;

// Submits one batch file: read and validate, gzip, upload the Parse File,
// create the BatchMemoryRequest, start the workflow with only
// {request_id, batch_id}, and, if asked, follow the batch to its end.
class SubmitJob : public BatchJob
{
    Q_OBJECT
public:
    SubmitJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &path,
              const BatchOptions &options, QObject *parent = nullptr);
    ~SubmitJob() override;

protected:
    void doStart() override;
    bool doKill() override;

private:
    void read();
    void encode(QList<MemoryItem> items);
    void signIn();
    void checkBatchIdIsFree();
    void upload();
    void createRequest(const QJsonObject &file);
    void startWorkflow();
    void recordRunId(const QString &runId);
    void submitted();
    // Marks the created request failed, so that nothing is left pending
    // that no worker will ever take, then fails the job.
    void failAfterCreate(const QString &stage, const ApiResult &r, const QString &what);
    void fail(int error, const QString &message);
    void fail(const ApiResult &r, const QString &what);
    void setPhase(BatchProgress::Phase phase);

    QNetworkAccessManager *m_nam;
    ConnectionSettings m_settings;
    QString m_path;
    BatchOptions m_options;
    ParseClient m_parse;
    TemporalClient m_temporal;
    QFutureWatcher<BatchReadResult> m_readWatcher;
    QFutureWatcher<BatchCodec::Encoded> m_encodeWatcher;
    QPointer<WatchJob> m_watch;

    QString m_userId;
    QString m_requestUuid; // BatchMemoryRequest.requestId and Temporal's start requestId
    BatchCodec::Encoded m_encoded;
    BatchStatus m_status;
    BatchProgress m_progress;
};

} // namespace membatch
