#include "cli.h"

#include "batchtable.h"

#include <membatch/ibatchprocessor.h>
#include <membatch/journal.h>

#include <QCoreApplication>
#include <QDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QTextStream>

#include <cmath>
#include <csignal>
#include <memory>

using namespace membatch;

namespace {

struct CommandSpec
{
    const char *name;
    const char *arguments;
    const char *summary;
};

const CommandSpec kCommands[] = {
    {"submit", "FILE", "Submit a JSON array or JSON lines file of memories (gzipped or not; - reads stdin), in chunks under one batch id. Sent again, the same submission finishes the first instead of doubling it."},
    {"watch", "BATCH_ID...", "Follow batches until they end: one line each; --all: every batch of this server and user in the journal that has not ended (after a restart too)."},
    {"status", "BATCH_ID", "Show a batch's state once."},
    {"cancel", "BATCH_ID", "Cancel a batch, or every chunk of a parent id: the worker stops within seconds and records 'canceled' (--wait: until it has)."},
    {"results", "BATCH_ID", "Show what became of each item: stored (as which Memory) or refused (why), in file order."},
    {"list", "", "List your batches, newest first, a page at a time (--limit, --cursor): a submission of several chunks is one row; --status and --since filter."},
    {"retry-failed", "BATCH_ID", "Submit, as a new batch linked to it (retryOf), the items of an ended batch that failed or were never stored, read from its own stored file(s). Asked again, gives the same batch."},
    {"migrate", "", "Create or update the Parse classes membatch uses: the seeds' fields, indexes and permissions; only what is missing is added (--dry-run: only say what would change)."},
    {"gc", "", "Delete the batch files of requests that ended over --older-than ago (default 30d) and files no request points to (--dry-run: only say what would go)."},
    {"work", "", "Run a reference worker that processes batches from the task queue."},
    {"plugin", "", "Show which plugin is loaded, from its metadata."},
    {"plugins", "", "List every membatch plugin found, from its metadata alone, and why any is refused."},
};

QString commandList()
{
    QString text = QStringLiteral("Commands:\n");
    for (const CommandSpec &c : kCommands)
        text += QStringLiteral("  %1%2\n      %3\n")
                    .arg(QLatin1String(c.name),
                         *c.arguments ? QLatin1Char(' ') + QLatin1String(c.arguments) : QString(),
                         QLatin1String(c.summary));
    text += QStringLiteral("\nConnection settings come from MEMBATCH_* variables (source .stack/env);\n"
                           "the options below override them. Exit codes: 0 done/completed, 1 error,\n"
                           "2 usage, 3 batch ended without completing, 4 batch still running (status).");
    return text;
}

const QCommandLineOption optJson(QStringLiteral("json"), QStringLiteral("Print JSON lines instead of text."));
const QCommandLineOption optAll(QStringLiteral("all"), QStringLiteral("watch: every batch this host submitted to this server as this user that has not ended, from the journal."));
const QCommandLineOption optJournal(QStringLiteral("journal"), QStringLiteral("The journal of submitted batches ($MEMBATCH_JOURNAL; default: journal.json in the application data directory)."), QStringLiteral("FILE"));
const QCommandLineOption optKeepFinished(QStringLiteral("keep-finished"), QStringLiteral("Drop batches from the journal once they ended this long ago: Ns, Nm, Nh or Nd (default 7d)."), QStringLiteral("DURATION"), QStringLiteral("7d"));
const QCommandLineOption optWait(QStringLiteral("wait"), QStringLiteral("submit, cancel, retry-failed: follow the batch until it ends."));
const QCommandLineOption optReason(QStringLiteral("reason"), QStringLiteral("cancel: why, as Temporal records it."), QStringLiteral("TEXT"));
const QCommandLineOption optBatchId(QStringLiteral("batch-id"), QStringLiteral("submit: use this batch id (default: derived from the input and options, so the same submission gets the same id); another input under a used id, or an id another user's batch has started under, is refused."), QStringLiteral("ID"));
const QCommandLineOption optIdempotencyKey(QStringLiteral("idempotency-key"), QStringLiteral("submit: the submission's identity instead of its content: the same key again resumes it, with another input is refused."), QStringLiteral("KEY"));
const QCommandLineOption optLevel(QStringLiteral("level"), QStringLiteral("submit: gzip level 1-12 (default 7)."), QStringLiteral("N"), QStringLiteral("7"));
const QCommandLineOption optChunkSize(QStringLiteral("chunk-size"), QStringLiteral("submit: memories per chunk at most (default 1000)."), QStringLiteral("N"), QStringLiteral("1000"));
const QCommandLineOption optChunkBytes(QStringLiteral("chunk-bytes"), QStringLiteral("submit: JSON bytes per chunk at most (default 16777216, at most 268435456); at the default its gzip always fits a Parse file."), QStringLiteral("BYTES"), QStringLiteral("16777216"));
const QCommandLineOption optInFlight(QStringLiteral("in-flight"), QStringLiteral("submit: chunks uploaded, created and started at once (default 4)."), QStringLiteral("N"), QStringLiteral("4"));
const QCommandLineOption optSkipInvalid(QStringLiteral("skip-invalid"), QStringLiteral("submit, retry-failed: leave invalid items out (each reported as a JSON line) instead of sending nothing."));
const QCommandLineOption optReport(QStringLiteral("report"), QStringLiteral("submit: write a JSON line for each item left out (invalid or duplicate) to FILE (default with --skip-invalid: stderr)."), QStringLiteral("FILE"));
const QCommandLineOption optDedup(QStringLiteral("dedup"), QStringLiteral("submit: drop items whose normalised content repeats an earlier one's: content (default), content+metadata, or off."), QStringLiteral("MODE"), QStringLiteral("content"));
const QCommandLineOption optNoPush(QStringLiteral("no-push"), QStringLiteral("watch, status, cancel --wait: poll Parse every --poll-ms instead of following it through LiveQuery."));
const QCommandLineOption optStalledAfter(QStringLiteral("stalled-after"), QStringLiteral("watch: flag a batch that has not moved for this long as stalled: Ns, Nm, Nh or Nd, 0s for never (default 5m)."), QStringLiteral("DURATION"), QStringLiteral("5m"));
const QCommandLineOption optPoll(QStringLiteral("poll-ms"), QStringLiteral("watch: milliseconds between looks (default 1000)."), QStringLiteral("MS"), QStringLiteral("1000"));
const QCommandLineOption optFailed(QStringLiteral("failed"), QStringLiteral("results: only the items that were refused."));
const QCommandLineOption optAfter(QStringLiteral("after"), QStringLiteral("results: start after this item index (the last one of a page seen)."), QStringLiteral("INDEX"));
const QCommandLineOption optLimit(QStringLiteral("limit"), QStringLiteral("results: show at most N (default: all). list: rows a page (default 50, at most 1000)."), QStringLiteral("N"), QStringLiteral("0"));
const QCommandLineOption optStatus(QStringLiteral("status"), QStringLiteral("list: only batches in these states, comma-separated: pending, processing, completed, partial_failure, failed, canceled."), QStringLiteral("S[,S...]"));
const QCommandLineOption optSince(QStringLiteral("since"), QStringLiteral("list: only batches created at or after TIME: an ISO date or date-time (UTC unless it says), or a duration ago like 2h or 7d."), QStringLiteral("TIME"));
const QCommandLineOption optCursor(QStringLiteral("cursor"), QStringLiteral("list: the page after the one that printed this cursor."), QStringLiteral("C"));
const QCommandLineOption optWebhookUrl(QStringLiteral("webhook-url"), QStringLiteral("submit: POST one signed summary here when the submission has ended, its last chunk included (Standard Webhooks; the secret comes from $MEMBATCH_WEBHOOK_SECRET, whsec_ + base64)."), QStringLiteral("URL"));
const QCommandLineOption optWebhookAttempts(QStringLiteral("webhook-attempts"), QStringLiteral("work: deliveries of a webhook tried in all (default 6)."), QStringLiteral("N"), QStringLiteral("6"));
const QCommandLineOption optWebhookBackoff(QStringLiteral("webhook-backoff-ms"), QStringLiteral("work: wait before a webhook's second delivery, four times longer before each next (default 5000)."), QStringLiteral("MS"), QStringLiteral("5000"));
const QCommandLineOption optWebhookAllowPrivate(QStringLiteral("webhook-allow-private"), QStringLiteral("work: let webhooks go to loopback and private addresses (off: a user could make the worker reach its own networks)."));
const QCommandLineOption optMaxTasks(QStringLiteral("max-tasks"), QStringLiteral("work: stop after N tasks (default: run until killed)."), QStringLiteral("N"), QStringLiteral("0"));
const QCommandLineOption optConcurrency(QStringLiteral("concurrency"), QStringLiteral("work: tasks run at once (default 2)."), QStringLiteral("N"), QStringLiteral("2"));
const QCommandLineOption optPollers(QStringLiteral("pollers"), QStringLiteral("work: long polls in flight at most (default 2, never more than --concurrency)."), QStringLiteral("N"), QStringLiteral("2"));
const QCommandLineOption optRetryFor(QStringLiteral("retry-for"), QStringLiteral("work: ask a server that is down or answers 5xx again for this long before an attempt fails (default 120)."), QStringLiteral("SECONDS"), QStringLiteral("120"));
const QCommandLineOption optGroupSize(QStringLiteral("group-size"), QStringLiteral("work: memories stored per /batch call at most (default 500, 1-1000; fewer when large)."), QStringLiteral("N"), QStringLiteral("500"));
const QCommandLineOption optGroupsInFlight(QStringLiteral("groups-in-flight"), QStringLiteral("work: /batch calls in flight per task (default 2, 1-16)."), QStringLiteral("N"), QStringLiteral("2"));
const QCommandLineOption optGrace(QStringLiteral("grace"), QStringLiteral("work: on SIGTERM or SIGINT, let running tasks finish for this long, then hand them back (default 10; a second signal: at once)."), QStringLiteral("SECONDS"), QStringLiteral("10"));
const QCommandLineOption optOlderThan(QStringLiteral("older-than"), QStringLiteral("gc: remove the batch files of requests that ended longer ago than this: Ns, Nm, Nh or Nd (default 30d)."), QStringLiteral("DURATION"), QStringLiteral("30d"));
const QCommandLineOption optOrphanGrace(QStringLiteral("orphan-grace"), QStringLiteral("gc: remove files no request points to once uploaded this long ago (default 1d)."), QStringLiteral("DURATION"), QStringLiteral("1d"));
const QCommandLineOption optDryRun(QStringLiteral("dry-run"), QStringLiteral("submit: read, check and compress, print the figures, send nothing. gc, migrate: say what would change, change nothing."));
const QCommandLineOption optIdentity(QStringLiteral("identity"), QStringLiteral("work: worker identity shown in Temporal."), QStringLiteral("NAME"));
const QCommandLineOption optPlugin(QStringLiteral("plugin"), QStringLiteral("Load this plugin file instead of searching."), QStringLiteral("FILE"));
const QCommandLineOption optPluginDir(QStringLiteral("plugin-dir"), QStringLiteral("Look for plugins in this directory first."), QStringLiteral("DIR"));
const QCommandLineOption optParseUrl(QStringLiteral("parse-url"), QStringLiteral("Parse Server URL ($MEMBATCH_PARSE_URL)."), QStringLiteral("URL"));
const QCommandLineOption optAppId(QStringLiteral("app-id"), QStringLiteral("Parse application id ($MEMBATCH_APP_ID)."), QStringLiteral("ID"));
const QCommandLineOption optRestKey(QStringLiteral("rest-key"), QStringLiteral("Parse REST key ($MEMBATCH_REST_KEY; prefer the variable: options show in ps)."), QStringLiteral("KEY"));
const QCommandLineOption optMasterKey(QStringLiteral("master-key"), QStringLiteral("Parse master key ($MEMBATCH_MASTER_KEY; prefer the variable)."), QStringLiteral("KEY"));
const QCommandLineOption optUsername(QStringLiteral("username"), QStringLiteral("Parse user to submit as ($MEMBATCH_USERNAME; password from $MEMBATCH_PASSWORD)."), QStringLiteral("NAME"));
const QCommandLineOption optTemporalUrl(QStringLiteral("temporal-url"), QStringLiteral("Temporal HTTP API URL ($MEMBATCH_TEMPORAL_URL)."), QStringLiteral("URL"));
const QCommandLineOption optTemporalAddress(QStringLiteral("temporal-address"), QStringLiteral("Temporal gRPC frontend HOST:PORT, where the worker polls ($MEMBATCH_TEMPORAL_ADDRESS)."), QStringLiteral("HOST:PORT"));
const QCommandLineOption optNamespace(QStringLiteral("temporal-namespace"), QStringLiteral("Temporal namespace ($MEMBATCH_NAMESPACE)."), QStringLiteral("NS"));
const QCommandLineOption optOrganization(QStringLiteral("organization"), QStringLiteral("submit: the seeds' Organization (objectId): each request points at it, and its role org_ID may read it (you must be a member)."), QStringLiteral("ID"));
const QCommandLineOption optTenantNamespace(QStringLiteral("namespace"), QStringLiteral("submit: the seeds' Namespace (objectId) the memories belong to (the Temporal one is --temporal-namespace)."), QStringLiteral("ID"));
const QCommandLineOption optWorkspace(QStringLiteral("workspace"), QStringLiteral("submit: the seeds' WorkSpace (objectId)."), QStringLiteral("ID"));
const QCommandLineOption optTaskQueue(QStringLiteral("task-queue"), QStringLiteral("Temporal task queue ($MEMBATCH_TASK_QUEUE)."), QStringLiteral("NAME"));

// What the plugin takes as a page of list (BatchListJob::MaxLimit).
constexpr qint64 BatchListLimit = 1000;

bool positiveInt(const QString &text, int min, int max, int *value)
{
    bool ok = false;
    *value = text.toInt(&ok);
    return ok && *value >= min && *value <= max;
}

// "30d", "12h", "90m", "45s" as milliseconds; false for anything else.
bool duration(const QString &text, qint64 *ms)
{
    static const QRegularExpression pattern(QStringLiteral("^([0-9]{1,7})([smhd])$"));
    const QRegularExpressionMatch match = pattern.match(text);
    if (!match.hasMatch())
        return false;
    const qint64 unit = match.captured(2) == QLatin1String("s") ? 1000
        : match.captured(2) == QLatin1String("m")              ? 60 * 1000
        : match.captured(2) == QLatin1String("h")              ? 3600 * 1000
                                                                : 24 * 3600 * 1000;
    *ms = match.captured(1).toLongLong() * unit;
    return true;
}

// --since: an ISO date or date-time (UTC unless it carries an offset), or
// a duration (as for gc) before now.
bool sinceTime(const QString &text, QDateTime *time)
{
    qint64 ms = 0;
    if (duration(text, &ms)) {
        *time = QDateTime::currentDateTimeUtc().addMSecs(-ms);
        return true;
    }
    QDateTime parsed = QDateTime::fromString(text, Qt::ISODateWithMs);
    if (!parsed.isValid()) {
        const QDate date = QDate::fromString(text, Qt::ISODate);
        if (date.isValid())
            parsed = date.startOfDay(Qt::UTC);
    } else if (parsed.timeSpec() == Qt::LocalTime) {
        parsed.setTimeSpec(Qt::UTC);
    }
    *time = parsed;
    return parsed.isValid();
}

// `status --json`: the seeds' status endpoint's fields (batch_id, status,
// counts, progress_percent, started_at, estimated_completion, errors), plus
// the phase and the timing the plugin computed.
QJsonObject statusJson(const BatchStatus &b, const BatchProgress &p)
{
    auto iso = [](const QDateTime &t) { return t.isValid() ? QJsonValue(t.toUTC().toString(Qt::ISODateWithMs)) : QJsonValue(); };
    const double percent = b.totalMemories > 0 ? std::round(1000.0 * double(b.processedCount) / double(b.totalMemories)) / 10.0 : 0.0;
    QJsonObject json{
        {QStringLiteral("event"), QStringLiteral("status")},
        {QStringLiteral("batch_id"), b.batchId},
        {QStringLiteral("status"), b.outcome()},
        {QStringLiteral("total_memories"), b.totalMemories},
        {QStringLiteral("processed"), b.processedCount},
        {QStringLiteral("successful"), b.successCount},
        {QStringLiteral("failed"), b.failCount},
        {QStringLiteral("progress_percent"), percent},
        {QStringLiteral("created_at"), iso(b.createdAt)},
        {QStringLiteral("started_at"), iso(b.startedAt)},
        {QStringLiteral("completed_at"), iso(b.completedAt)},
        {QStringLiteral("estimated_completion"), iso(p.estimatedCompletion)},
        {QStringLiteral("errors"), b.errors},
        {QStringLiteral("phase"), BatchProgress::phaseName(p.phase)},
        {QStringLiteral("rate"), p.rate},
        {QStringLiteral("eta_ms"), p.etaMs},
        {QStringLiteral("elapsed_ms"), p.elapsedMs},
        {QStringLiteral("stalled"), p.stalled},
        {QStringLiteral("reason"), p.reason},
    };
    if (!b.workflowStatus.isEmpty())
        json.insert(QStringLiteral("workflow_status"), b.workflowStatus);
    if (b.isParent()) {
        json.insert(QStringLiteral("chunks"), b.chunkCount);
        json.insert(QStringLiteral("chunks_done"), b.chunksFinal);
    }
    return json;
}

} // namespace

