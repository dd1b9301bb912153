#include <membatch/job.h>

#include <QMetaObject>

namespace membatch {

class JobPrivate
{
public:
    enum class State { Created, Starting, Running, Finished };
    State state = State::Created;
    int error = Job::NoError;
    QString errorString;
    bool autoDelete = true;
    BatchProgress progress;
};

Job::Job(QObject *parent)
    : QObject(parent)
    , d(new JobPrivate)
{
    qRegisterMetaType<membatch::BatchProgress>();
    qRegisterMetaType<membatch::BatchStatus>();
    qRegisterMetaType<QList<membatch::ItemResult>>();
}

Job::~Job() = default;

void Job::start()
{
    if (d->state != JobPrivate::State::Created)
        return;
    d->state = JobPrivate::State::Starting;
    QMetaObject::invokeMethod(
        this,
        [this] {
            if (d->state != JobPrivate::State::Starting)
                return; // killed before the event loop got here
            d->state = JobPrivate::State::Running;
            doStart();
        },
        Qt::QueuedConnection);
}

bool Job::kill()
{
    if (d->state == JobPrivate::State::Finished)
        return false;
    if (d->state == JobPrivate::State::Running && !doKill())
        return false;
    if (d->state == JobPrivate::State::Finished)
        return true; // doKill() ended it (a sub-job's result, say)
    setError(KilledError, tr("Stopped before it finished."));
    emitResult();
    return true;
}

bool Job::doKill()
{
    return true;
}

bool Job::stop()
{
    if (d->state == JobPrivate::State::Finished)
        return false;
    if (d->state == JobPrivate::State::Running && doStop())
        return true;
    return kill();
}

bool Job::doStop()
{
    return false;
}

int Job::error() const
{
    return d->error;
}

QString Job::errorString() const
{
    return d->errorString;
}

bool Job::isFinished() const
{
    return d->state == JobPrivate::State::Finished;
}

bool Job::isAutoDelete() const
{
    return d->autoDelete;
}

void Job::setAutoDelete(bool autoDelete)
{
    d->autoDelete = autoDelete;
}

BatchProgress Job::progress() const
{
    return d->progress;
}

void Job::setError(int code, const QString &text)
{
    if (d->state == JobPrivate::State::Finished)
        return; // the result has been told; late work must not change it
    d->error = code;
    d->errorString = text;
}

void Job::setProgress(const BatchProgress &progress)
{
    if (d->state == JobPrivate::State::Finished || progress == d->progress)
        return;
    d->progress = progress;
    Q_EMIT progressChanged(d->progress, QPrivateSignal());
}

void Job::emitInfo(const QString &message)
{
    if (d->state == JobPrivate::State::Finished)
        return;
    Q_EMIT infoMessage(message, QPrivateSignal());
}

void Job::emitResult()
{
    if (d->state == JobPrivate::State::Finished)
        return;
    d->state = JobPrivate::State::Finished;
    Q_EMIT result(this, QPrivateSignal());
    if (d->autoDelete)
        deleteLater();
}

void ResultsJob::emitItems(const QList<ItemResult> &items)
{
    if (!isFinished())
        Q_EMIT itemsReady(items, QPrivateSignal());
}

void MonitorJob::addBatch(const QString &batchId)
{
    if (isFinished() || batchId.isEmpty() || m_order.contains(batchId))
        return;
    m_order.append(batchId);
    doAddBatch(batchId);
}

void MonitorJob::updateBatch(const BatchStatus &batch, const BatchProgress &progress)
{
    if (isFinished() || !m_order.contains(batch.batchId))
        return;
    const auto known = m_progress.constFind(batch.batchId);
    const bool changed = known == m_progress.cend() || *known != progress
        || m_batches.value(batch.batchId).toJson() != batch.toJson();
    m_batches.insert(batch.batchId, batch);
    m_progress.insert(batch.batchId, progress);
    if (changed)
        Q_EMIT batchChanged(batch, progress, QPrivateSignal());
}

} // namespace membatch
