#pragma once

#include "parseclient.h"

#include <membatch/batchoptions.h>
#include <membatch/job.h>

#include <QDateTime>
#include <QSet>

#include <functional>

namespace membatch {

// `membatch gc`: see IBatchProcessor::cleanUp. With the master key only.
//
// (a) A request that ended (completed, partial_failure, failed, canceled)
// before now - olderThanMs and still has its batchDataFile: the file is
// deleted, and if the request has a resultsFile, its BatchResultPage rows
// (the file holds the same), then the field is cleared and the file's
// MembatchFile row deleted. resultsFile stays: it is the batch's record.
// (b) A MembatchFile row older than now - orphanGraceMs whose file no File
// field of any class points to: the file and the row are deleted.
// Nothing else is touched: no request that has not ended, no file that an
// object points to. With dryRun the same queries run and nothing changes.
//
// Each removal (or, dry, each that would be) is one infoMessage(), and so
// is each failure; the last message sums up. A failure of one removal does
// not stop the others; the job then ends with ServerError saying how many
// failed. Everything it does is safe to run again: a second run finds
// nothing left, and one after a failure picks up what is left.
//
// MembatchFile is the registry that resources/cloud/main.js keeps of every
// upload, since Parse's REST API cannot list files: a file uploaded before
// the registry existed is unknown here and never removed as an orphan.
class CleanupJob : public Job
{
    Q_OBJECT
public:
    CleanupJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const CleanupOptions &options,
               QObject *parent = nullptr);

    static inline const QString RegistryClassName = QStringLiteral("MembatchFile");
    static constexpr int PageSize = 100;
    // The registry is read in smaller pages: their names go into the query
    // string of the next query (Node refuses request heads over 16 KiB).
    static constexpr int OrphanPageSize = 25;

protected:
    void doStart() override;
    bool doKill() override;

private:
    using Done = std::function<void(const ApiResult &)>;

    // (a) The requests that ended before the cutoff, a page at a time.
    void nextRequestPage();
    void nextRequest();
    // One request's batch file, as far as it is known.
    struct BatchFile
    {
        QString requestId;
        QString name;
        QString about;          // "batch file of batch B (request R, ended …)"
        bool hasResults = false; // the request has a resultsFile
        QStringList rowIds;     // its MembatchFile rows
        qint64 size = -1;       // from the registry; -1: unknown
    };
    void cleanRequest(const QJsonObject &request);
    void removeBatchFile(const BatchFile &file);
    void clearBatchFileField(const BatchFile &file, bool wasGone, int pages);
    void reportBatchFile(const BatchFile &file, bool wasGone, int pages);
    // Deletes a request's result pages, a page of them at a time, from after.
    void removeResultPages(const QString &requestId, const QString &after, int removed,
                           const std::function<void(const ApiResult &, int removed)> &done);

    // (b) Orphans: which File fields there are, a check that a query by
    // file name finds what it should, then the registry a page at a time.
    void readFileFields();
    void checkFileQuery(int index);
    void nextOrphanPage();
    void findReferences(int classIndex, const QString &after);
    void nextOrphan();
    struct Orphan
    {
        QString rowId; // in MembatchFile
        QString name;
        QDateTime uploaded;
        qint64 size = -1;
    };
    void removeOrphan(const Orphan &orphan);
    void reportOrphan(const Orphan &orphan, bool wasGone);

    // Deletes a file; wasGone: it was not there (any more).
    void removeFile(const QString &name, const std::function<void(const ApiResult &, bool wasGone)> &done);
    // Deletes objects of a class through /batch; r is not ok if any failed.
    void deleteObjects(const QString &className, const QStringList &ids, const Done &done);
    // One removal failed: say so and go on.
    void failed(const QString &what);
    // The summary line, then the result: fatal (if not ok) ends the run early.
    void finish(const ApiResult &fatal = {}, const QString &during = {});

    QString dryOr(const QString &done) const;
    // Adds a removed file's size to the bytes, or counts it as unknown (-1).
    void countBytes(qint64 size);

    ConnectionSettings m_settings;
    CleanupOptions m_options;
    ParseClient m_parse;

    QDateTime m_endedBefore;    // (a): requests that ended before this
    QDateTime m_uploadedBefore; // (b): registry rows created before this

    QJsonArray m_page; // the page of requests or registry rows at hand
    qsizetype m_pageIndex = 0;
    QString m_after;   // keyset: the last objectId of the page before

    // Every class with File fields, and the fields (from the schema).
    QList<QPair<QString, QStringList>> m_fileFields;
    QSet<QString> m_referenced; // names on this page of the registry that an object points to

    int m_batchFiles = 0;
    int m_orphans = 0;
    int m_resultPages = 0;
    qint64 m_bytes = 0;
    int m_unknownSizes = 0;
    int m_failures = 0;
    QString m_firstFailure;
};

} // namespace membatch