Cli::Cli(QObject *parent)
    : QObject(parent)
{
    m_parser.setApplicationDescription(
        QStringLiteral("membatch: submit memory batches to Parse + Temporal and watch them finish.\n\n") + commandList());
    m_parser.addHelpOption();
    m_parser.addVersionOption();
    m_parser.addPositionalArgument(QStringLiteral("command"), QStringLiteral("submit, watch, status, cancel, results, list, retry-failed, migrate, gc, work, plugin or plugins"),
                                   QStringLiteral("COMMAND [ARGS]"));
    m_parser.addOptions({optJson, optAll, optJournal, optKeepFinished, optWait, optReason, optFailed, optAfter, optLimit, optStatus, optSince, optCursor, optWebhookUrl, optWebhookAttempts,
                         optWebhookBackoff, optWebhookAllowPrivate, optBatchId, optIdempotencyKey, optLevel, optChunkSize, optChunkBytes,
                         optInFlight, optSkipInvalid, optReport, optDedup, optOrganization, optTenantNamespace, optWorkspace, optPoll, optNoPush, optStalledAfter, optMaxTasks, optConcurrency, optPollers,
                         optRetryFor, optGroupSize, optGroupsInFlight, optGrace, optIdentity, optOlderThan, optOrphanGrace, optDryRun, optPlugin, optPluginDir, optParseUrl, optAppId, optRestKey, optMasterKey,
                         optUsername, optTemporalUrl, optTemporalAddress, optNamespace, optTaskQueue});
}

