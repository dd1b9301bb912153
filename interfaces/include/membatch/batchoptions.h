#pragma once

#include <QMetaType>
#include <QString>

namespace membatch {

// How to submit or follow a batch.
struct BatchOptions
{
    QString batchId;            // empty: a new UUID
    int compressionLevel = 6;   // gzip level, 1..9
    bool waitForCompletion = false; // submit: follow the batch until it ends
    int pollIntervalMs = 1000;  // watch: how often to look at Parse and Temporal
    bool once = false;          // watch: report the current state and stop
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
};

} // namespace membatch

Q_DECLARE_METATYPE(membatch::BatchOptions)
Q_DECLARE_METATYPE(membatch::WorkerOptions)
