#include "progressprinter.h"

#include <membatch/job.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QMap>

#include <algorithm>

#include <cstdio>
#include <sys/ioctl.h>
#include <unistd.h>

using membatch::BatchProgress;
using membatch::BatchStatus;
using membatch::Job;
using membatch::MonitorJob;

ProgressPrinter::ProgressPrinter(Mode mode, QObject *parent)
    : JobTracker(parent)
    , m_mode(mode)
    , m_onStdout(true)
    , m_out(stdout)
    , m_err(stderr)
{
    m_redraw.setSingleShot(true);
    m_redraw.setInterval(100);
    connect(&m_redraw, &QTimer::timeout, this, &ProgressPrinter::drawBlock);
    m_flush.setInterval(250);
    connect(&m_flush, &QTimer::timeout, this, [this] { flushPendingLines(false); });
}

ProgressPrinter::ProgressPrinter(Mode mode, QString *out, QString *err, QObject *parent)
    : ProgressPrinter(mode, parent)
{
    m_onStdout = false;
    m_out.setString(out);
    m_err.setString(err);
}

ProgressPrinter::Mode ProgressPrinter::detect(bool json)
{
    if (json)
        return Mode::Json;
    return ::isatty(fileno(stdout)) ? Mode::Terminal : Mode::Lines;
}

// Text that came from users or servers (ids, errors, messages), as a
// terminal should show it: control characters (escape sequences, carriage
// returns) and format characters (bidi overrides that turn a line around,
// zero-width ones) written out as \uXXXX instead of acted on. A newline
// is kept only where a line may hold several.
QString ProgressPrinter::printable(const QString &text, bool keepNewlines)
{
    QString out;
    out.reserve(text.size());
    for (const QChar c : text) {
        const bool shown = c == QLatin1Char(' ') || (keepNewlines && c == QLatin1Char('\n'))
            || (c.isPrint() && c.category() != QChar::Other_Format);
        out += shown ? QString(c) : QStringLiteral("\\u%1").arg(c.unicode(), 4, 16, QLatin1Char('0'));
    }
    return out;
}

static void printJson(QTextStream &out, const QJsonObject &object)
{
    out << QJsonDocument(object).toJson(QJsonDocument::Compact) << '\n';
    out.flush();
}

// "42 s", "3 min 05 s", "2 h 03 min".
static QString duration(qint64 ms)
{
    const qint64 s = (ms + 999) / 1000;
    if (s < 60)
        return QStringLiteral("%1 s").arg(s);
    if (s < 3600)
        return QStringLiteral("%1 min %2 s").arg(s / 60).arg(s % 60, 2, 10, QLatin1Char('0'));
    return QStringLiteral("%1 h %2 min").arg(s / 3600).arg((s % 3600) / 60, 2, 10, QLatin1Char('0'));
}