Cli::~Cli() = default;

void Cli::stopOnSignals(Job *job, const QString &firstMessage)
{
    m_stopSignals = std::make_unique<StopSignals>();
    connect(m_stopSignals.get(), &StopSignals::stopRequested, job, [job, firstMessage](int signalNumber, int count) {
        QTextStream(stderr) << "membatch: " << (signalNumber == SIGTERM ? "SIGTERM" : "SIGINT") << ": "
                            << (count == 1 ? firstMessage : QStringLiteral("stopping now")) << '\n';
        job->stop();
    });
}

int Cli::usageError(const QString &message)
{
    QTextStream(stderr) << "membatch: " << message << "\nTry 'membatch --help'.\n";
    return ExitUsage;
}

int Cli::run(const QStringList &arguments)
{
    if (!m_parser.parse(arguments))
        return usageError(m_parser.errorText());
    if (m_parser.isSet(QStringLiteral("help"))) {
        QTextStream(stdout) << m_parser.helpText();
        return ExitOk;
    }
    if (m_parser.isSet(QStringLiteral("version"))) {
        QTextStream(stdout) << "membatch " << QCoreApplication::applicationVersion() << " (plugin API "
                            << PluginLoader::apiVersion() << ")\n";
        return ExitOk;
    }

    const QStringList args = m_parser.positionalArguments();
    if (args.isEmpty())
        return usageError(QStringLiteral("no command given.\n") + commandList());
    m_command = args.first();
    const bool known = std::any_of(std::begin(kCommands), std::end(kCommands),
                                   [this](const CommandSpec &c) { return m_command == QLatin1String(c.name); });
    if (!known)
        return usageError(QStringLiteral("unknown command '%1'.\n%2").arg(m_command, commandList()));
    const bool watch = m_command == QLatin1String("watch");
    const bool needsArgument = m_command == QLatin1String("submit") || m_command == QLatin1String("status")
        || m_command == QLatin1String("cancel") || m_command == QLatin1String("results")
        || m_command == QLatin1String("retry-failed");
    if (m_parser.isSet(optAll) && !watch)
        return usageError(QStringLiteral("--all is for watch"));
    if (watch && m_parser.isSet(optAll) && args.size() != 1)
        return usageError(QStringLiteral("'watch --all' takes no batch ids"));
    if (watch && !m_parser.isSet(optAll) && args.size() < 2)
        return usageError(QStringLiteral("'watch' takes one or more batch ids, or --all"));
    if (needsArgument && args.size() != 2)
        return usageError(QStringLiteral("'%1' takes exactly one argument").arg(m_command));
    if (!needsArgument && !watch && args.size() != 1)
        return usageError(QStringLiteral("'%1' takes no arguments").arg(m_command));

    WatchOptions options;
    options.waitForCompletion = m_parser.isSet(optWait);
    SubmitOptions submitOptions;
    submitOptions.waitForCompletion = m_parser.isSet(optWait);
    submitOptions.batchId = m_parser.value(optBatchId);
    submitOptions.idempotencyKey = m_parser.value(optIdempotencyKey);
    submitOptions.skipInvalid = m_parser.isSet(optSkipInvalid);
    submitOptions.dryRun = m_parser.isSet(optDryRun);
    submitOptions.organizationId = m_parser.value(optOrganization);
    submitOptions.namespaceId = m_parser.value(optTenantNamespace);
    submitOptions.workspaceId = m_parser.value(optWorkspace);
    submitOptions.reportPath = m_parser.isSet(optReport) ? m_parser.value(optReport)
        : submitOptions.skipInvalid                     ? QStringLiteral("-")
                                                        : QString();
    const QString dedup = m_parser.value(optDedup);
    if (dedup == QLatin1String("content"))
        submitOptions.dedup = SubmitOptions::Dedup::Content;
    else if (dedup == QLatin1String("content+metadata"))
        submitOptions.dedup = SubmitOptions::Dedup::ContentAndMetadata;
    else if (dedup == QLatin1String("off"))
        submitOptions.dedup = SubmitOptions::Dedup::Off;
    else
        return usageError(QStringLiteral("--dedup must be content, content+metadata or off"));
    if (!positiveInt(m_parser.value(optChunkSize), 1, 100000, &submitOptions.chunkItems))
        return usageError(QStringLiteral("--chunk-size must be 1 to 100000"));
    bool chunkBytesOk = false;
    submitOptions.chunkBytes = m_parser.value(optChunkBytes).toLongLong(&chunkBytesOk);
    if (!chunkBytesOk)
        return usageError(QStringLiteral("--chunk-bytes must be a number of bytes"));
    if (!positiveInt(m_parser.value(optInFlight), 1, 32, &submitOptions.inFlight))
        return usageError(QStringLiteral("--in-flight must be 1 to 32"));
    if (m_parser.isSet(optWebhookUrl)) {
        submitOptions.webhookUrl = QUrl(m_parser.value(optWebhookUrl), QUrl::StrictMode);
        submitOptions.webhookSecret = qgetenv("MEMBATCH_WEBHOOK_SECRET");
        if (submitOptions.webhookSecret.isEmpty())
            return usageError(QStringLiteral("--webhook-url needs its signing secret in MEMBATCH_WEBHOOK_SECRET (\"whsec_\" + base64 of 24-64 random bytes; "
                                             "make one with: echo whsec_$(head -c 32 /dev/urandom | base64))"));
    }
    if (!positiveInt(m_parser.value(optLevel), 1, 12, &submitOptions.compressionLevel))
        return usageError(QStringLiteral("--level must be 1 to 12"));
    if (!positiveInt(m_parser.value(optPoll), 50, 3600000, &options.pollIntervalMs))
        return usageError(QStringLiteral("--poll-ms must be 50 or more"));
    submitOptions.pollIntervalMs = options.pollIntervalMs;
    options.push = !m_parser.isSet(optNoPush);
    if (!duration(m_parser.value(optStalledAfter), &options.stalledAfterMs))
        return usageError(QStringLiteral("--stalled-after must be a duration like 5m, 1h or 0s (never)"));
    ResultsOptions resultsOptions;
    resultsOptions.failedOnly = m_parser.isSet(optFailed);
    if (m_parser.isSet(optAfter)) {
        bool ok = false;
        resultsOptions.after = m_parser.value(optAfter).toLongLong(&ok);
        if (!ok || resultsOptions.after < 0)
            return usageError(QStringLiteral("--after must be an item index (0 or more)"));
    }
    bool limitOk = false;
    resultsOptions.limit = m_parser.value(optLimit).toLongLong(&limitOk);
    if (!limitOk || resultsOptions.limit < 0)
        return usageError(QStringLiteral("--limit must be 0 (all) or more"));
    ListOptions listOptions;
    if (resultsOptions.limit > BatchListLimit && m_command == QLatin1String("list"))
        return usageError(QStringLiteral("--limit of list must be 1 to %1").arg(BatchListLimit));
    if (resultsOptions.limit > 0)
        listOptions.limit = int(resultsOptions.limit);
    if (m_parser.isSet(optStatus))
        listOptions.statuses = m_parser.value(optStatus).split(QLatin1Char(','), Qt::SkipEmptyParts);
    if (m_parser.isSet(optSince) && !sinceTime(m_parser.value(optSince), &listOptions.since))
        return usageError(QStringLiteral("--since must be an ISO date or date-time (2026-12-01, 2026-12-01T08:00:00Z) or a duration ago like 2h or 7d"));
    listOptions.cursor = m_parser.value(optCursor);
    WorkerOptions workerOptions;
    workerOptions.identity = m_parser.value(optIdentity);
    if (!positiveInt(m_parser.value(optMaxTasks), 0, 1 << 30, &workerOptions.maxTasks))
        return usageError(QStringLiteral("--max-tasks must be 0 or more"));
    if (!positiveInt(m_parser.value(optConcurrency), 1, 64, &workerOptions.concurrency))
        return usageError(QStringLiteral("--concurrency must be 1 to 64"));
    if (!positiveInt(m_parser.value(optPollers), 1, 64, &workerOptions.pollers))
        return usageError(QStringLiteral("--pollers must be 1 to 64"));
    if (!positiveInt(m_parser.value(optGroupSize), 1, 1000, &workerOptions.groupSize))
        return usageError(QStringLiteral("--group-size must be 1 to 1000"));
    if (!positiveInt(m_parser.value(optGroupsInFlight), 1, 16, &workerOptions.groupsInFlight))
        return usageError(QStringLiteral("--groups-in-flight must be 1 to 16"));
    int graceSeconds = 0;
    if (!positiveInt(m_parser.value(optGrace), 0, 3600, &graceSeconds))
        return usageError(QStringLiteral("--grace must be 0 to 3600 seconds"));
    workerOptions.shutdownGraceMs = qint64(graceSeconds) * 1000;
    int retryForSeconds = 0;
    if (!positiveInt(m_parser.value(optRetryFor), 0, 24 * 3600, &retryForSeconds))
        return usageError(QStringLiteral("--retry-for must be 0 to 86400 seconds"));
    workerOptions.retryForMs = qint64(retryForSeconds) * 1000;
    if (!positiveInt(m_parser.value(optWebhookAttempts), 1, 100, &workerOptions.webhookAttempts))
        return usageError(QStringLiteral("--webhook-attempts must be 1 to 100"));
    int backoffMs = 0;
    if (!positiveInt(m_parser.value(optWebhookBackoff), 0, 3600000, &backoffMs))
        return usageError(QStringLiteral("--webhook-backoff-ms must be 0 to 3600000"));
    workerOptions.webhookBackoffMs = backoffMs;
    workerOptions.webhookAllowPrivate = m_parser.isSet(optWebhookAllowPrivate);
    CleanupOptions cleanupOptions;
    cleanupOptions.dryRun = m_parser.isSet(optDryRun);
    if (!duration(m_parser.value(optOlderThan), &cleanupOptions.olderThanMs))
        return usageError(QStringLiteral("--older-than must be a duration like 30d, 12h, 90m or 45s"));
    if (!duration(m_parser.value(optOrphanGrace), &cleanupOptions.orphanGraceMs))
        return usageError(QStringLiteral("--orphan-grace must be a duration like 1d, 12h, 90m or 45s"));

    if (!duration(m_parser.value(optKeepFinished), &m_keepFinishedMs))
        return usageError(QStringLiteral("--keep-finished must be a duration like 7d, 12h, 90m or 45s"));

    if (m_command == QLatin1String("plugins"))
        return listPlugins();
    if (!loadPlugin())
        return ExitError;
    if (m_command == QLatin1String("plugin"))
        return showPluginInfo();

    m_processor->setConnection(settings());
    m_printer = std::make_unique<ProgressPrinter>(ProgressPrinter::detect(m_parser.isSet(optJson)));

    Job *job = nullptr;
    if (m_command == QLatin1String("submit")) {
        job = m_processor->submit(args.at(1), submitOptions);
        // A dry run sends nothing: nothing to record.
        if (!submitOptions.dryRun)
            track(job, args.at(1));
        // Ctrl-C finishes what is being sent (no file without its request),
        // then stops: the same command again sends the rest.
        stopOnSignals(job, QStringLiteral("finishing the chunks in flight, then stopping"));
    } else if (watch) {
        QStringList ids = args.mid(1);
        if (m_parser.isSet(optAll)) {
            const int code = unfinishedInJournal(&ids);
            if (code >= 0)
                return code;
        }
        ids.removeDuplicates();
        if (ids.size() == 1 && !m_parser.isSet(optAll)) {
            job = m_processor->watch(ids.first(), options);
        } else {
            job = m_processor->monitor(ids, options);
            if (!job) {
                QTextStream(stderr) << "membatch: the plugin " << m_loader.info().fileName
                                    << " cannot watch several batches at once (it has no monitor)\n";
                return ExitError;
            }
        }
        track(job, QString());
    } else if (m_command == QLatin1String("status")) {
        options.once = true;
        job = m_processor->watch(args.at(1), options);
        track(job, QString());
    } else if (m_command == QLatin1String("cancel")) {
        job = m_processor->cancel(args.at(1), options, m_parser.value(optReason));
    } else if (m_command == QLatin1String("results")) {
        showResults(m_processor->results(args.at(1), resultsOptions));
        return -1;
    } else if (m_command == QLatin1String("list")) {
        showList(m_processor->list(listOptions));
        return -1;
    } else if (m_command == QLatin1String("retry-failed")) {
        job = m_processor->retryFailed(args.at(1), submitOptions);
        track(job, QStringLiteral("retry-failed %1").arg(args.at(1)));
    } else if (m_command == QLatin1String("gc")) {
        job = m_processor->cleanUp(cleanupOptions);
    } else if (m_command == QLatin1String("migrate")) {
        MigrateOptions migrateOptions;
        migrateOptions.dryRun = m_parser.isSet(optDryRun);
        job = m_processor->migrate(migrateOptions);
    } else {
        job = m_processor->work(workerOptions);
        // A worker asked to stop (systemd, Kubernetes, Ctrl-C) winds down
        // instead of vanishing with its tasks.
        stopOnSignals(job, QStringLiteral("stopping"));
    }
    startJob(job, m_command);
    return -1;
}

