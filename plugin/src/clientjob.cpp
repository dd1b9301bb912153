#include "clientjob.h"

#include "batchrequest.h"

namespace membatch {

template <class JobType>
ClientJobBase<JobType>::ClientJobBase(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId,
                                      QObject *parent)
    : JobType(parent)
    , m_nam(nam)
    , m_settings(settings)
    , m_batchId(batchId)
    , m_parse(nam, settings, ParseClient::clientAuth(settings))
    , m_temporal(nam, settings)
{
}

template <class JobType>
void ClientJobBase<JobType>::doStart()
{
    const QStringList missing = m_settings.missingForClient();
    if (!missing.isEmpty()) {
        this->setError(Job::ConfigurationError, JobType::tr("cannot %1 batch %2: set %3").arg(purpose(), m_batchId, missing.join(QStringLiteral(", "))));
        this->emitResult();
        return;
    }
    m_parse.signIn(this, [this](const ApiResult &r, const QString &userId) {
        if (this->isFinished()) // killed while it waited for the session
            return;
        m_userId = userId;
        if (!r.ok()) {
            this->setError(r.error, JobType::tr("signing in to Parse: %1").arg(r.message));
            finish();
            return;
        }
        signedIn();
    });
}

template <class JobType>
void ClientJobBase<JobType>::finish()
{
    m_parse.signOut(this, [this] { this->emitResult(); });
}

template <class JobType>
void ClientJobBase<JobType>::findRequest(RestClient::Handler handler)
{
    // A batch id is unique per user: a colleague's under the same id may be
    // visible too (through an organization's role), and ours comes first.
    m_parse.find(
        BatchRequest::ClassName, {{QStringLiteral("batchId"), m_batchId}}, this,
        [this, handler = std::move(handler)](const ApiResult &r) {
            ApiResult mine = r;
            if (r.ok()) {
                const QJsonArray kept = BatchRequest::ofOneOwner(r.json.value(QStringLiteral("results")).toArray(), m_userId);
                mine.json.insert(QStringLiteral("results"), kept.isEmpty() ? kept : QJsonArray{kept.first()});
            }
            handler(mine);
        },
        SameIdOwners);
}

template <class JobType>
void ClientJobBase<JobType>::findChunks(RestClient::Handler handler)
{
    // The chunks of one user's submission only (see findRequest).
    m_parse.find(
        BatchRequest::ClassName, {{QStringLiteral("parentBatchId"), m_batchId}}, this,
        [this, handler = std::move(handler)](const ApiResult &r) {
            ApiResult mine = r;
            if (r.ok())
                mine.json.insert(QStringLiteral("results"),
                                 BatchRequest::ofOneOwner(r.json.value(QStringLiteral("results")).toArray(), m_userId));
            handler(mine);
        },
        BatchRequest::MaxChunks, QStringLiteral("batchId"));
}

template <class JobType>
void ClientJobBase<JobType>::notFound()
{
    this->setError(Job::NotFoundError, JobType::tr("no batch %1 in Parse (or it is not visible to %2)")
                                          .arg(m_batchId, m_settings.username.isEmpty() ? JobType::tr("this key") : m_settings.username));
    finish();
}

template class ClientJobBase<BatchJob>;
template class ClientJobBase<ResultsJob>;
template class ClientJobBase<ListJob>;
template class ClientJobBase<MonitorJob>;

} // namespace membatch