QString ProgressPrinter::line(const BatchProgress &p, int idWidth)
{
    const QLocale c = QLocale::c();
    const QString id = idWidth > 0 ? printable(p.batchId, false).leftJustified(idWidth) : printable(p.batchId.left(8), false);
    QString text = QStringLiteral("%1 %2").arg(id).arg(BatchProgress::phaseName(p.phase), -11);
    bool bytes = false;
    switch (p.phase) {
    case BatchProgress::Phase::Reading:
        if (p.processed > 0)
            text += QStringLiteral(" %1 items").arg(p.processed);
        break;
    case BatchProgress::Phase::Uploading:
        // A submission's chunks: how many are sent, and the bytes so far
        // (the total is not known before the last is compressed).
        bytes = true;
        if (p.chunks > 0)
            text += QStringLiteral(" %1/%2 chunks").arg(p.chunksDone).arg(p.chunks);
        if (p.bytesTotal > 0)
            text += QStringLiteral(" %1 / %2").arg(c.formattedDataSize(p.bytesDone), c.formattedDataSize(p.bytesTotal));
        else if (p.bytesDone > 0)
            text += QStringLiteral(" %1 uploaded").arg(c.formattedDataSize(p.bytesDone));
        break;
    case BatchProgress::Phase::Encoding:
        // A dry run's: the chunks encoded so far.
        bytes = true;
        if (p.total > 0)
            text += QStringLiteral(" %1 memories").arg(p.total);
        if (p.chunks > 0)
            text += QStringLiteral("  %1/%2 chunks").arg(p.chunksDone).arg(p.chunks);
        break;
    case BatchProgress::Phase::Creating:
    case BatchProgress::Phase::Starting:
    case BatchProgress::Phase::Queued:
        if (p.total > 0)
            text += QStringLiteral(" %1 memories").arg(p.total);
        break;
    case BatchProgress::Phase::Processing:
    case BatchProgress::Phase::Done: {
        text += QStringLiteral(" %1/%2").arg(p.processed).arg(p.total);
        if (p.percent() >= 0)
            text += QStringLiteral(" (%1%)").arg(p.percent());
        text += QStringLiteral("  stored %1  failed %2").arg(p.succeeded).arg(p.failed);
        if (p.chunks > 1)
            text += QStringLiteral("  chunks %1/%2 ended").arg(p.chunksDone).arg(p.chunks);
        break;
    }
    default:
        break;
    }
    // The plugin's figures, or none: a host does not guess them.
    if (p.phase != BatchProgress::Phase::Done) {
        if (p.rate > 0)
            text += bytes ? QStringLiteral("  %1/s").arg(c.formattedDataSize(qint64(p.rate)))
                          : QStringLiteral("  %1/s").arg(p.rate, 0, 'f', 1);
        if (p.etaMs >= 0)
            text += QStringLiteral("  ETA %1").arg(duration(p.etaMs));
    }
    const QString reason = printable(p.reason).replace(QLatin1Char('\n'), QLatin1Char(' '));
    const bool done = p.phase == BatchProgress::Phase::Done;
    if (done && !p.status.isEmpty())
        text += QStringLiteral("  %1").arg(printable(p.status, false));
    if (p.stalled && !done)
        text += QStringLiteral("  STALLED");
    if (!reason.isEmpty())
        text += (done || p.stalled) ? QStringLiteral(": %1").arg(reason) : QStringLiteral("  (%1)").arg(reason);
    while (text.endsWith(QLatin1Char(' ')))
        text.chop(1);
    return text;
}

void ProgressPrinter::jobRegistered(Job *job)
{
    // A monitor's lines line up from the first, whichever batch comes first.
    if (auto *monitor = qobject_cast<MonitorJob *>(job)) {
        const QStringList ids = monitor->batchIds();
        for (const QString &id : ids)
            m_idWidth = qMax(m_idWidth, int(qMin<qsizetype>(id.size(), 24)));
    }
}

void ProgressPrinter::progressChanged(Job *job, const BatchProgress &p)
{
    // A monitor's progress is the sum of its batches, each shown on its own.
    if (!qobject_cast<MonitorJob *>(job))
        progress(p);
}

void ProgressPrinter::progress(const BatchProgress &p)
{
    if (m_mode == Mode::Json) {
        QJsonObject event = p.toJson();
        event.insert(QStringLiteral("event"), QStringLiteral("progress"));
        printJson(m_out, event);
        return;
    }
    const bool phaseChanged = p.phase != m_last.phase || p.batchId != m_last.batchId;
    if (m_mode == Mode::Terminal) {
        m_last = p;
        if (phaseChanged)
            endTerminalLine();
        m_out << "\r\x1b[2K" << line(p);
        m_out.flush();
        m_lineOpen = true;
        return;
    }
    // Lines: at most one a second, but every phase change, after the last
    // state of the phase before it (so a log shows each phase's end).
    if (phaseChanged && m_last != m_lastPrinted)
        printLine(m_last);
    m_last = p;
    if (phaseChanged || !m_sinceLastLine.isValid() || m_sinceLastLine.elapsed() >= 1000)
        printLine(p);
}