int Cli::listPlugins()
{
    const QList<PluginLoader::Candidate> found = PluginLoader::discover(searchPaths());
    QTextStream out(stdout);
    bool usable = false;
    for (const PluginLoader::Candidate &c : found) {
        usable = usable || c.refusal.isEmpty();
        QString refusal = c.refusal;
        if (refusal.startsWith(c.info.fileName + QStringLiteral(": ")))
            refusal = refusal.mid(c.info.fileName.size() + 2);
        if (m_parser.isSet(optJson)) {
            out << QJsonDocument(QJsonObject{{QStringLiteral("file"), c.info.fileName},
                                             {QStringLiteral("iid"), c.info.iid},
                                             {QStringLiteral("id"), c.info.id},
                                             {QStringLiteral("name"), c.info.name},
                                             {QStringLiteral("version"), c.info.version},
                                             {QStringLiteral("compatVersion"), c.info.compatVersion},
                                             {QStringLiteral("usable"), c.refusal.isEmpty()},
                                             {QStringLiteral("refusal"), refusal}})
                       .toJson(QJsonDocument::Compact)
                << '\n';
            continue;
        }
        out << c.info.fileName << '\n'
            << "  " << (c.info.id.isEmpty() ? QStringLiteral("(no id)") : c.info.id) << ' '
            << (c.info.version.isEmpty() ? QStringLiteral("(no version)") : c.info.version)
            << QStringLiteral(" (hosts %1 to %2)").arg(c.info.compatVersion, c.info.version) << ": "
            << (c.refusal.isEmpty() ? QStringLiteral("usable") : QStringLiteral("refused: ") + refusal) << '\n';
    }
    out.flush();
    if (found.isEmpty())
        QTextStream(stderr) << "membatch: no membatch plugin found in: " << searchPaths().join(QStringLiteral(", ")) << '\n';
    return usable ? ExitOk : ExitError;
}

