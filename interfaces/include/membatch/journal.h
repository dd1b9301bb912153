#pragma once

#include <membatch/jobtracker.h>
#include <membatch/membatch_export.h>

#include <QDateTime>
#include <QHash>
#include <QJsonObject>
#include <QList>
#include <QString>

namespace membatch {

// One batch a host submitted, as its journal keeps it.
struct MEMBATCH_EXPORT JournalEntry
{
    QString batchId;
    // Where the batch lives, so that one journal serves several stacks:
    // the Parse URL and application id (JournalEntry::serverKey()) and the
    // user who submitted it (empty: the master key).
    QString server;
    QString user;
    QString source;          // the input's name ("memories.jsonl", "-")
    QDateTime submittedAt;   // UTC
    QString status;          // the last outcome seen ("pending", "completed", ...)
    QDateTime finishedAt;    // UTC; invalid while the batch has not ended
    bool isFinished() const { return finishedAt.isValid(); }

    static QString serverKey(const QString &parseUrl, const QString &applicationId);

    QJsonObject toJson() const;
    static JournalEntry fromJson(const QJsonObject &json);
};

// A host's record of what it submitted, so that `watch --all` (or a
// console) after a restart picks up every batch that had not ended. A JSON
// file in the application's data directory (QStandardPaths); every change
// is a read, change and write under a QLockFile (two hosts at once lose
// nothing), and the write goes through QSaveFile (a crash leaves the old
// journal or the new one, never half of one). Synchronous and small: it is
// read and written a few times per submission, not per item.
class MEMBATCH_EXPORT Journal
{
public:
    // path empty: defaultPath().
    explicit Journal(const QString &path = QString());

    // <AppDataLocation>/journal.json, of the application's name.
    static QString defaultPath();
    QString path() const { return m_path; }

    // Adds the entry, or updates the one with the same server, user and
    // batch id (keeping its submittedAt). False on failure, with errorString().
    bool record(const JournalEntry &entry);
    // Sets the status of the entries of that server and batch id, and
    // finishedAt when the status is final (a status is the batch's, whoever
    // recorded it). A batch the journal does not hold is left out: true.
    bool update(const QString &server, const QString &batchId, const QString &status, bool final,
                const QDateTime &at = QDateTime::currentDateTimeUtc());
    // Every entry, oldest first. A missing journal is empty; an unreadable
    // or corrupt one is an error (and is not overwritten).
    QList<JournalEntry> entries(bool *ok = nullptr) const;
    // The entries of one server and user that have not ended, oldest first.
    QList<JournalEntry> unfinished(const QString &server, const QString &user, bool *ok = nullptr) const;
    // Drops the entries that ended before the cutoff; returns how many, -1 on failure.
    int prune(const QDateTime &finishedBefore);

    QString errorString() const { return m_error; }
    // How long a change waits for another host's lock (a stale lock, of a
    // host that died, is taken over at once).
    void setLockTimeout(int ms) { m_lockTimeoutMs = ms; }

private:
    QString m_path;
    mutable QString m_error;
    int m_lockTimeoutMs = 5000;
};

// Keeps the journal from a host's jobs: a submission is recorded once its
// batch id is known, and each batch a job follows is updated as it changes
// status, then marked finished when it ends. Entries that ended more than
// keepFinishedMs ago are pruned whenever one ends.
class MEMBATCH_EXPORT JournalTracker : public JobTracker
{
    Q_OBJECT
public:
    JournalTracker(Journal *journal, const QString &server, const QString &user, QObject *parent = nullptr);

    void setKeepFinished(qint64 ms) { m_keepFinishedMs = ms; }
    // The input's name for the submissions this tracker records next.
    void setSource(const QString &source) { m_source = source; }
    // The last failure to write the journal (a host says so, and goes on).
    QString errorString() const { return m_journal->errorString(); }

Q_SIGNALS:
    // The journal could not be read or written (what, and which file).
    void journalFailed(const QString &message);

protected:
    // A job registered while a source is set is a submission: its batch is
    // recorded; any other job's batches are only updated. A host registers
    // no dry run.
    void jobRegistered(Job *job) override;
    void batchChanged(Job *job, const BatchStatus &batch, const BatchProgress &progress) override;
    void finished(Job *job) override;

private:
    Journal *m_journal;
    QString m_server;
    QString m_user;
    QString m_source;
    qint64 m_keepFinishedMs = 7LL * 24 * 3600 * 1000;
    QHash<QString, QString> m_lastStatus; // batch id -> status written
    struct Submission
    {
        QString source;
        QString batchId; // once recorded
    };
    QHash<Job *, Submission> m_submissions;
};

} // namespace membatch
