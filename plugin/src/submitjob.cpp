#include "submitjob.h"

#include "batchrequest.h"
#include "logging.h"
#include "watchjob.h"

#include <membatch/webhooksignature.h>

#include <QDateTime>
#include <QFileInfo>
#include <QNetworkReply>
#include <QRegularExpression>
#include <QUuid>
#include <QtConcurrent>

namespace membatch {

namespace {

// A start we cannot know the outcome of: it may have reached the server.
bool outcomeUnknown(const ApiResult &r)
{
    if (r.error == Job::NetworkError) // refused or no such host: it never arrived
        return r.networkError != QNetworkReply::ConnectionRefusedError && r.networkError != QNetworkReply::HostNotFoundError;
    return r.httpStatus == 429 || r.httpStatus >= 500;
}

int retryDelayMs(const ApiResult &r, int attempt)
{
    bool ok = false;
    const int seconds = r.retryAfter.toInt(&ok);
    if (ok && seconds >= 0)
        return std::min(seconds, 60) * 1000;
    return 1000 * (1 << (attempt - 1)); // 1 s, 2 s, ...
}

} // namespace

SubmitJob::SubmitJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &path,
                     const BatchOptions &options, QObject *parent)
    : BatchJob(parent)
    , m_nam(nam)
    , m_settings(settings)
    , m_path(path)
    , m_options(options)
    , m_parse(nam, settings, ParseClient::clientAuth(settings))
    , m_temporal(nam, settings)
{
    m_status.batchId = options.batchId.isEmpty() ? QUuid::createUuid().toString(QUuid::WithoutBraces) : options.batchId;
    m_status.workflowId = BatchRequest::workflowIdFor(m_status.batchId);
    m_requestUuid = QUuid::createUuid().toString(QUuid::WithoutBraces);
    m_progress.batchId = m_status.batchId;
    m_retryTimer.setSingleShot(true);
    connect(&m_retryTimer, &QTimer::timeout, this, &SubmitJob::startWorkflow);
}

SubmitJob::~SubmitJob() = default;