QStringList Cli::searchPaths() const
{
    QStringList paths = PluginLoader::defaultSearchPaths();
    // Installed: <prefix>/bin/membatch and <prefix>/<Qt's plugin dir>/membatch.
    // Searched after $MEMBATCH_PLUGIN_PATH and the build tree, before Qt's own
    // plugin directories (which may hold another install's).
    const QDir appDir(QCoreApplication::applicationDirPath());
    const qsizetype buildTree = paths.indexOf(appDir.filePath(QStringLiteral("../plugins/membatch")));
    paths.insert(buildTree + 1, QDir::cleanPath(appDir.filePath(QStringLiteral(MEMBATCH_PLUGINDIR_FROM_BINDIR))));
    if (m_parser.isSet(optPluginDir))
        paths.prepend(m_parser.value(optPluginDir));
    return paths;
}

bool Cli::loadPlugin()
{
    m_processor = m_loader.load(m_parser.value(optPlugin), searchPaths());
    if (!m_processor)
        QTextStream(stderr) << "membatch: " << m_loader.errorString() << '\n';
    return m_processor != nullptr;
}

int Cli::showPluginInfo()
{
    const PluginInfo info = m_loader.info();
    const QJsonObject json{{QStringLiteral("file"), info.fileName},
                           {QStringLiteral("iid"), info.iid},
                           {QStringLiteral("id"), info.id},
                           {QStringLiteral("name"), info.name},
                           {QStringLiteral("version"), info.version},
                           {QStringLiteral("compatVersion"), info.compatVersion},
                           {QStringLiteral("description"), info.description},
                           {QStringLiteral("hostApiVersion"), PluginLoader::apiVersion()}};
    QTextStream out(stdout);
    if (m_parser.isSet(optJson)) {
        out << QJsonDocument(json).toJson(QJsonDocument::Compact) << '\n';
    } else {
        for (auto it = json.begin(); it != json.end(); ++it)
            out << QStringLiteral("%1 %2\n").arg(it.key() + QLatin1Char(':'), -16).arg(it.value().toString());
    }
    return ExitOk;
}

