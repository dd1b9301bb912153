#pragma once

#include "batchcodec.h"
#include "parseclient.h"
#include "temporalclient.h"

#include <membatch/batchoptions.h>
#include <membatch/job.h>

#include <QFutureWatcher>
#include <QPointer>
#include <QTimer>

namespace membatch {

class WatchJob;

// Submits one batch file: read and validate, gzip, upload the Parse File,
// create the BatchMemoryRequest, start the workflow with only
// {request_id, batch_id}, and, if asked, follow the batch to its end.
class SubmitJob : public BatchJob
{
    Q_OBJECT
public:
    // What Parse Server and the Cloud Code take for a webhook url.
    static constexpr qsizetype MaxWebhookUrlLength = 2048;
    SubmitJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &path,
              const BatchOptions &options, QObject *parent = nullptr);
    ~SubmitJob() override;

    // Starts whose outcome is unknown (no answer, 429, 5xx) are sent again
    // with the same requestId, which Temporal deduplicates.
    static constexpr int MaxStartAttempts = 3;

    // What a batch id may be: it names the Parse file and the workflow.
    static bool isValidBatchId(const QString &batchId);

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
    void startFailed(const ApiResult &r);
    void recordRunId(const QString &runId);
    void submitted();
    void follow();
    // The start failed for good: mark the request failed, so that nothing
    // is left pending that no worker will ever take.
    void markFailed(const ApiResult &r);
    void fail(int error, const QString &message);
    void fail(const ApiResult &r, const QString &what);
    // Ends our Parse session (if we opened one), then emits the result.
    void finish();
    // Reports a phase; false if a slot killed the job on hearing it.
    bool enter(BatchProgress::Phase phase);

    QNetworkAccessManager *m_nam;
    ConnectionSettings m_settings;
    QString m_path;
    BatchOptions m_options;
    ParseClient m_parse;
    TemporalClient m_temporal;
    QFutureWatcher<BatchReadResult> m_readWatcher;
    QFutureWatcher<BatchCodec::Encoded> m_encodeWatcher;
    QTimer m_retryTimer;
    QPointer<WatchJob> m_watch;

    QString m_userId;
    QString m_requestUuid; // BatchMemoryRequest.requestId and Temporal's start requestId
    int m_startAttempts = 0;
    BatchCodec::Encoded m_encoded;
    BatchStatus m_status;
    BatchProgress m_progress;
};

} // namespace membatch