// --- several batches (a MonitorJob) -----------------------------------------

void ProgressPrinter::batchChanged(Job *job, const BatchStatus &batch, const BatchProgress &p)
{
    if (!qobject_cast<MonitorJob *>(job))
        return; // a single batch's job: its progress is shown as it comes
    BatchProgress progress = p;
    if (progress.batchId.isEmpty())
        progress.batchId = batch.batchId;
    if (progress.batchId.isEmpty())
        return;
    // The batch's one state: a request that says processing while its
    // workflow failed has failed.
    if (progress.status.isEmpty() || batch.isFinal())
        progress.status = batch.outcome().isEmpty() ? progress.status : batch.outcome();
    if (m_mode == Mode::Json) {
        QJsonObject event = progress.toJson();
        event.insert(QStringLiteral("event"), QStringLiteral("progress"));
        printJson(m_out, event);
        return;
    }
    if (!m_rows.contains(progress.batchId)) {
        m_order.append(progress.batchId);
        m_idWidth = qMax(m_idWidth, int(qMin<qsizetype>(progress.batchId.size(), 24)));
    }
    Row &row = m_rows[progress.batchId];
    row.batch = batch;
    row.progress = progress;
    if (m_mode == Mode::Terminal) {
        if (!m_redraw.isActive())
            m_redraw.start();
        return;
    }
    // Lines: at most one a second per batch, and its end at once.
    const bool final = batch.isFinal() || progress.phase == BatchProgress::Phase::Done;
    if (row.finalPrinted)
        return;
    if (final || !row.sincePrinted.isValid() || row.sincePrinted.elapsed() >= 1000) {
        row.pending = false;
        row.finalPrinted = final;
        row.sincePrinted.start();
        m_out << rowLine(row) << '\n';
        m_out.flush();
        return;
    }
    row.pending = true;
    if (!m_flush.isActive())
        m_flush.start();
}

QString ProgressPrinter::rowLine(const Row &row) const
{
    // A batch that ended without its Done phase (its workflow failed before
    // the worker said so) has ended all the same: shown with its outcome.
    if (row.batch.isFinal() && row.progress.phase != BatchProgress::Phase::Done) {
        BatchProgress ended = row.progress;
        ended.phase = BatchProgress::Phase::Done;
        ended.status = row.batch.outcome();
        ended.stalled = false;
        return line(ended, m_idWidth);
    }
    return line(row.progress, m_idWidth);
}

void ProgressPrinter::flushPendingLines(bool all)
{
    bool waiting = false;
    for (const QString &id : std::as_const(m_order)) {
        Row &row = m_rows[id];
        if (!row.pending || row.finalPrinted)
            continue;
        if (!all && row.sincePrinted.isValid() && row.sincePrinted.elapsed() < 1000) {
            waiting = true;
            continue;
        }
        row.pending = false;
        row.sincePrinted.start();
        m_out << rowLine(row) << '\n';
    }
    m_out.flush();
    if (!waiting)
        m_flush.stop();
}

static winsize terminalSize()
{
    winsize size{};
    if (::ioctl(fileno(stdout), TIOCGWINSZ, &size) != 0)
        size = winsize{};
    return size;
}

int ProgressPrinter::columns() const
{
    if (m_width > 0 || !m_onStdout)
        return m_width;
    return terminalSize().ws_col;
}

int ProgressPrinter::rows() const
{
    if (m_height > 0 || !m_onStdout)
        return m_height;
    return terminalSize().ws_row;
}

void ProgressPrinter::eraseBlock()
{
    // Back to the block's first line, and clear from there down.
    if (m_drawnLines > 0)
        m_out << "\x1b[" << m_drawnLines << "A\r\x1b[J";
    m_drawnLines = 0;
    m_drawn.clear();
}