ConnectionSettings Cli::settings() const
{
    ConnectionSettings s = ConnectionSettings::fromEnvironment();
    auto override = [this](const QCommandLineOption &option, QString *target) {
        if (m_parser.isSet(option))
            *target = m_parser.value(option);
    };
    if (m_parser.isSet(optParseUrl))
        s.parseUrl = QUrl(m_parser.value(optParseUrl));
    if (m_parser.isSet(optTemporalUrl))
        s.temporalUrl = QUrl(m_parser.value(optTemporalUrl));
    override(optAppId, &s.appId);
    override(optRestKey, &s.restKey);
    override(optMasterKey, &s.masterKey);
    override(optUsername, &s.username);
    override(optTemporalAddress, &s.temporalAddress);
    override(optNamespace, &s.temporalNamespace);
    override(optTaskQueue, &s.taskQueue);
    return s;
}

void Cli::startJob(Job *job, const QString &command)
{
    // What status found (a batch it could read), before the printer's result line.
    if (command == QLatin1String("status") && m_parser.isSet(optJson)) {
        connect(job, &Job::result, this, [](Job *finishedJob) {
            const auto *batchJob = qobject_cast<const BatchJob *>(finishedJob);
            if (!batchJob)
                return;
            const BatchStatus batch = batchJob->batch();
            if (batch.requestId.isEmpty() && !batch.isParent())
                return;
            QTextStream out(stdout);
            out << QJsonDocument(statusJson(batch, finishedJob->progress())).toJson(QJsonDocument::Compact) << '\n';
            out.flush();
        });
    }
    // The printer shows the job's end (connected first, so before the exit).
    m_printer->setCommand(command);
    m_printer->registerJob(job);
    connect(job, &Job::result, this, [this, command](Job *finishedJob) { Q_EMIT finished(exitCodeFor(*finishedJob, command)); });
    job->start();
}

