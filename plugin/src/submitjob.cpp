#include "submitjob.h"

#include "batchcodec.h"
#include "batchrequest.h"
#include "gzipcodec.h"
#include "logging.h"
#include "watchjob.h"

#include <membatch/compositejob.h>
#include <membatch/webhooksignature.h>

#include <QCryptographicHash>
#include <QFile>
#include <QFileInfo>
#include <QRegularExpression>
#include <QSet>
#include <QTemporaryFile>
#include <QThread>
#include <QUuid>
#include <QtConcurrent>

#include <atomic>

#include <cerrno>
#include <unistd.h>

namespace membatch {

// What the scan and the encoders on the pool share with the job: the job
// may be gone before they end, so they hold it too.
struct SubmitJob::Shared
{
    std::unique_ptr<QFile> ownInput; // a path or standard input
    QIODevice *input = nullptr;
    QTemporaryFile spool; // unnamed where the system allows: nothing left on disk by a kill
    int spoolFd = -1;     // read at offsets by the encoders (pread), never by name
    // The chunks the scan gzipped ahead, handed over here rather than in
    // its result, which the watcher keeps: each goes once it is sent.
    QList<QByteArray> encoded;
    std::atomic_bool cancel{false};
    std::atomic<qint64> itemsRead{0};
};

namespace {

struct Encoded
{
    QByteArray gzip;
    QString error;
};

// Chunk k of the spool as the JSON array its file holds, gzipped. Runs on
// the pool, reading at its own offsets (pread: the encoders share one
// descriptor, and the spool never needs a name).
Encoded encodeFromSpool(int spoolFd, InputScanner::ChunkSpan span, int level)
{
    QByteArray json(span.length + 1, Qt::Uninitialized);
    json[0] = '[';
    qint64 done = 0;
    while (done < span.length) {
        const ssize_t n = ::pread(spoolFd, json.data() + 1 + done, size_t(span.length - done), off_t(span.offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return {{}, n < 0 ? QStringLiteral("cannot read the spool file: %1").arg(qt_error_string(errno))
                              : QStringLiteral("the spool file is shorter than written")};
        done += n;
    }
    return {InputScanner::encodeChunk(std::move(json), level), {}};
}

QByteArray sha256(const QByteArray &data)
{
    return QCryptographicHash::hash(data, QCryptographicHash::Sha256);
}

QString dedupName(SubmitOptions::Dedup dedup)
{
    switch (dedup) {
    case SubmitOptions::Dedup::Off:
        return QStringLiteral("off");
    case SubmitOptions::Dedup::Content:
        return QStringLiteral("content");
    case SubmitOptions::Dedup::ContentAndMetadata:
        return QStringLiteral("content+metadata");
    }
    return {};
}

} // namespace

// The chunks being sent, SubmitOptions::inFlight at once. It stays open
// while the encoders feed it (the SubmitJob knows when all are sent), and
// a failed chunk only drops the queue: what is in flight ends, so that no
// file is left without its request.
class SubmitJob::ChunkSender : public CompositeJob
{
public:
    explicit ChunkSender(SubmitJob *owner)
        : CompositeJob(owner)
        , m_owner(owner)
    {
        setAutoDelete(false);
    }

    void dropQueued() { clearQueue(); }

protected:
    void subjobFinished(Job *job) override
    {
        if (job->error())
            clearQueue();
        m_owner->chunkSent(static_cast<ChunkSubmitJob *>(job));
    }
    // The bytes sent come through ChunkSubmitJob::onUpload, summed.
    void subjobProgress(Job *, const BatchProgress &) override {}
    void subjobsDrained() override {}

private:
    SubmitJob *m_owner;
};

SubmitJob::SubmitJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &path,
                     const SubmitOptions &options, QObject *parent)
    : SubmitJob(nam, settings, nullptr, path == QLatin1String("-") ? QStringLiteral("<stdin>") : path, options, parent)
{
    m_shared->ownInput = std::make_unique<QFile>();
    if (path == QLatin1String("-"))
        m_shared->ownInput->open(stdin, QIODevice::ReadOnly);
    else
        m_shared->ownInput->setFileName(path);
    m_shared->input = m_shared->ownInput.get();
}

SubmitJob::SubmitJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, QIODevice *device,
                     const QString &sourceName, const SubmitOptions &options, QObject *parent)
    : BatchJob(parent)
    , m_nam(nam)
    , m_settings(settings)
    , m_source(sourceName)
    , m_options(options)
    , m_parse(nam, settings, ParseClient::clientAuth(settings))
    , m_temporal(nam, settings)
    , m_shared(std::make_shared<Shared>())
    , m_chunks(new ChunkSender(this))
{
    m_shared->input = device;
    m_readingTimer.setInterval(200);
    connect(&m_readingTimer, &QTimer::timeout, this, [this] {
        m_progress.processed = m_shared->itemsRead;
        setProgress(m_progress);
    });
}

SubmitJob::~SubmitJob()
{
    m_shared->cancel = true;
    // A device of the host's must not be read once the job is gone.
    if (!m_shared->ownInput)
        m_scanWatcher.waitForFinished();
}

bool SubmitJob::isValidBatchId(const QString &batchId)
{
    static const QRegularExpression valid(QStringLiteral("^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"));
    return valid.match(batchId).hasMatch();
}

QString SubmitJob::userPrefix(const QString &userId)
{
    // The Cloud Code takes a request id from a client only with this prefix
    // of its own user: nobody can take the ids another user's submission
    // will use.
    return QString::fromLatin1(sha256("membatch-user:" + userId.toUtf8()).toHex().left(8));
}

QString SubmitJob::chunkBatchId(const QString &parentId, int number, int total)
{
    if (total <= 1)
        return parentId;
    const int width = std::max(3, int(QString::number(total).size()));
    return QStringLiteral("%1-%2").arg(parentId).arg(number, width, 10, QLatin1Char('0'));
}

QString SubmitJob::checkOptions() const
{
    const SubmitOptions &o = m_options;
    if (!o.batchId.isEmpty() && !isValidBatchId(o.batchId))
        return tr("batch id '%1' is not valid: use 1 to 100 letters, digits, '-' and '_', starting with a letter or digit")
            .arg(o.batchId);
    if (o.chunkItems < 1 || o.chunkItems > 100000)
        return tr("a chunk holds 1 to 100000 memories, not %1").arg(o.chunkItems);
    // Up to what a worker inflates (a chunk whose gzip then passes 20 MiB is
    // refused before it is sent).
    if (o.chunkBytes < 4096 || o.chunkBytes > BatchCodec::MaxJsonBytes)
        return tr("a chunk holds 4 KiB to %1 bytes of JSON, not %2").arg(BatchCodec::MaxJsonBytes).arg(o.chunkBytes);
    if (o.inFlight < 1 || o.inFlight > 32)
        return tr("1 to 32 chunks may be in flight, not %1").arg(o.inFlight);
    if (o.compressionLevel < 1 || o.compressionLevel > 12)
        return tr("the compression level is 1 to 12, not %1").arg(o.compressionLevel);
    if (!o.idempotencyKey.isEmpty() && o.idempotencyKey.size() > 256)
        return tr("an idempotency key is at most 256 characters");
    static const QRegularExpression objectId(QStringLiteral("^[A-Za-z0-9_-]{1,64}$"));
    for (const auto &[what, id] : {std::pair{"organization", o.organizationId}, {"namespace", o.namespaceId}, {"workspace", o.workspaceId}}) {
        if (!id.isEmpty() && !objectId.match(id).hasMatch())
            return tr("the %1 '%2' is not a Parse objectId (1 to 64 letters, digits, '-' and '_')").arg(QLatin1String(what), id);
    }
    return {};
}

void SubmitJob::doStart()
{
    if (const QString why = checkOptions(); !why.isEmpty()) {
        fail(InvalidInputError, why);
        return;
    }
    if (!m_options.dryRun) {
        const QStringList missing = m_settings.missingForClient();
        if (!missing.isEmpty()) {
            fail(ConfigurationError, tr("cannot submit: set %1").arg(missing.join(QStringLiteral(", "))));
            return;
        }
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
    if (!m_shared->input) {
        fail(InvalidInputError, tr("%1: no input").arg(m_source));
        return;
    }
    if (!m_shared->input->isOpen() && !m_shared->input->open(QIODevice::ReadOnly)) {
        fail(InvalidInputError, tr("%1: cannot read: %2").arg(m_source, m_shared->input->errorString()));
        return;
    }
    m_shared->spool.setFileTemplate(QDir::tempPath() + QStringLiteral("/membatch-spool-XXXXXX.jsonl"));
    if (!m_shared->spool.open()) {
        fail(ConfigurationError, tr("cannot create a spool file in %1: %2").arg(QDir::tempPath(), m_shared->spool.errorString()));
        return;
    }
    m_shared->spoolFd = int(m_shared->spool.handle());
    m_status.inputItems = 0;
    scan();
    if (!isFinished() && !m_options.dryRun)
        signIn(); // while the input is read
}

bool SubmitJob::doKill()
{
    m_shared->cancel = true;
    m_scanWatcher.disconnect(this);
    m_readingTimer.stop();
    m_chunks->kill(); // its chunks' results do not come here
    RestClient::abortAll(this);
    if (m_watch) {
        m_watch->disconnect(this);
        m_watch->kill();
    }
    return true;
}

bool SubmitJob::doStop()
{
    if (m_watch) // all is sent: following it can simply stop
        return false;
    if (m_stopping)
        return false; // asked twice: stop dead
    m_stopping = true;
    m_shared->cancel = true;
    if (m_firstError.isEmpty()) {
        m_firstErrorCode = KilledError;
        m_firstError = tr("stopped");
    }
    // What is being sent is finished (no file is left without its request,
    // no request without its workflow), then nothing more.
    if (m_planned)
        m_chunks->stop(); // the queue is dropped; the chunks being sent end
    if (!m_planned || (m_chunks->runningSubjobCount() == 0 && m_encoding == 0))
        QTimer::singleShot(0, this, [this] { pump(); });
    return true;
}

bool SubmitJob::enter(BatchProgress::Phase phase)
{
    m_progress.phase = phase;
    setProgress(m_progress);
    return !isFinished();
}

void SubmitJob::scan()
{
    InputScanner::Options options;
    options.limits = m_options.limits;
    // An item must fit a chunk, with the hash it is given.
    options.limits.maxItemBytes = std::min(options.limits.maxItemBytes, m_options.chunkBytes - 128);
    options.skipInvalid = m_options.skipInvalid;
    options.dedup = m_options.dedup;
    options.chunkItems = m_options.chunkItems;
    options.chunkBytes = m_options.chunkBytes;
    options.reportPath = m_options.reportPath;
    options.compressionLevel = m_options.compressionLevel;
    options.encodeAheadBytes = m_encodeAheadBytes;

    connect(&m_scanWatcher, &QFutureWatcher<InputScanner::Result>::finished, this, &SubmitJob::scanned);
    m_scanWatcher.setFuture(QtConcurrent::run([shared = m_shared, options, source = m_source] {
        InputScanner::Result r = InputScanner::scan(shared->input, source, options, &shared->spool, [&shared](qint64 items) {
            shared->itemsRead = items;
            return !shared->cancel;
        });
        shared->encoded = std::exchange(r.encoded, {});
        return r;
    }));
    m_progress.total = 0;
    m_readingTimer.start();
    enter(BatchProgress::Phase::Reading);
}

void SubmitJob::scanned()
{
    m_readingTimer.stop();
    m_scan = m_scanWatcher.result();
    m_scan.encoded = std::exchange(m_shared->encoded, {}); // the one copy: each chunk goes once sent
    m_scanned = true;
    m_status.inputItems = m_scan.items;
    m_status.invalidItems = m_scan.invalid;
    m_status.duplicateItems = m_scan.duplicates;
    m_status.totalMemories = m_scan.kept;
    m_status.rawBytes = m_scan.jsonBytes;
    m_status.chunkCount = int(m_scan.chunks.size());
    if (m_stopping || m_scan.canceled) {
        pump();
        return;
    }
    if (!m_scan.error.isEmpty()) {
        fail(InvalidInputError, m_scan.error);
        return;
    }
    if (!m_shared->spool.flush()) {
        fail(ConfigurationError, tr("cannot write the spool file: %1").arg(m_shared->spool.errorString()));
        return;
    }
    qCDebug(lcSubmit) << m_source << ":" << m_scan.items << "items," << m_scan.kept << "kept in" << m_scan.chunks.size() << "chunks";
    m_progress.processed = m_scan.items;
    m_progress.total = m_scan.kept;
    m_progress.chunks = int(m_scan.chunks.size());
    if (m_options.dryRun || m_ready)
        plan();
}

void SubmitJob::signIn()
{
    m_signingIn = true;
    m_parse.signIn(this, [this](const ApiResult &r, const QString &userId) {
        m_signingIn = false;
        if (isFinished()) // killed while it waited for the session
            return;
        if (m_finishing) { // failed or stopped meanwhile: end the session it opened
            m_parse.signOut(this, [this] { emitResult(); });
            return;
        }
        if (!r.ok()) {
            fail(r, tr("signing in to Parse"));
            return;
        }
        m_userId = userId;
        checkNamespace();
    });
}

void SubmitJob::checkNamespace()
{
    m_temporal.describeNamespace(this, [this](const ApiResult &r) {
        if (!r.ok()) {
            fail(r, tr("checking Temporal namespace %1").arg(m_settings.temporalNamespace));
            return;
        }
        m_ready = true;
        if (m_scanned)
            plan();
    });
}

void SubmitJob::plan()
{
    // The submission's identity: who sends what, cut how. The same again
    // gives the same ids; anything else gives others (or, with the same
    // key or batch id, is refused).
    const QByteArray inputSha = m_scan.inputSha256.toHex();
    QByteArray what = m_options.idempotencyKey.isEmpty() ? "input:" + inputSha : "key:" + m_options.idempotencyKey.toUtf8();
    const QByteArray identity = sha256(QByteArrayLiteral("membatch-submission/1\n") + m_userId.toUtf8() + '\n' + what + '\n'
                                       + m_options.batchId.toUtf8() + '\n' + QByteArray::number(m_options.chunkItems) + '/'
                                       + QByteArray::number(m_options.chunkBytes) + '\n' + dedupName(m_options.dedup).toUtf8()
                                       + '\n' + m_options.webhookUrl.toEncoded() + '\n' + m_options.organizationId.toUtf8() + '/'
                                       + m_options.namespaceId.toUtf8() + '/' + m_options.workspaceId.toUtf8());
    m_identity = QString::fromLatin1(identity.toHex());
    m_status.batchId = m_options.batchId.isEmpty() ? m_identity.left(24) : m_options.batchId;
    const int total = int(m_scan.chunks.size());
    if (total > BatchRequest::MaxChunks) {
        fail(InvalidInputError, tr("%1 makes %2 chunks, more than the %3 a submission may have: use larger chunks (--chunk-size)")
                                    .arg(m_source)
                                    .arg(total)
                                    .arg(BatchRequest::MaxChunks));
        return;
    }
    if (chunkBatchId(m_status.batchId, total, total).size() > 100) {
        fail(InvalidInputError, tr("batch id %1 is too long for %2 chunks: their ids (%3) would pass 100 characters")
                                    .arg(m_status.batchId)
                                    .arg(total)
                                    .arg(chunkBatchId(m_status.batchId, total, total)));
        return;
    }
    if (total == 1) {
        m_status.requestId = chunkPlan(0).objectId;
        m_status.workflowId = BatchRequest::workflowIdFor(m_status.batchId);
    }
    m_status.status = QLatin1String(BatchStatus::Pending);
    setBatch(m_status);
    m_planned = true;
    if (!m_options.dryRun) {
        m_chunks->setParallelLimit(m_options.inFlight);
        m_chunks->start();
    }
    if (m_options.dryRun && m_options.batchId.isEmpty())
        m_status.batchId.clear(); // the real one depends on the user
    m_progress.batchId = m_status.batchId;
    setBatch(m_status);
    if (m_options.dryRun)
        pump();
    else
        findSent();
}

ChunkPlan SubmitJob::chunkPlan(int index) const
{
    ChunkPlan p;
    p.number = index + 1;
    p.total = int(m_scan.chunks.size());
    const QByteArray id = sha256(m_identity.toLatin1() + "\nchunk:" + QByteArray::number(p.number)).toHex();
    p.objectId = userPrefix(m_userId) + QString::fromLatin1(id.left(16));
    p.batchId = chunkBatchId(m_status.batchId, p.number, p.total);
    if (p.total > 1)
        p.parentBatchId = m_status.batchId;
    static const QUuid kNamespace(QStringLiteral("{6f1f7c2e-5a43-4f53-9d0e-6d656d626174}"));
    p.requestUuid = QUuid::createUuidV5(kNamespace, p.objectId).toString(QUuid::WithoutBraces);
    p.inputSha256 = QString::fromLatin1(m_scan.inputSha256.toHex());
    const InputScanner::ChunkSpan &span = m_scan.chunks.at(index);
    p.count = span.count;
    p.jsonBytes = span.jsonBytes();
    p.userId = m_userId;
    p.organizationId = m_options.organizationId;
    p.namespaceId = m_options.namespaceId;
    p.workspaceId = m_options.workspaceId;
    p.webhookUrl = m_options.webhookUrl;
    p.webhookSecret = m_options.webhookSecret;
    p.retryOf = m_retryOf;
    return p;
}

void SubmitJob::findSent()
{
    // What an earlier run of this submission (or another input under an
    // explicit id, which is refused) has sent: one query for every chunk.
    const QJsonObject where{{QStringLiteral("$or"),
                             QJsonArray{QJsonObject{{QStringLiteral("batchId"), m_status.batchId}},
                                        QJsonObject{{QStringLiteral("parentBatchId"), m_status.batchId}}}}};
    m_parse.findKeys(
        BatchRequest::ClassName, where,
        {QStringLiteral("inputSha256"), QStringLiteral("status"), QStringLiteral("batchId"), QStringLiteral("workflowRunId"),
         QStringLiteral("workflowId"), QStringLiteral("totalMemories"), QStringLiteral("batchDataFile"), QStringLiteral("errors"),
         QStringLiteral("user")},
        this,
        [this](const ApiResult &r) {
            if (!r.ok()) {
                fail(r, tr("looking for what batch %1 has sent already").arg(m_status.batchId));
                return;
            }
            const QString ours = QString::fromLatin1(m_scan.inputSha256.toHex());
            QSet<QString> chunkIds;
            for (int i = 0; i < m_scan.chunks.size(); ++i)
                chunkIds.insert(chunkPlan(i).objectId);
            for (const QJsonValue &v : r.json.value(QStringLiteral("results")).toArray()) {
                const QJsonObject o = v.toObject();
                const QString id = o.value(QStringLiteral("objectId")).toString();
                const QString owner = o.value(QStringLiteral("user")).toObject().value(QStringLiteral("objectId")).toString();
                if (owner != m_userId) {
                    // Someone else's, visible through an organization's role
                    // (or made with the master key): never ours to resume,
                    // and its ids never clash with ours (they carry the
                    // owner's prefix). But the batch id names one Temporal
                    // workflow for everybody (batch-<id>): once theirs has
                    // started, ours could not, so that is refused. A request
                    // that never started (planted by hand) is left alone.
                    const QString status = o.value(QStringLiteral("status")).toString();
                    if (!o.value(QStringLiteral("workflowRunId")).toString().isEmpty()
                        || status != QLatin1String(BatchStatus::Pending)) {
                        fail(InvalidInputError, tr("batch id %1 is used by another user's batch (request %2, status %3), and a "
                                                   "batch id names one workflow for all users (%4): choose another")
                                                    .arg(m_status.batchId, id, status,
                                                         BatchRequest::workflowIdFor(o.value(QStringLiteral("batchId")).toString())));
                        return;
                    }
                    qCDebug(lcSubmit) << "batch" << m_status.batchId << ": request" << id
                                      << "is another user's and never started; not ours, left alone";
                    continue;
                }
                if (o.value(QStringLiteral("inputSha256")).toString() != ours) {
                    fail(InvalidInputError, tr("batch id %1 is already taken by another input (request %2, status %3); choose another")
                                                .arg(m_status.batchId, id, o.value(QStringLiteral("status")).toString()));
                    return;
                }
                if (!chunkIds.contains(id)) {
                    // The same input under this id, cut otherwise: its chunks
                    // would clash with ours.
                    fail(InvalidInputError, tr("batch id %1 was submitted before with other options (request %2): send it with the "
                                               "same chunk size, dedup and webhook, or choose another batch id")
                                                .arg(m_status.batchId, id));
                    return;
                }
                m_sentBefore.insert(id, o);
            }
            pump();
        },
        BatchRequest::MaxChunks, QStringLiteral("batchId"));
}

void SubmitJob::pump()
{
    if (isFinished())
        return;
    const int chunks = int(m_scan.chunks.size());
    if (m_stopping || !m_firstError.isEmpty()) {
        // Nothing new; what is in flight ends on its own.
        m_chunks->dropQueued();
        if (m_chunks->runningSubjobCount() > 0 || m_encoding > 0)
            return;
        if (m_firstErrorCode != KilledError)
            fail(m_firstErrorCode, m_firstError);
        else if (!m_planned)
            fail(KilledError, tr("stopped while reading %1: nothing was sent").arg(m_source));
        else
            fail(KilledError, tr("stopped: %1 of %2 chunks of batch %3 sent; the same command sent again sends the rest")
                                  .arg(m_sent)
                                  .arg(chunks)
                                  .arg(m_status.batchId));
        return;
    }
    // Encode ahead as far as there are send slots to take the results, and
    // pool threads to do it (two, or more with more cores).
    const int encoders = std::max(2, QThread::idealThreadCount());
    const int ahead = m_options.dryRun ? 0 : m_options.inFlight;
    while (m_nextChunk < chunks && m_encoding < encoders
           && int(m_chunks->subjobs().size()) + m_encoding < ahead + encoders) {
        const int index = m_nextChunk++;
        if (m_sentBefore.contains(chunkPlan(index).objectId)) {
            if (index < m_scan.encoded.size())
                m_scan.encoded[index] = {};
            send(index, {}); // sent before: nothing to encode
            if (isFinished())
                return;
            continue;
        }
        ++m_encoding;
        if (index < m_scan.encoded.size()) { // gzipped while the input was read
            QMetaObject::invokeMethod(
                this, [this, index, gzip = std::exchange(m_scan.encoded[index], {})] { chunkEncoded(index, gzip, {}); },
                Qt::QueuedConnection);
            continue;
        }
        // Its end comes as an event, never inside this loop (a small chunk
        // can be done before a continuation could be attached). The task
        // keeps the spool; the result is taken out of the future, which
        // would otherwise hold it for as long as the upload takes.
        auto *watcher = new QFutureWatcher<Encoded>(this);
        connect(watcher, &QFutureWatcherBase::finished, this, [this, watcher, index] {
            watcher->deleteLater();
            const Encoded e = watcher->future().takeResult();
            chunkEncoded(index, e.gzip, e.error);
        });
        watcher->setFuture(QtConcurrent::run([shared = m_shared, span = m_scan.chunks.at(index), level = m_options.compressionLevel] {
            return encodeFromSpool(shared->spoolFd, span, level);
        }));
    }
    if (m_progress.phase == BatchProgress::Phase::Reading)
        enter(m_options.dryRun ? BatchProgress::Phase::Encoding : BatchProgress::Phase::Uploading);
    if (m_nextChunk == chunks && m_encoding == 0 && m_chunks->subjobs().isEmpty()) {
        if (m_options.dryRun)
            dryRunDone();
        else
            allSent();
    }
}

void SubmitJob::send(int index, const QByteArray &gzip)
{
    ChunkPlan plan = chunkPlan(index);
    plan.gzip = gzip;
    plan.existing = m_sentBefore.value(plan.objectId);
    // created_at is stamped by the chunk when its send begins.
    plan.batchMetadata = QJsonObject{
        {QStringLiteral("memory_count"), plan.count},
        {QStringLiteral("total_size_bytes"), plan.jsonBytes},
        {QStringLiteral("compressed_size_bytes"), plan.gzip.size()},
        {QStringLiteral("compression_ratio"), qRound(double(plan.jsonBytes) / double(std::max<qsizetype>(1, plan.gzip.size())) * 100) / 100.0},
        {QStringLiteral("chunk_num"), plan.number},
        {QStringLiteral("total_chunks"), plan.total},
        {QStringLiteral("parent_batch_id"), m_status.batchId},
        {QStringLiteral("submission_memory_count"), m_scan.kept},
        {QStringLiteral("input_items"), m_scan.items},
        {QStringLiteral("invalid_skipped"), m_scan.invalid},
        {QStringLiteral("duplicates_dropped"), m_scan.duplicates},
        {QStringLiteral("dedup"), dedupName(m_options.dedup)},
        {QStringLiteral("source"), QFileInfo(m_source).fileName()},
    };
    auto *job = new ChunkSubmitJob(&m_parse, &m_temporal, std::move(plan));
    job->onUpload = [this, last = qint64(0)](qint64 sent, qint64) mutable {
        m_uploadedBytes += sent - last;
        last = sent;
        m_progress.bytesDone = m_uploadedBytes;
        setProgress(m_progress);
    };
    // Started by the composite when one of its inFlight slots is free.
    if (!m_chunks->addSubjob(job)) {
        const int number = job->plan().number;
        delete job;
        if (m_firstError.isEmpty()) { // not expected: the composite ended before the submission
            m_firstErrorCode = ServerError;
            m_firstError = tr("chunk %1 of batch %2 could not be queued for sending").arg(number).arg(m_status.batchId);
        }
    }
}

void SubmitJob::chunkEncoded(int index, const QByteArray &gzip, const QString &error)
{
    --m_encoding;
    if (!error.isEmpty() && m_firstError.isEmpty()) {
        m_firstErrorCode = ConfigurationError;
        m_firstError = error;
    } else if (gzip.size() > BatchRequest::MaxFileBytes && m_firstError.isEmpty()) {
        m_firstErrorCode = InvalidInputError;
        m_firstError = tr("chunk %1 compresses to %2 bytes, more than the %3 a Parse file may hold: use a smaller --chunk-bytes")
                           .arg(index + 1)
                           .arg(gzip.size())
                           .arg(BatchRequest::MaxFileBytes);
    } else if (error.isEmpty()) {
        m_compressedBytes += gzip.size();
        if (m_nextChunk == int(m_scan.chunks.size()) && m_encoding == 0)
            m_progress.bytesTotal = m_compressedBytes; // all there is to upload
        if (!m_stopping && m_firstError.isEmpty() && !m_options.dryRun) {
            send(index, gzip);
            if (isFinished())
                return;
        }
    }
    if (m_options.dryRun) {
        m_progress.chunksDone = m_nextChunk - m_encoding;
        setProgress(m_progress);
    }
    pump();
}

void SubmitJob::chunkSent(ChunkSubmitJob *job)
{
    // The composite deletes the job after this.
    if (m_scan.chunks.size() == 1) { // the chunk is the batch
        const BatchStatus s = job->status();
        m_status.requestId = s.requestId;
        m_status.workflowId = s.workflowId;
        m_status.workflowRunId = s.workflowRunId;
        m_status.status = s.status;
        m_status.dataFileUrl = s.dataFileUrl;
        m_status.createdAt = s.createdAt;
        m_status.errors = s.errors;
        setBatch(m_status);
    }
    if (job->error()) {
        if (m_firstError.isEmpty() || m_firstErrorCode == KilledError) {
            m_firstErrorCode = job->error();
            m_firstError = job->plan().total > 1
                ? tr("%1 (%2 of %3 chunks sent; the same command sent again sends the rest)")
                      .arg(job->errorString())
                      .arg(m_sent)
                      .arg(job->plan().total)
                : job->errorString();
        }
    } else {
        ++m_sent;
        if (job->wasResumed())
            ++m_resumed;
        m_progress.chunksDone = m_sent;
        setProgress(m_progress);
    }
    pump();
}

void SubmitJob::allSent()
{
    m_status.compressedBytes = m_compressedBytes;
    m_status.chunksFound = m_sent;
    setBatch(m_status);
    if (m_resumed == m_sent)
        emitInfo(tr("batch %1 was submitted before: its %2 chunk(s) were found, nothing was sent again").arg(m_status.batchId).arg(m_sent));
    else if (m_resumed)
        emitInfo(tr("batch %1: %2 of %3 chunks were there already, the rest were sent").arg(m_status.batchId).arg(m_resumed).arg(m_sent));
    m_progress.status = m_status.status;
    m_progress.bytesDone = m_progress.bytesTotal = 0;
    if (!enter(BatchProgress::Phase::Queued))
        return;
    if (m_options.waitForCompletion)
        follow();
    else
        finish();
}

void SubmitJob::dryRunDone()
{
    m_status.compressedBytes = m_compressedBytes;
    m_status.status.clear();
    setBatch(m_status);
    // Its last phase is Encoding, every chunk encoded: nothing was stored,
    // and no batch is done.
    m_progress.chunksDone = m_progress.chunks;
    m_progress.processed = m_progress.total;
    m_progress.bytesDone = m_compressedBytes;
    setProgress(m_progress);
    finish();
}

void SubmitJob::follow()
{
    WatchOptions options;
    options.pollIntervalMs = m_options.pollIntervalMs;
    m_watch = WatchJob::onSession(m_nam, m_settings, m_parse.sessionToken(), m_status.batchId, options, this);
    m_watch->setSession(m_parse.session());
    connect(m_watch, &Job::progressChanged, this, [this](const BatchProgress &p) { setProgress(p); });
    connect(m_watch, &Job::result, this, [this](Job *job) {
        const auto *watch = static_cast<WatchJob *>(job);
        if (!watch->batch().batchId.isEmpty()) {
            BatchStatus s = watch->batch();
            s.inputItems = m_status.inputItems;
            s.invalidItems = m_status.invalidItems;
            s.duplicateItems = m_status.duplicateItems;
            setBatch(s);
        }
        setError(watch->error(), watch->errorString());
        finish();
    });
    m_watch->start();
}

void SubmitJob::fail(const ApiResult &r, const QString &what)
{
    fail(r.error, QStringLiteral("%1: %2").arg(what, r.message));
}

void SubmitJob::fail(int error, const QString &message)
{
    if (isFinished())
        return;
    qCDebug(lcSubmit) << "failed:" << message;
    setError(error, message);
    // Chunks in flight end first: a file is never left without its request.
    m_firstErrorCode = error;
    m_firstError = message;
    m_shared->cancel = true;
    m_chunks->dropQueued();
    if (m_chunks->runningSubjobCount() > 0 || m_encoding > 0)
        return; // pump() comes back here when they have
    if (!m_scanned && m_scanWatcher.isRunning()) {
        // The scan stops at its next piece; its result is not needed.
        m_scanWatcher.disconnect(this);
    }
    finish();
}

void SubmitJob::finish()
{
    if (isFinished() || m_finishing)
        return;
    m_finishing = true;
    m_readingTimer.stop();
    m_shared->cancel = true;
    m_scanWatcher.disconnect(this);
    // Nothing is left in flight when the result comes (a host may exit on
    // it): a sign-in on its way is waited for, so its session is ended too.
    if (m_signingIn)
        return;
    RestClient::abortAll(this);
    m_parse.signOut(this, [this] { emitResult(); });
}

} // namespace membatch