void ProgressPrinter::drawBlock()
{
    m_redraw.stop();
    if (m_order.isEmpty())
        return;
    const int width = columns();
    // Lines scrolled off the top cannot be reached again: at most a screen,
    // the batches still running first.
    QStringList shown = m_order;
    qsizetype hidden = 0, hiddenEnded = 0;
    const int height = rows();
    if (height > 2 && shown.size() > height - 1) {
        std::stable_partition(shown.begin(), shown.end(), [this](const QString &id) { return !m_rows.value(id).batch.isFinal(); });
        const QStringList rest = shown.mid(height - 2);
        shown = shown.first(height - 2);
        hidden = rest.size();
        for (const QString &id : rest)
            hiddenEnded += m_rows.value(id).batch.isFinal() ? 1 : 0;
    }
    QStringList lines;
    for (const QString &id : std::as_const(shown))
        lines << rowLine(m_rows.value(id));
    if (hidden)
        lines << QStringLiteral("... %1 more (%2 ended)").arg(hidden).arg(hiddenEnded);
    for (QString &text : lines) {
        // One screen line each, or the cursor moves above miscount.
        if (width > 1 && text.size() >= width)
            text = text.left(width - 2) + QChar(0x2026);
    }
    // A change the lines do not show: nothing to draw.
    if (m_drawnLines > 0 && lines == m_drawn)
        return;
    if (m_drawnLines > 0)
        m_out << "\x1b[" << m_drawnLines << 'A';
    for (const QString &text : std::as_const(lines))
        m_out << "\r\x1b[2K" << text << '\n';
    m_drawn = lines;
    // A shorter block than the last: clear what is below it.
    if (lines.size() < m_drawnLines)
        m_out << "\x1b[J";
    m_drawnLines = int(lines.size());
    m_out.flush();
}

void ProgressPrinter::infoMessage(Job *job, const QString &message)
{
    Q_UNUSED(job)
    info(message);
}

void ProgressPrinter::finished(Job *job)
{
    if (qobject_cast<MonitorJob *>(job)) {
        monitorResult(*job, m_command);
        return;
    }
    const auto *batchJob = qobject_cast<const membatch::BatchJob *>(job);
    const BatchStatus batch = batchJob ? batchJob->batch() : BatchStatus();
    result(*job, batchJob ? &batch : nullptr, m_command);
}

void ProgressPrinter::monitorResult(const Job &job, const QString &command)
{
    const auto &monitor = static_cast<const MonitorJob &>(job);
    const QStringList ids = monitor.batchIds();
    if (m_mode == Mode::Json) {
        QJsonArray batches;
        for (const QString &id : ids)
            batches.append(monitor.batch(id).toJson());
        QJsonObject event{{QStringLiteral("event"), QStringLiteral("result")},
                          {QStringLiteral("command"), command},
                          {QStringLiteral("ok"), job.error() == Job::NoError},
                          {QStringLiteral("batches"), batches}};
        if (job.error()) {
            event.insert(QStringLiteral("error"), job.errorString());
            event.insert(QStringLiteral("errorCode"), job.error());
        }
        printJson(m_out, event);
    } else {
        // Every batch's last state: in place on a terminal, else a line for
        // each whose end was not printed yet.
        for (const QString &id : ids) {
            const BatchStatus batch = monitor.batch(id);
            if (batch.batchId.isEmpty() || m_rows.contains(id))
                continue;
            BatchProgress p = monitor.batchProgress(id);
            p.batchId = id;
            m_order.append(id);
            m_idWidth = qMax(m_idWidth, int(qMin<qsizetype>(id.size(), 24)));
            m_rows.insert(id, Row{batch, p, {}, true, false});
        }
        if (m_mode == Mode::Terminal) {
            drawBlock();
        } else {
            m_flush.stop();
            for (const QString &id : std::as_const(m_order)) {
                Row &row = m_rows[id];
                if (!row.finalPrinted)
                    m_out << rowLine(row) << '\n';
                row.finalPrinted = true;
            }
        }
        // How they ended, in a line: "3 batches: 2 completed, 1 failed".
        QMap<QString, int> outcomes;
        for (const QString &id : ids) {
            const BatchStatus batch = monitor.batch(id);
            const QString outcome = batch.outcome().isEmpty() ? QStringLiteral("unknown") : batch.outcome();
            ++outcomes[batch.isFinal() ? outcome : QStringLiteral("not ended (%1)").arg(outcome)];
        }
        QStringList parts;
        for (auto it = outcomes.cbegin(); it != outcomes.cend(); ++it)
            parts << QStringLiteral("%1 %2").arg(it.value()).arg(printable(it.key()));
        m_out << ids.size() << (ids.size() == 1 ? " batch: " : " batches: ") << parts.join(QStringLiteral(", ")) << '\n';
    }
    m_out.flush();
    if (job.error()) {
        m_err << "membatch: " << printable(job.errorString()) << '\n';
        m_err.flush();
    }
}

