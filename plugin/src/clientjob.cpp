#include "clientjob.h"

#include "batchrequest.h"

namespace membatch {

ClientJob::ClientJob(QNetworkAccessManager *nam, const ConnectionSettings &settings, const QString &batchId, QObject *parent)
    : BatchJob(parent)
    , m_nam(nam)
    , m_settings(settings)
    , m_batchId(batchId)
    , m_parse(nam, settings, ParseClient::clientAuth(settings))
    , m_temporal(nam, settings)
{
}

void ClientJob::doStart()
{
    const QStringList missing = m_settings.missingForClient();
    if (!missing.isEmpty()) {
        setError(ConfigurationError, tr("cannot %1 batch %2: set %3").arg(purpose(), m_batchId, missing.join(QStringLiteral(", "))));
        emitResult();
        return;
    }
    m_parse.signIn(this, [this](const ApiResult &r, const QString &) {
        if (!r.ok()) {
            setError(r.error, tr("signing in to Parse: %1").arg(r.message));
            finish();
            return;
        }
        signedIn();
    });
}

void ClientJob::finish()
{
    m_parse.signOut(this, [this] { emitResult(); });
}

void ClientJob::findRequest(RestClient::Handler handler)
{
    m_parse.find(BatchRequest::ClassName, {{QStringLiteral("batchId"), m_batchId}}, this, std::move(handler), 1);
}

void ClientJob::notFound()
{
    setError(NotFoundError, tr("no batch %1 in Parse (or it is not visible to %2)")
                                .arg(m_batchId, m_settings.username.isEmpty() ? tr("this key") : m_settings.username));
    finish();
}

} // namespace membatch
