#pragma once

#include <QByteArray>
#include <QMetaType>
#include <QString>
#include <QUrl>

namespace membatch {

// How to submit or follow a batch.
struct BatchOptions
{
    QString batchId;            // empty: a new UUID
    int compressionLevel = 6;   // gzip level, 1..9
    bool waitForCompletion = false; // submit: follow the batch until it ends
    int pollIntervalMs = 1000;  // watch: how often to look at Parse and Temporal
    bool once = false;          // watch: report the current state and stop
    // submit: POST a signed summary here when the batch has ended (Standard
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

// How a reference worker runs.
struct WorkerOptions
{
    QString identity;           // empty: membatch-worker@<host>:<pid>
    int maxTasks = 0;           // 0: run until killed
    int concurrency = 2;        // tasks run at once (1..64)
    int pollers = 2;            // long polls in flight at most, never more than free slots (1..64)
    int groupSize = 100;        // memories stored per /batch call at most (1..1000; fewer if they are large)
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

Q_DECLARE_METATYPE(membatch::BatchOptions)
Q_DECLARE_METATYPE(membatch::WorkerOptions)
Q_DECLARE_METATYPE(membatch::ResultsOptions)
Q_DECLARE_METATYPE(membatch::CleanupOptions)
