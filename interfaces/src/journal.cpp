#include <membatch/journal.h>

#include "journal_p.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLockFile>
#include <QLoggingCategory>
#include <QSaveFile>
#include <QStandardPaths>
#include <QUrl>

#include <algorithm>
#include <functional>

Q_LOGGING_CATEGORY(lcJournal, "membatch.journal", QtWarningMsg)

namespace membatch {

namespace {

constexpr int FormatVersion = 1;
void (*s_beforeCommit)() = nullptr;

QString tr(const char *text)
{
    return QCoreApplication::translate("membatch::Journal", text);
}

QString iso(const QDateTime &at)
{
    return at.isValid() ? at.toUTC().toString(Qt::ISODateWithMs) : QString();
}

QDateTime fromIso(const QJsonValue &value)
{
    QDateTime at = QDateTime::fromString(value.toString(), Qt::ISODateWithMs);
    return at.isValid() ? at.toUTC() : QDateTime();
}

// A missing journal is empty; anything else that is not one is an error,
// and the file is left for its owner to look at.
bool readEntries(const QString &path, QList<JournalEntry> *entries, QString *error)
{
    entries->clear();
    QFile file(path);
    if (!file.exists())
        return true;
    if (!file.open(QIODevice::ReadOnly)) {
        *error = tr("journal %1: cannot read it: %2").arg(path, file.errorString());
        return false;
    }
    const QByteArray data = file.readAll();
    auto corrupt = [&](const QString &why) {
        *error = tr("journal %1 is not a membatch journal (%2): it is left as it is; move it away to start a new one").arg(path, why);
        return false;
    };
    QJsonParseError parse;
    const QJsonDocument doc = QJsonDocument::fromJson(data, &parse);
    if (parse.error != QJsonParseError::NoError)
        return corrupt(tr("%1 at byte %2").arg(parse.errorString()).arg(parse.offset));
    if (!doc.isObject() || !doc.object().value(QStringLiteral("entries")).isArray())
        return corrupt(tr("no \"entries\" array"));
    const int version = doc.object().value(QStringLiteral("version")).toInt();
    if (version > FormatVersion)
        return corrupt(tr("format %1, of a newer membatch").arg(version));
    const QJsonArray array = doc.object().value(QStringLiteral("entries")).toArray();
    for (qsizetype i = 0; i < array.size(); ++i) {
        const JournalEntry entry = JournalEntry::fromJson(array.at(i).toObject());
        if (!array.at(i).isObject() || entry.batchId.isEmpty() || entry.server.isEmpty())
            return corrupt(tr("entry %1 has no batch id or server").arg(i));
        entries->append(entry);
    }
    return true;
}

bool writeEntries(const QString &path, const QList<JournalEntry> &entries, QString *error)
{
    QJsonArray array;
    for (const JournalEntry &e : entries)
        array.append(e.toJson());
    const QJsonObject root{{QStringLiteral("version"), FormatVersion}, {QStringLiteral("entries"), array}};
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        *error = tr("journal %1: cannot write it: %2").arg(path, file.errorString());
        return false;
    }
    // Batch ids and user names: the owner's business only.
    file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    if (file.write(QJsonDocument(root).toJson(QJsonDocument::Indented)) < 0) {
        *error = tr("journal %1: cannot write it: %2").arg(path, file.errorString());
        return false;
    }
    if (s_beforeCommit)
        s_beforeCommit();
    if (!file.commit()) {
        *error = tr("journal %1: cannot write it: %2").arg(path, file.errorString());
        return false;
    }
    return true;
}

// A read, change and write under the journal's lock. change() returns
// whether it changed anything (nothing is written otherwise).
bool changeJournal(const QString &path, int lockTimeoutMs, QString *error,
                   const std::function<bool(QList<JournalEntry> &)> &change)
{
    const QFileInfo info(path);
    if (!QDir().mkpath(info.absolutePath())) {
        *error = tr("journal %1: cannot create its directory %2").arg(path, info.absolutePath());
        return false;
    }
    // A lock of a process that is gone (killed, crashed) is stale and taken
    // over at once; one older than the stale time (30 s) too: no change
    // holds it for more than a few milliseconds.
    QLockFile lock(path + QStringLiteral(".lock"));
    if (!lock.tryLock(lockTimeoutMs)) {
        if (lock.error() == QLockFile::LockFailedError) {
            qint64 pid = 0;
            QString host, app;
            lock.getLockInfo(&pid, &host, &app);
            *error = tr("journal %1 is locked by %2 (pid %3 on %4) for more than %5 ms")
                         .arg(path, app.isEmpty() ? tr("another process") : app)
                         .arg(pid)
                         .arg(host.isEmpty() ? tr("this host") : host)
                         .arg(lockTimeoutMs);
        } else {
            *error = tr("journal %1: cannot create its lock file %1.lock").arg(path);
        }
        return false;
    }
    QList<JournalEntry> entries;
    if (!readEntries(path, &entries, error))
        return false;
    if (!change(entries))
        return true;
    return writeEntries(path, entries, error);
}

} // namespace