QString Cli::journalPath() const
{
    if (m_parser.isSet(optJournal))
        return m_parser.value(optJournal);
    return qEnvironmentVariable("MEMBATCH_JOURNAL"); // empty: the default
}

QString Cli::journalServer() const
{
    const ConnectionSettings s = settings();
    return JournalEntry::serverKey(s.parseUrl.toString(), s.appId);
}

void Cli::track(Job *job, const QString &source)
{
    if (!m_journal) {
        m_journal = std::make_unique<Journal>(journalPath());
        m_journalTracker = std::make_unique<JournalTracker>(m_journal.get(), journalServer(), settings().username);
        m_journalTracker->setKeepFinished(m_keepFinishedMs);
        // The journal is the host's memory, not the batch: a failure to
        // write it is said once, and the command goes on.
        connect(m_journalTracker.get(), &JournalTracker::journalFailed, this, [this](const QString &message) {
            if (m_journalWarned.contains(message))
                return;
            m_journalWarned.insert(message);
            m_printer->warning(message + QStringLiteral(" (the batch itself is not affected)"));
        });
    }
    m_journalTracker->setSource(source);
    m_journalTracker->registerJob(job);
}

int Cli::unfinishedInJournal(QStringList *ids)
{
    Journal journal(journalPath());
    // A journal's errors quote the file and its lock's holder: printed, not obeyed.
    if (journal.prune(QDateTime::currentDateTimeUtc().addMSecs(-m_keepFinishedMs)) < 0) {
        m_printer->error(journal.errorString());
        return ExitError;
    }
    bool ok = false;
    const ConnectionSettings s = settings();
    const QList<JournalEntry> entries = journal.unfinished(journalServer(), s.username, &ok);
    if (!ok) {
        m_printer->error(journal.errorString());
        return ExitError;
    }
    if (entries.isEmpty()) {
        QTextStream out(stdout);
        if (m_parser.isSet(optJson)) {
            out << QJsonDocument(QJsonObject{{QStringLiteral("event"), QStringLiteral("result")},
                                             {QStringLiteral("command"), m_command},
                                             {QStringLiteral("ok"), true},
                                             {QStringLiteral("batches"), QJsonArray()}})
                       .toJson(QJsonDocument::Compact)
                << '\n';
            return ExitOk;
        }
        out << "no batch in the journal " << journal.path() << " has not ended, of "
            << (s.username.isEmpty() ? QStringLiteral("no named user") : QStringLiteral("user ") + s.username) << " at "
            << s.parseUrl.adjusted(QUrl::RemoveUserInfo | QUrl::RemoveQuery | QUrl::RemoveFragment).toString() << '\n';
        return ExitOk;
    }
    for (const JournalEntry &e : entries)
        ids->append(e.batchId);
    return -1;
}

