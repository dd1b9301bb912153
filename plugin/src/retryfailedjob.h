#pragma once

#include "clientjob.h"
#include "retryselection.h"

#include <membatch/batchoptions.h>

#include <QPointer>
#include <QTemporaryFile>

#include <memory>

namespace membatch {

class BatchFileStream;
class SubmitJob;

// retry-failed: submits, as a new batch whose requests say retryOf, the
// items of a batch that has ended (or of every chunk of a parent) that the
// worker refused or never got to. They are read from the batch's own
// stored file(s), never from the user's input, into a temporary JSON lines
// file that goes through SubmitJob like any input: validation, chunks and
// the submission's identity are shared. That identity is the batch and
// the exact items retried (an idempotency key), so asking again, or twice
// at once, gives the same retry.
//
// For each request: its failed item results (ItemResultsJob), and for the
// items it never counted, a look at which of them are stored after all (a
// group is stored before it is counted); then its file, streamed.
class RetryFailedJob : public ClientJob
{
    Q_OBJECT
public:
    RetryFailedJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
                   const SubmitOptions &options, QObject *parent = nullptr);
    ~RetryFailedJob() override;

protected:
    void signedIn() override;
    QString purpose() const override { return tr("retry the failed items of"); }
    bool doKill() override;

private:
    struct Request
    {
        BatchStatus status;
        QJsonObject object;
        QList<qint64> failed; // item results that say refused
        QSet<qint64> storedBeyond;
        QList<qint64> selected;
    };

    void readRequest(const ApiResult &r);
    void gotRequests(const QJsonArray &requests, const BatchStatus &batch);
    void nextFailures();
    void nextStoredBeyond();
    void nextFile();
    void readItems();
    void submit();
    void failed(int error, const QString &message);

    SubmitOptions m_options;
    BatchStatus m_original;
    QList<Request> m_requests;
    qsizetype m_current = 0;
    QList<qint64> m_wanted; // of the file read now: its selected items still to come
    BatchFileStream *m_stream = nullptr;
    std::unique_ptr<QTemporaryFile> m_spool;
    qint64 m_written = 0;
    QPointer<Job> m_child; // the results reader, then the submission
};

} // namespace membatch