void ProgressPrinter::printLine(const BatchProgress &p)
{
    m_out << line(p) << '\n';
    m_out.flush();
    m_lastPrinted = p;
    m_sinceLastLine.start();
}

void ProgressPrinter::endTerminalLine()
{
    if (m_lineOpen) {
        m_out << '\n';
        m_lineOpen = false;
    }
}

void ProgressPrinter::info(const QString &message)
{
    if (m_mode == Mode::Json) {
        printJson(m_out, {{QStringLiteral("event"), QStringLiteral("info")}, {QStringLiteral("message"), message}});
        return;
    }
    endTerminalLine();
    // Above the batches' lines, which are drawn again below it.
    const bool redraw = m_mode == Mode::Terminal && m_drawnLines > 0;
    if (redraw)
        eraseBlock();
    m_out << printable(message) << '\n';
    if (redraw)
        drawBlock();
    m_out.flush();
}

void ProgressPrinter::warning(const QString &message)
{
    // stderr shares the terminal: off the lines being redrawn, and they
    // come again below it.
    const bool redraw = m_mode == Mode::Terminal && m_drawnLines > 0;
    if (m_mode == Mode::Terminal)
        endTerminalLine();
    if (redraw)
        eraseBlock();
    m_out.flush();
    m_err << "membatch: warning: " << printable(message) << '\n';
    m_err.flush();
    if (redraw)
        drawBlock();
}

void ProgressPrinter::error(const QString &message)
{
    if (m_mode == Mode::Terminal)
        endTerminalLine();
    m_out.flush();
    m_err << "membatch: " << printable(message) << '\n';
    m_err.flush();
}

void ProgressPrinter::items(const QList<membatch::ItemResult> &items)
{
    for (const membatch::ItemResult &r : items) {
        if (m_mode == Mode::Json) {
            printJson(m_out, r.toJson());
            continue;
        }
        m_out << "item " << r.index;
        if (!r.customId.isEmpty())
            m_out << " (" << printable(r.customId) << ')';
        if (r.isStored())
            m_out << ": stored as Memory " << printable(r.memoryId) << '\n';
        else
            m_out << ": refused: " << printable(r.error) << '\n';
    }
    m_out.flush();
}

void ProgressPrinter::resultsEnded(const membatch::Job &job, const BatchStatus &batch, qint64 shown)
{
    m_out.flush();
    if (job.error()) {
        m_err << "membatch: " << printable(job.errorString()) << '\n';
    } else if (m_mode != Mode::Json) {
        m_err << "batch " << printable(batch.batchId) << " (" << (batch.outcome().isEmpty() ? QStringLiteral("unknown") : batch.outcome())
              << "): " << shown << " results shown; " << batch.processedCount << " of " << batch.totalMemories
              << " items processed, " << batch.successCount << " stored, " << batch.failCount << " refused\n";
    }
    m_err.flush();
}

