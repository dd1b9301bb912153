#include "progressprinter.h"

#include <membatch/job.h>

#include <QJsonDocument>
#include <QJsonObject>
#include <QLocale>
#include <QtMath>

#include <cstdio>
#include <unistd.h>

using membatch::BatchProgress;
using membatch::BatchStatus;

ProgressPrinter::ProgressPrinter(Mode mode)
    : m_mode(mode)
    , m_out(stdout)
    , m_err(stderr)
{
}

ProgressPrinter::Mode ProgressPrinter::detect(bool json)
{
    if (json)
        return Mode::Json;
    return ::isatty(fileno(stdout)) ? Mode::Terminal : Mode::Lines;
}

// Text that came from users or servers (ids, errors, messages), as a
// terminal should show it: control characters (escape sequences, carriage
// returns) written out as \uXXXX instead of acted on.
static QString printable(const QString &text)
{
    QString out;
    out.reserve(text.size());
    for (const QChar c : text)
        out += (c.isPrint() || c == QLatin1Char(' ') || c == QLatin1Char('\n')) ? QString(c) : QStringLiteral("\\u%1").arg(c.unicode(), 4, 16, QLatin1Char('0'));
    return out;
}

static void printJson(QTextStream &out, const QJsonObject &object)
{
    out << QJsonDocument(object).toJson(QJsonDocument::Compact) << '\n';
    out.flush();
}

QString ProgressPrinter::line(const BatchProgress &p) const
{
    const QLocale c = QLocale::c();
    QString text = QStringLiteral("%1 %2").arg(printable(p.batchId.left(8))).arg(BatchProgress::phaseName(p.phase), -11);
    switch (p.phase) {
    case BatchProgress::Phase::Reading:
        if (p.processed > 0)
            text += QStringLiteral(" %1 items").arg(p.processed);
        break;
    case BatchProgress::Phase::Uploading:
        // A submission's chunks: how many are sent, and the bytes so far
        // (the total is not known before the last is compressed).
        if (p.chunks > 0)
            text += QStringLiteral(" %1/%2 chunks").arg(p.chunksDone).arg(p.chunks);
        if (p.bytesTotal > 0)
            text += QStringLiteral(" %1 / %2").arg(c.formattedDataSize(p.bytesDone), c.formattedDataSize(p.bytesTotal));
        else if (p.bytesDone > 0)
            text += QStringLiteral(" %1 uploaded").arg(c.formattedDataSize(p.bytesDone));
        break;
    case BatchProgress::Phase::Encoding:
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
        const qint64 ms = m_processingClock.isValid() ? m_processingClock.elapsed() : 0;
        const qint64 done = p.processed - m_processedAtClockStart;
        if (p.phase == BatchProgress::Phase::Processing && ms > 500 && done > 0) {
            const double rate = done * 1000.0 / ms;
            text += QStringLiteral("  %1/s").arg(rate, 0, 'f', 1);
            if (p.total > p.processed)
                text += QStringLiteral("  ETA %1 s").arg(qCeil((p.total - p.processed) / rate));
        }
        if (!p.status.isEmpty() && p.phase == BatchProgress::Phase::Done)
            text += QStringLiteral("  %1").arg(p.status);
        break;
    }
    default:
        break;
    }
    while (text.endsWith(QLatin1Char(' ')))
        text.chop(1);
    return text;
}

void ProgressPrinter::progress(const BatchProgress &p)
{
    if (p.phase == BatchProgress::Phase::Processing && !m_processingClock.isValid()) {
        m_processingClock.start();
        m_processedAtClockStart = p.processed;
    }
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
    m_out << printable(message) << '\n';
    m_out.flush();
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