void Cli::showResults(ResultsJob *job)
{
    auto shown = std::make_shared<qint64>(0);
    connect(job, &ResultsJob::itemsReady, this, [this, shown](const QList<ItemResult> &items) {
        *shown += items.size();
        m_printer->items(items);
    });
    connect(job, &Job::result, this, [this, job, shown](Job *) {
        m_printer->resultsEnded(*job, job->batch(), *shown);
        Q_EMIT finished(job->error() ? ExitError : ExitOk);
    });
    job->start();
}

void Cli::showList(ListJob *job)
{
    const bool json = m_parser.isSet(optJson);
    connect(job, &Job::result, this, [this, job, json](Job *) {
        QTextStream out(stdout);
        QTextStream err(stderr);
        if (job->error()) {
            m_printer->error(job->errorString()); // it quotes Parse's answer
            Q_EMIT finished(job->error() == Job::InvalidInputError ? ExitUsage : ExitError);
            return;
        }
        if (json) {
            out << BatchTable::jsonLines(job->batches(), job->nextCursor());
        } else {
            out << BatchTable::table(job->batches());
            out.flush();
            if (!job->nextCursor().isEmpty())
                err << "membatch: more: membatch list --cursor " << job->nextCursor() << '\n';
        }
        Q_EMIT finished(ExitOk);
    });
    job->start();
}

int Cli::exitCodeFor(const Job &job, const QString &command) const
{
    if (job.error() == Job::BatchFailedError)
        return ExitBatchNotCompleted;
    if (job.error() != Job::NoError)
        return ExitError;
    // A batch that ended badly is BatchFailedError (above); status may also
    // find one that has not ended yet.
    if (command == QLatin1String("status") && !static_cast<const BatchJob &>(job).batch().isFinal())
        return ExitBatchInProgress;
    // A monitor: every batch must have completed (whatever the plugin's
    // error says).
    if (const auto *monitor = qobject_cast<const MonitorJob *>(&job)) {
        const QStringList ids = monitor->batchIds();
        for (const QString &id : ids)
            if (!monitor->batch(id).isCompleted())
                return ExitBatchNotCompleted;
    }
    return ExitOk;
}