void ProgressPrinter::result(const membatch::Job &job, const BatchStatus *batch, const QString &command)
{
    if (m_mode == Mode::Json) {
        QJsonObject event{{QStringLiteral("event"), QStringLiteral("result")},
                          {QStringLiteral("command"), command},
                          {QStringLiteral("ok"), job.error() == membatch::Job::NoError}};
        if (job.error()) {
            event.insert(QStringLiteral("error"), job.errorString());
            event.insert(QStringLiteral("errorCode"), job.error());
        }
        if (batch && (!batch->batchId.isEmpty() || batch->inputItems >= 0))
            event.insert(QStringLiteral("batch"), batch->toJson());
        printJson(m_out, event);
        if (job.error()) {
            m_err << "membatch: " << printable(job.errorString()) << '\n';
            m_err.flush();
        }
        return;
    }

    if (m_mode == Mode::Terminal && m_last.phase != BatchProgress::Phase::Done && m_lineOpen)
        m_out << "\r\x1b[2K" << line(m_last);
    else if (m_mode == Mode::Lines && m_last != m_lastPrinted)
        printLine(m_last); // a log ends with the last state, however soon it came

    endTerminalLine();
    const bool dryRun = batch && batch->inputItems >= 0 && batch->status.isEmpty();
    if (batch && batch->inputItems >= 0) {
        // What submit made of its input.
        const BatchStatus &b = *batch;
        m_out << (dryRun ? "dry run: " : "") << b.inputItems << " items: " << b.invalidItems << " invalid, " << b.duplicateItems
              << " duplicates, " << b.totalMemories << (dryRun ? " to send in " : " sent in ") << b.chunkCount
              << (b.chunkCount == 1 ? " chunk" : " chunks");
        if (b.compressedBytes > 0)
            m_out << ", " << b.rawBytes << " bytes JSON, " << b.compressedBytes << " bytes gzip (ratio "
                  << QString::number(double(b.rawBytes) / double(b.compressedBytes), 'f', 2) << ")";
        m_out << '\n';
    }
    if (batch && !dryRun && batch->isParent()) {
        const BatchStatus &b = *batch;
        m_out << "batch " << printable(b.batchId) << ": " << (b.outcome().isEmpty() ? QStringLiteral("unknown") : b.outcome()) << '\n'
              << "  chunks     " << b.chunkCount << ": " << b.chunksFound << " sent, " << b.chunksFinal << " ended (each its own batch, "
              << printable(b.batchId) << "-NNN)\n"
              << "  memories   " << b.processedCount << "/" << b.totalMemories << " processed, " << b.successCount << " stored, "
              << b.failCount << " failed\n";
        if (b.processingDurationMs >= 0)
            m_out << "  took       " << b.processingDurationMs << " ms\n";
    } else if (batch && !batch->batchId.isEmpty() && !batch->requestId.isEmpty()) {
        const BatchStatus &b = *batch;
        m_out << "batch " << printable(b.batchId) << ": " << (b.outcome().isEmpty() ? QStringLiteral("unknown") : b.outcome()) << '\n'
              << "  request    BatchMemoryRequest/" << b.requestId << '\n';
        if (!b.workflowId.isEmpty())
            m_out << "  workflow   " << b.workflowId << " run " << (b.workflowRunId.isEmpty() ? QStringLiteral("-") : b.workflowRunId)
                  << (b.workflowStatus.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(b.workflowStatus)) << '\n';
        m_out << "  memories   " << b.processedCount << "/" << b.totalMemories << " processed, " << b.successCount
              << " stored, " << b.failCount << " failed\n";
        if (b.compressedBytes > 0)
            m_out << "  file       " << b.dataFileUrl.toDisplayString() << " (" << b.rawBytes << " bytes JSON, "
                  << b.compressedBytes << " bytes gzip)\n";
        if (b.processingDurationMs >= 0)
            m_out << "  took       " << b.processingDurationMs << " ms\n";
    }
    m_out.flush();
    if (job.error()) {
        m_err << "membatch: " << printable(job.errorString()) << '\n';
        m_err.flush();
    }
}