void journal_test::setBeforeCommitHook(void (*hook)())
{
    s_beforeCommit = hook;
}

QString JournalEntry::serverKey(const QString &parseUrl, const QString &applicationId)
{
    // The same server however it was typed (a trailing slash, a password).
    const QUrl url = QUrl(parseUrl).adjusted(QUrl::RemoveUserInfo | QUrl::RemoveQuery | QUrl::RemoveFragment
                                             | QUrl::StripTrailingSlash | QUrl::NormalizePathSegments);
    return url.toString() + QLatin1Char('|') + applicationId;
}

QJsonObject JournalEntry::toJson() const
{
    QJsonObject json{{QStringLiteral("batchId"), batchId},
                     {QStringLiteral("server"), server},
                     {QStringLiteral("user"), user},
                     {QStringLiteral("source"), source},
                     {QStringLiteral("submittedAt"), iso(submittedAt)},
                     {QStringLiteral("status"), status}};
    if (finishedAt.isValid())
        json.insert(QStringLiteral("finishedAt"), iso(finishedAt));
    return json;
}

JournalEntry JournalEntry::fromJson(const QJsonObject &json)
{
    JournalEntry e;
    e.batchId = json.value(QStringLiteral("batchId")).toString();
    e.server = json.value(QStringLiteral("server")).toString();
    e.user = json.value(QStringLiteral("user")).toString();
    e.source = json.value(QStringLiteral("source")).toString();
    e.submittedAt = fromIso(json.value(QStringLiteral("submittedAt")));
    e.status = json.value(QStringLiteral("status")).toString();
    e.finishedAt = fromIso(json.value(QStringLiteral("finishedAt")));
    return e;
}

Journal::Journal(const QString &path)
    : m_path(path.isEmpty() ? defaultPath() : path)
{
}

QString Journal::defaultPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + QStringLiteral("/journal.json");
}

bool Journal::record(const JournalEntry &entry)
{
    m_error.clear();
    return changeJournal(m_path, m_lockTimeoutMs, &m_error, [&entry](QList<JournalEntry> &entries) {
        for (JournalEntry &e : entries) {
            if (e.server == entry.server && e.user == entry.user && e.batchId == entry.batchId) {
                const QDateTime submittedAt = e.submittedAt.isValid() ? e.submittedAt : entry.submittedAt;
                e = entry;
                e.submittedAt = submittedAt;
                return true;
            }
        }
        entries.append(entry);
        return true;
    });
}

bool Journal::update(const QString &server, const QString &batchId, const QString &status, bool final, const QDateTime &at)
{
    m_error.clear();
    return changeJournal(m_path, m_lockTimeoutMs, &m_error, [&](QList<JournalEntry> &entries) {
        bool changed = false;
        for (JournalEntry &e : entries) {
            if (e.server != server || e.batchId != batchId)
                continue;
            const QDateTime finishedAt = final ? (e.finishedAt.isValid() ? e.finishedAt : at.toUTC()) : QDateTime();
            if (e.status == status && e.finishedAt == finishedAt)
                continue;
            e.status = status;
            e.finishedAt = finishedAt;
            changed = true;
        }
        return changed;
    });
}

QList<JournalEntry> Journal::entries(bool *ok) const
{
    // No lock: a change replaces the file in one rename, so a reader sees
    // the journal before it or after it.
    m_error.clear();
    QList<JournalEntry> list;
    const bool read = readEntries(m_path, &list, &m_error);
    if (ok)
        *ok = read;
    std::stable_sort(list.begin(), list.end(),
                     [](const JournalEntry &a, const JournalEntry &b) { return a.submittedAt < b.submittedAt; });
    return list;
}

