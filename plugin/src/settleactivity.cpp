#include "settleactivity.h"

#include "batchrequest.h"
#include "logging.h"

#include <membatch/batchstatus.h>
#include <membatch/job.h>

namespace membatch {

void SettleActivity::start()
{
    const QJsonArray &input = m_task.input;
    const bool wellFormed = input.size() == 4 && std::all_of(input.begin(), input.end(), [](const QJsonValue &v) { return v.isString(); });
    m_status = input.at(2).toString();
    if (!wellFormed || (m_status != QLatin1String(BatchStatus::Failed) && m_status != QLatin1String(BatchStatus::Canceled))) {
        failTask(tr("activity %1 expects [request_id, batch_id, \"failed\" or \"canceled\", reason] as input")
                     .arg(BatchRequest::SettleActivityType),
                 QStringLiteral("BadInput"), true);
        return;
    }
    m_requestId = input.at(0).toString();
    m_batchId = input.at(1).toString();
    m_reason = input.at(3).toString();
    retrying([this](RestClient::Handler h) { m_parse.getObject(BatchRequest::ClassName, m_requestId, this, std::move(h)); },
             [this](const ApiResult &r) {
                 if (r.error == Job::NotFoundError) {
                     completeTask({{QStringLiteral("status"), QString()}, {QStringLiteral("changed"), false}},
                                  tr("batch %1: no request %2 to settle").arg(m_batchId, m_requestId));
                     return;
                 }
                 if (!r.ok()) {
                     failTask(tr("settling batch %1: %2").arg(m_batchId, r.message), QStringLiteral("BatchTransientError"), false);
                     return;
                 }
                 mark(r.json);
             });
}

void SettleActivity::mark(const QJsonObject &request)
{
    const BatchStatus status = BatchRequest::statusFromObject(request);
    if (status.batchId != m_batchId) {
        failTask(tr("%1 %2 belongs to batch %3, not %4").arg(BatchRequest::ClassName, m_requestId, status.batchId, m_batchId),
                 QStringLiteral("BatchDataError"), true);
        return;
    }
    if (status.isFinal()) { // the batch's activity had the last word
        completeTask({{QStringLiteral("status"), status.status}, {QStringLiteral("changed"), false},
                      {QStringLiteral("webhook"), BatchRequest::wantsWebhook(request)}},
                     tr("batch %1 was already %2").arg(m_batchId, status.status));
        return;
    }
    m_wantsWebhook = BatchRequest::wantsWebhook(request);
    QJsonArray errors = status.errors;
    errors.append(BatchRequest::errorEntry(m_reason, -1, QStringLiteral("workflow")));
    const QJsonObject fields = BatchRequest::endedFields(m_status, errors, status.startedAt);
    retrying([this, fields](RestClient::Handler h) {
        m_parse.updateObject(BatchRequest::ClassName, m_requestId, fields, this, std::move(h));
    },
             [this](const ApiResult &r) {
                 if (!r.ok()) {
                     failTask(tr("settling batch %1: %2").arg(m_batchId, r.message), QStringLiteral("BatchTransientError"), false);
                     return;
                 }
                 qCInfo(lcWorker) << "batch" << m_batchId << "settled as" << m_status << ":" << m_reason;
                 completeTask({{QStringLiteral("status"), m_status}, {QStringLiteral("changed"), true},
                               {QStringLiteral("webhook"), m_wantsWebhook}},
                              tr("batch %1: marked %2 (%3)").arg(m_batchId, m_status, m_reason));
             });
}

} // namespace membatch
