#pragma once

#include <QByteArray>
#include <QDateTime>
#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QUrl>

namespace membatch {

// How to follow a batch (watch, status, cancel --wait).
struct WatchOptions
{
    bool waitForCompletion = false; // cancel: follow the batch until it ends
    // How often to look at Parse and Temporal: with push (LiveQuery) this
    // is how often the workflow is looked at; without it, Parse too.
    int pollIntervalMs = 1000;
    bool once = false;          // report the current state and stop
    // Push: follow the requests through Parse LiveQuery (one WebSocket for
    // every batch watched), looking again at each reconnect; off, or when
    // LiveQuery cannot be reached, poll.
    bool push = true;
    // A batch that is not final and has not moved for this long is reported
    // stalled (it keeps being watched); 0: never.
    qint64 stalledAfterMs = 5 * 60 * 1000;
    // A monitor: keep running when every batch watched has ended, for
    // batches added later (a dashboard); off, it ends with the last.
    bool follow = false;
};

// Which batches `list` shows: newest first (createdAt, then objectId), a
// page at a time. A submission of several chunks is one row (its parent).
struct ListOptions
{
    QStringList statuses; // only these outcomes ("processing", "failed", ...); empty: all
    QDateTime since;      // created at or after this; invalid: any time
    int limit = 50;       // rows a page (1..1000)
    // The page after the one that ended with this cursor (ListJob::nextCursor()).
    QString cursor;
};

// What an item may be. The defaults are the PRD's (10 MiB of content) and
// what Parse Server and PostgreSQL take; lower them to taste.
struct ValidationLimits
{
    qint64 maxContentBytes = 10 * 1024 * 1024; // PRD MAX_MEMORY_SIZE
    // The whole item as compact JSON: the worker stores each memory in one
    // Parse request, and Parse takes at most 20 MiB a request.
    qint64 maxItemBytes = 16 * 1024 * 1024;
    int maxTags = 100;
    int maxTagLength = 256;
    qint64 maxMetadataBytes = 1024 * 1024;
    int maxMetadataDepth = 32;
    int maxEmbeddingDimension = 16000; // pgvector's limit
};

// How to submit a batch file.
struct SubmitOptions
{
    // The submission's id (the batch id of its only chunk, or the parent id
    // of its chunks). Empty: derived from the submission's identity, so the
    // same submission sent again answers with the same id.
    QString batchId;
    // Fixes the submission's identity instead of its content: the same key
    // with the same input resumes, with another input is refused.
    QString idempotencyKey;
    int compressionLevel = 7;    // gzip level, 1..12 (libdeflate; 7 is the first at least as small as `gzip -6`)
    int chunkItems = 1000;       // memories per chunk at most (the seeds' MAX_BATCH_SIZE)
    // JSON bytes per chunk at most (4 KiB to 256 MiB), decided before
    // compression so that the chunks (and their count) are known before
    // anything is written. At the default a chunk's gzip always fits a Parse
    // file (20 MiB); above it, a chunk whose gzip does not stops the
    // submission there, with the chunks before it sent.
    qint64 chunkBytes = 16 * 1024 * 1024;
    int inFlight = 4;            // chunks being uploaded, created and started at once (1..32)
    bool skipInvalid = false;    // leave invalid items out (reported) instead of refusing the input
    enum class Dedup { Off, Content, ContentAndMetadata };
    Dedup dedup = Dedup::Content; // drop items whose normalised content is an earlier item's
    // Where to write a JSON line for each item left out (invalid or a
    // duplicate); empty: nowhere (the counts are still reported).
    QString reportPath;
    bool dryRun = false;         // read, check and compress, report the figures, write nothing
    // The seeds' multi-tenant context, as Parse objectIds: each request
    // points at them (Organization, Namespace, WorkSpace), and a request of
    // an organization is readable by its role, org_<id>, as well as by its
    // user. Only a member of that role may name the organization.
    QString organizationId;
    QString namespaceId;
    QString workspaceId;
    ValidationLimits limits;
    bool waitForCompletion = false; // follow the batch until it ends
    int pollIntervalMs = 1000;      // ... looking this often
    // POST a signed summary here when the batch has ended (Standard
    // Webhooks: webhook-id, webhook-timestamp, webhook-signature headers).
    QUrl webhookUrl;
    // The signing secret, "whsec_" + base64 (MEMBATCH_WEBHOOK_SECRET in the
    // CLI); required with webhookUrl. Stored where no client can read it.
    QByteArray webhookSecret;
};

// Which item results to read, in the order of the file.
struct ResultsOptions
{
    bool failedOnly = false; // only the items that were refused
    qint64 after = -1;       // start after this item index (-1: from the first)
    qint64 limit = 0;        // at most this many (0: all)
};

// What `membatch gc` removes. Needs the master key.
struct CleanupOptions
{
    // The batch files of requests that ended longer ago than this.
    qint64 olderThanMs = 30LL * 24 * 3600 * 1000;
    // Files no request points to, once this old (an upload may be on its way
    // to its request for a while).
    qint64 orphanGraceMs = 24LL * 3600 * 1000;
    bool dryRun = false; // report what would go, remove nothing
};

// What `membatch migrate` does. Needs the master key.
struct MigrateOptions
{
    bool dryRun = false;  // say what would change, change nothing
    QString schemaPath;   // a schema file in Parse's format; empty: the one built in
};

// How a reference worker runs.
struct WorkerOptions
{
    QString identity;           // empty: membatch-worker@<host>:<pid>
    int maxTasks = 0;           // 0: run until killed
    int concurrency = 2;        // tasks run at once (1..64)
    int pollers = 2;            // long polls in flight at most, never more than free slots (1..64)
    int groupSize = 500;        // memories stored per /batch call at most (1..1000; fewer if they are large)
    int groupsInFlight = 2;     // /batch calls in flight per task (1..16)
    int progressIntervalMs = 1000; // the counts on the request are written at most this often
    qint64 shutdownGraceMs = 10000; // stop(): tasks may finish for this long before they are handed back
    qint64 retryForMs = 120000; // a server that is down, or answers 5xx, is asked again for this long before the attempt fails
    // Webhooks: delivery attempts in all, the wait before the second (each
    // next wait is four times longer, at most an hour), and whether hosts on
    // loopback or private networks may be called (never by default: a user
    // must not make the worker reach what only it can reach).
    int webhookAttempts = 6;
    qint64 webhookBackoffMs = 5000;
    bool webhookAllowPrivate = false;
};

} // namespace membatch

Q_DECLARE_METATYPE(membatch::WatchOptions)
Q_DECLARE_METATYPE(membatch::ListOptions)
Q_DECLARE_METATYPE(membatch::SubmitOptions)
Q_DECLARE_METATYPE(membatch::WorkerOptions)
Q_DECLARE_METATYPE(membatch::ResultsOptions)
Q_DECLARE_METATYPE(membatch::CleanupOptions)
Q_DECLARE_METATYPE(membatch::MigrateOptions)