QList<JournalEntry> Journal::unfinished(const QString &server, const QString &user, bool *ok) const
{
    QList<JournalEntry> list = entries(ok);
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const JournalEntry &e) { return e.isFinished() || e.server != server || e.user != user; }),
               list.end());
    return list;
}

int Journal::prune(const QDateTime &finishedBefore)
{
    m_error.clear();
    int removed = 0;
    const bool ok = changeJournal(m_path, m_lockTimeoutMs, &m_error, [&](QList<JournalEntry> &entries) {
        removed = int(entries.removeIf([&](const JournalEntry &e) { return e.isFinished() && e.finishedAt < finishedBefore; }));
        return removed > 0;
    });
    if (ok && removed)
        qCDebug(lcJournal) << "pruned" << removed << "finished entries from" << m_path;
    return ok ? removed : -1;
}

JournalTracker::JournalTracker(Journal *journal, const QString &server, const QString &user, QObject *parent)
    : JobTracker(parent)
    , m_journal(journal)
    , m_server(server)
    , m_user(user)
{
}

void JournalTracker::jobRegistered(Job *job)
{
    if (m_source.isEmpty())
        return;
    m_submissions.insert(job, {m_source, QString()});
    // A job deleted without a result: its address may be a new job's later.
    connect(job, &QObject::destroyed, this, [this, job] { m_submissions.remove(job); });
}

void JournalTracker::batchChanged(Job *job, const BatchStatus &batch, const BatchProgress &progress)
{
    const QString id = batch.batchId.isEmpty() ? progress.batchId : batch.batchId;
    if (id.isEmpty())
        return;
    QString status = batch.outcome();
    if (status.isEmpty())
        status = progress.status.isEmpty() ? QString::fromLatin1(BatchStatus::Pending) : progress.status;
    const bool final = batch.isFinal();
    const QString written = status + (final ? QStringLiteral(" final") : QString());

    const auto submission = m_submissions.find(job);
    if (submission != m_submissions.end() && submission->batchId != id) {
        // The submission's id is known: record it before anything else
        // happens to the host.
        submission->batchId = id;
        JournalEntry entry;
        entry.batchId = id;
        entry.server = m_server;
        entry.user = m_user;
        entry.source = submission->source;
        entry.submittedAt = QDateTime::currentDateTimeUtc();
        entry.status = status;
        if (final)
            entry.finishedAt = entry.submittedAt;
        m_lastStatus.insert(id, written);
        if (!m_journal->record(entry))
            Q_EMIT journalFailed(m_journal->errorString());
        return;
    }
    if (m_lastStatus.value(id) == written)
        return;
    // Set first: a journal that cannot be written is said once a change,
    // not at every progress.
    m_lastStatus.insert(id, written);
    if (!m_journal->update(m_server, id, status, final))
        Q_EMIT journalFailed(m_journal->errorString());
}

void JournalTracker::finished(Job *job)
{
    const Submission submission = m_submissions.take(job);
    bool ended = false;
    auto write = [this, &ended](const QString &id, const QString &status, bool final) {
        ended = ended || final;
        const QString written = status + (final ? QStringLiteral(" final") : QString());
        if (m_lastStatus.value(id) == written)
            return;
        m_lastStatus.insert(id, written);
        if (!m_journal->update(m_server, id, status, final))
            Q_EMIT journalFailed(m_journal->errorString());
    };
    if (auto *monitor = qobject_cast<MonitorJob *>(job)) {
        const QStringList ids = monitor->batchIds();
        for (const QString &id : ids) {
            const BatchStatus batch = monitor->batch(id);
            if (batch.isFinal())
                write(id, batch.outcome(), true);
        }
    } else if (auto *batchJob = qobject_cast<BatchJob *>(job)) {
        const BatchStatus batch = batchJob->batch();
        const QString id = batch.batchId.isEmpty() ? submission.batchId : batch.batchId;
        if (!id.isEmpty() && batch.isFinal()) {
            write(id, batch.outcome(), true);
        } else if (!submission.batchId.isEmpty() && job->error() != Job::NoError
                   && job->progress().phase < BatchProgress::Phase::Queued) {
            // A submission that stopped before all of it was sent will not
            // end by itself: nothing to watch until it is sent again (which
            // records it again).
            write(submission.batchId, QStringLiteral("unsent"), true);
        }
    }
    if (ended && m_journal->prune(QDateTime::currentDateTimeUtc().addMSecs(-m_keepFinishedMs)) < 0)
        Q_EMIT journalFailed(m_journal->errorString());
}

} // namespace membatch
