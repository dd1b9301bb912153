#pragma once

#include "activityrun.h"

namespace membatch {

// settle_batch_request(request_id, batch_id, status, reason): what the
// workflow runs when the batch's own activity ended without settling its
// request (failed for good while Parse was unreachable, killed on its last
// attempt, or canceled before any worker took it), so that a request never
// says pending or processing forever. A request still open is marked with
// status ("failed" or "canceled") and the reason; one already final, or one
// that no longer exists, is left as it is. The result says whether the
// request asks for a webhook, for the workflow to deliver it.
class SettleActivity : public ActivityRun
{
    Q_OBJECT
public:
    using ActivityRun::ActivityRun;

    void start() override;

private:
    void mark(const QJsonObject &request);

    QString m_requestId;
    QString m_batchId;
    QString m_status;
    QString m_reason;
    bool m_wantsWebhook = false;
};

} // namespace membatch