bool SubmitJob::isValidBatchId(const QString &batchId)
{
    static const QRegularExpression valid(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"));
    return valid.match(batchId).hasMatch();
}

void SubmitJob::doStart()
{
    const QStringList missing = m_settings.missingForClient();
    if (!missing.isEmpty()) {
        fail(ConfigurationError, tr("cannot submit: set %1").arg(missing.join(QStringLiteral(", "))));
        return;
    }
    if (!isValidBatchId(m_status.batchId)) {
        fail(InvalidInputError, tr("batch id '%1' is not valid: use 1 to 100 letters, digits, '-' and '_', "
                                   "starting with a letter or digit")
                                    .arg(m_status.batchId));
        return;
    }
    if (!m_options.webhookUrl.isEmpty() || !m_options.webhookSecret.isEmpty()) {
        const QUrl &url = m_options.webhookUrl;
        if (!BatchRequest::isWebhookUrl(url) || url.toString().size() > MaxWebhookUrlLength) {
            fail(InvalidInputError, tr("the webhook url '%1' is not an http or https url of at most %2 characters")
                                        .arg(url.toDisplayString(QUrl::RemoveUserInfo)).arg(MaxWebhookUrlLength));
            return;
        }
        if (WebhookSignature::keyFromSecret(m_options.webhookSecret).isEmpty()) {
            fail(ConfigurationError, tr("a webhook needs its secret: \"whsec_\" followed by the base64 of 24 to 64 random bytes "
                                        "(MEMBATCH_WEBHOOK_SECRET for the membatch command)"));
            return;
        }
    }
    read();
}

bool SubmitJob::doKill()
{
    // The thread-pool tasks hold only values; they finish on their own and
    // nobody hears of them once the watchers are disconnected.
    m_readWatcher.disconnect(this);
    m_encodeWatcher.disconnect(this);
    m_retryTimer.stop();
    RestClient::abortAll(this);
    if (m_watch) {
        m_watch->disconnect(this);
        m_watch->kill();
    }
    return true;
}

bool SubmitJob::enter(BatchProgress::Phase phase)
{
    m_progress.phase = phase;
    setProgress(m_progress);
    return !isFinished();
}

void SubmitJob::read()
{
    connect(&m_readWatcher, &QFutureWatcher<BatchReadResult>::finished, this, [this] {
        BatchReadResult result = m_readWatcher.result();
        if (!result.error.isEmpty()) {
            fail(InvalidInputError, result.error);
            return;
        }
        encode(std::move(result.items));
    });
    m_readWatcher.setFuture(QtConcurrent::run(readBatchFile, m_path));
    enter(BatchProgress::Phase::Reading);
}

void SubmitJob::encode(QList<MemoryItem> items)
{
    m_progress.total = items.size();
    m_status.totalMemories = items.size();
    connect(&m_encodeWatcher, &QFutureWatcher<BatchCodec::Encoded>::finished, this, [this] {
        m_encoded = m_encodeWatcher.result();
        m_status.rawBytes = m_encoded.rawBytes;
        m_status.compressedBytes = m_encoded.gzip.size();
        if (m_encoded.gzip.size() > BatchRequest::MaxFileBytes) {
            fail(InvalidInputError,
                 tr("%1: %2 memories compress to %3 MiB, more than the %4 MiB a Parse file may hold; "
                    "split the file into smaller batches")
                     .arg(m_path)
                     .arg(m_encoded.count)
                     .arg(double(m_encoded.gzip.size()) / (1024 * 1024), 0, 'f', 1)
                     .arg(BatchRequest::MaxFileBytes / (1024 * 1024)));
            return;
        }
        qCDebug(lcSubmit) << "encoded" << m_encoded.count << "memories:" << m_encoded.rawBytes << "->"
                          << m_encoded.gzip.size() << "bytes";
        signIn();
    });
    m_encodeWatcher.setFuture(QtConcurrent::run(
        [level = m_options.compressionLevel](const QList<MemoryItem> &batch) { return BatchCodec::encode(batch, level); },
        std::move(items)));
    enter(BatchProgress::Phase::Encoding);
}

void SubmitJob::signIn()
{
    m_parse.signIn(this, [this](const ApiResult &r, const QString &userId) {
        if (!r.ok()) {
            fail(r, tr("signing in to Parse"));
            return;
        }
        m_userId = userId;
        checkBatchIdIsFree();
    });
}

void SubmitJob::checkBatchIdIsFree()
{
    if (m_options.batchId.isEmpty()) { // a fresh UUID cannot clash
        upload();
        return;
    }
    m_parse.find(
        BatchRequest::ClassName, {{QStringLiteral("batchId"), m_status.batchId}}, this,
        [this](const ApiResult &r) {
            if (!r.ok()) {
                fail(r, tr("checking that batch id %1 is free").arg(m_status.batchId));
                return;
            }
            const QJsonArray results = r.json.value(QStringLiteral("results")).toArray();
            if (!results.isEmpty()) {
                const BatchStatus existing = BatchRequest::statusFromObject(results.first().toObject());
                fail(InvalidInputError, tr("batch id %1 is already taken (request %2, status %3); choose another")
                                            .arg(m_status.batchId, existing.requestId, existing.status));
                return;
            }
            upload();
        },
        1);
}

void SubmitJob::upload()
{
    m_progress.bytesDone = 0;
    m_progress.bytesTotal = m_encoded.gzip.size();
    const QString name = QStringLiteral("batch_%1.json.gz").arg(m_status.batchId);
    m_parse.uploadFile(
        name, m_encoded.gzip, QByteArrayLiteral("application/gzip"), this,
        [this](ApiResult r) {
            // Without a url the File cannot be referenced (a name-only File
            // would lose the data).
            if (!r.expectFields({"name", "url"})) {
                fail(r, tr("uploading the batch file"));
                return;
            }
            m_encoded.gzip = QByteArray(); // uploaded: no need to hold it any longer
            m_status.dataFileUrl = QUrl(r.json.value(QStringLiteral("url")).toString());
            createRequest({{QStringLiteral("__type"), QStringLiteral("File")},
                           {QStringLiteral("name"), r.json.value(QStringLiteral("name"))},
                           {QStringLiteral("url"), r.json.value(QStringLiteral("url"))}});
        },
        [this](qint64 sent, qint64 total) {
            if (total <= 0)
                return;
            m_progress.bytesDone = sent;
            m_progress.bytesTotal = total;
            setProgress(m_progress);
        });
    enter(BatchProgress::Phase::Uploading);
}

void SubmitJob::createRequest(const QJsonObject &file)
{
    const double ratio = m_status.compressedBytes ? double(m_status.rawBytes) / double(m_status.compressedBytes) : 0;
    QJsonObject fields{
        {QStringLiteral("batchId"), m_status.batchId},
        {QStringLiteral("requestId"), m_requestUuid},
        {QStringLiteral("status"), QLatin1String(BatchStatus::Pending)},
        {QStringLiteral("totalMemories"), m_status.totalMemories},
        {QStringLiteral("processedCount"), 0},
        {QStringLiteral("successCount"), 0},
        {QStringLiteral("failCount"), 0},
        {QStringLiteral("errors"), QJsonArray()},
        {QStringLiteral("batchDataFile"), file},
        {QStringLiteral("workflowId"), m_status.workflowId},
        {QStringLiteral("batchMetadata"),
         QJsonObject{
             {QStringLiteral("memory_count"), m_status.totalMemories},
             {QStringLiteral("total_size_bytes"), m_status.rawBytes},
             {QStringLiteral("compressed_size_bytes"), m_status.compressedBytes},
             {QStringLiteral("compression_ratio"), qRound(ratio * 100) / 100.0},
             {QStringLiteral("chunk_num"), 1},
             {QStringLiteral("total_chunks"), 1},
             {QStringLiteral("source"), QFileInfo(m_path).fileName()},
             {QStringLiteral("created_at"), QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
         }},
    };
    if (!m_options.webhookUrl.isEmpty()) {
        // The secret is a protected field: no client reads it back.
        fields.insert(QStringLiteral("webhookUrl"), m_options.webhookUrl.toString(QUrl::FullyEncoded));
        fields.insert(QStringLiteral("webhookSecret"), QString::fromLatin1(m_options.webhookSecret));
    }
    if (!m_userId.isEmpty()) {
        fields.insert(QStringLiteral("user"), ParseClient::pointer(QStringLiteral("_User"), m_userId));
        fields.insert(QStringLiteral("ACL"),
                      QJsonObject{{m_userId, QJsonObject{{QStringLiteral("read"), true}, {QStringLiteral("write"), true}}}});
    } else {
        fields.insert(QStringLiteral("ACL"), QJsonObject()); // submitted with the master key: master only
    }

    m_parse.createObject(BatchRequest::ClassName, fields, this, [this](ApiResult r) {
        if (!r.expectFields({"objectId"})) {
            fail(r, tr("creating the BatchMemoryRequest (the uploaded file %1 is left unreferenced)")
                        .arg(m_status.dataFileUrl.toDisplayString()));
            return;
        }
        m_status.requestId = r.json.value(QStringLiteral("objectId")).toString();
        m_status.status = QLatin1String(BatchStatus::Pending);
        m_status.createdAt = ParseClient::dateFrom(r.json.value(QStringLiteral("createdAt")));
        setBatch(m_status);
        if (enter(BatchProgress::Phase::Starting))
            startWorkflow();
    });
    enter(BatchProgress::Phase::Creating);
}

void SubmitJob::startWorkflow()
{
    ++m_startAttempts;
    const QJsonArray input{BatchRequest::workflowInput(m_status.requestId, m_status.batchId)};
    m_temporal.startWorkflow(m_status.workflowId, BatchRequest::WorkflowType, input, m_requestUuid,
                             processIdentity(QStringLiteral("membatch")), this, [this](ApiResult r) {
                                 if (r.expectFields({"runId"}))
                                     recordRunId(r.json.value(QStringLiteral("runId")).toString());
                                 else
                                     startFailed(r);
                             });
}

void SubmitJob::startFailed(const ApiResult &r)
{
    if (!outcomeUnknown(r)) {
        markFailed(r);
        return;
    }
    if (m_startAttempts < MaxStartAttempts) {
        qCWarning(lcSubmit) << "starting the workflow, attempt" << m_startAttempts << "failed; trying again:" << r.message;
        m_retryTimer.start(retryDelayMs(r, m_startAttempts));
        return;
    }
    // Still unknown: look before declaring the batch failed.
    m_temporal.describeWorkflow(m_status.workflowId, {}, this, [this, r](const ApiResult &described, const WorkflowState &state) {
        if (described.ok() && !state.runId.isEmpty()) {
            recordRunId(state.runId); // it did start
        } else if (described.error == NotFoundError) {
            markFailed(r);
        } else {
            fail(r, tr("starting workflow %1 (tried %2 times; it may or may not have started, and request %3 "
                       "stays pending: look with 'membatch status %4')")
                        .arg(m_status.workflowId)
                        .arg(m_startAttempts)
                        .arg(m_status.requestId, m_status.batchId));
        }
    });
}

void SubmitJob::recordRunId(const QString &runId)
{
    m_status.workflowRunId = runId;
    setBatch(m_status);
    m_parse.updateObject(BatchRequest::ClassName, m_status.requestId, {{QStringLiteral("workflowRunId"), runId}}, this,
                         [this](const ApiResult &r) {
                             // The workflow runs either way; the run id is for cross-reference only.
                             if (!r.ok())
                                 qCWarning(lcSubmit) << "could not record the workflow run id:" << r.message;
                             submitted();
                         });
}

void SubmitJob::submitted()
{
    m_progress.status = m_status.status;
    m_progress.bytesDone = m_progress.bytesTotal = 0;
    if (!enter(BatchProgress::Phase::Queued))
        return;
    if (m_options.waitForCompletion)
        follow();
    else
        finish();
}

void SubmitJob::follow()
{
    m_watch = WatchJob::onSession(m_nam, m_settings, m_parse.sessionToken(), m_status.batchId, m_options, this);
    connect(m_watch, &Job::progressChanged, this, [this](const BatchProgress &p) { setProgress(p); });
    connect(m_watch, &Job::result, this, [this](Job *job) {
        const auto *watch = static_cast<WatchJob *>(job);
        if (!watch->batch().batchId.isEmpty())
            setBatch(watch->batch());
        setError(watch->error(), watch->errorString());
        finish();
    });
    m_watch->start();
}

void SubmitJob::markFailed(const ApiResult &r)
{
    const QString what = tr("starting workflow %1").arg(m_status.workflowId);
    const QJsonArray errors{BatchRequest::errorEntry(QStringLiteral("%1: %2").arg(what, r.message), -1, QStringLiteral("start"))};
    m_parse.updateObject(BatchRequest::ClassName, m_status.requestId, BatchRequest::failedFields(errors), this,
                         [this, r, what, errors](const ApiResult &update) {
                             if (!update.ok()) {
                                 fail(r, what + tr(" (and marking request %1 failed also failed: %2)")
                                                    .arg(m_status.requestId, update.message));
                                 return;
                             }
                             m_status.status = QLatin1String(BatchStatus::Failed);
                             m_status.errors = errors;
                             setBatch(m_status);
                             fail(r, what + tr(" (request %1 is marked failed)").arg(m_status.requestId));
                         });
}

void SubmitJob::fail(const ApiResult &r, const QString &what)
{
    fail(r.error, QStringLiteral("%1: %2").arg(what, r.message));
}

void SubmitJob::fail(int error, const QString &message)
{
    qCDebug(lcSubmit) << "failed:" << message;
    setError(error, message);
    finish();
}

void SubmitJob::finish()
{
    m_parse.signOut(this, [this] { emitResult(); });
}

} // namespace membatch
