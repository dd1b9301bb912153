#include <membatch/connectionsettings.h>

namespace membatch {

ConnectionSettings ConnectionSettings::fromEnvironment(const QProcessEnvironment &env)
{
    ConnectionSettings s;
    auto read = [&env](const char *name, QString *target) {
        const QString value = env.value(QLatin1String(name));
        if (!value.isEmpty())
            *target = value;
    };
    auto readUrl = [&env](const char *name, QUrl *target) {
        const QString value = env.value(QLatin1String(name));
        if (!value.isEmpty())
            *target = QUrl(value);
    };
    readUrl("MEMBATCH_PARSE_URL", &s.parseUrl);
    read("MEMBATCH_APP_ID", &s.appId);
    read("MEMBATCH_REST_KEY", &s.restKey);
    read("MEMBATCH_MASTER_KEY", &s.masterKey);
    read("MEMBATCH_USERNAME", &s.username);
    read("MEMBATCH_PASSWORD", &s.password);
    read("MEMBATCH_SESSION_TOKEN", &s.sessionToken);
    readUrl("MEMBATCH_TEMPORAL_URL", &s.temporalUrl);
    read("MEMBATCH_TEMPORAL_ADDRESS", &s.temporalAddress);
    if (env.contains(QStringLiteral("MEMBATCH_TEMPORAL_API_PREFIX")))
        s.temporalApiPrefix = env.value(QStringLiteral("MEMBATCH_TEMPORAL_API_PREFIX"));
    read("MEMBATCH_NAMESPACE", &s.temporalNamespace);
    read("MEMBATCH_TASK_QUEUE", &s.taskQueue);
    return s;
}

static QStringList missingCommon(const ConnectionSettings &s)
{
    QStringList missing;
    if (!s.parseUrl.isValid() || s.parseUrl.isEmpty())
        missing << QStringLiteral("MEMBATCH_PARSE_URL");
    if (s.appId.isEmpty())
        missing << QStringLiteral("MEMBATCH_APP_ID");
    if (!s.temporalUrl.isValid() || s.temporalUrl.isEmpty())
        missing << QStringLiteral("MEMBATCH_TEMPORAL_URL");
    if (s.temporalNamespace.isEmpty())
        missing << QStringLiteral("MEMBATCH_NAMESPACE");
    if (s.taskQueue.isEmpty())
        missing << QStringLiteral("MEMBATCH_TASK_QUEUE");
    return missing;
}

QStringList ConnectionSettings::missingForClient() const
{
    QStringList missing = missingCommon(*this);
    const bool hasUser = !username.isEmpty() && !password.isEmpty();
    if (!hasUser && sessionToken.isEmpty() && masterKey.isEmpty())
        missing << QStringLiteral("MEMBATCH_USERNAME and MEMBATCH_PASSWORD (or MEMBATCH_SESSION_TOKEN)");
    if (hasUser && restKey.isEmpty() && masterKey.isEmpty())
        missing << QStringLiteral("MEMBATCH_REST_KEY");
    return missing;
}

QStringList ConnectionSettings::missingForWorker() const
{
    QStringList missing = missingCommon(*this);
    if (temporalAddress.isEmpty())
        missing << QStringLiteral("MEMBATCH_TEMPORAL_ADDRESS");
    if (masterKey.isEmpty())
        missing << QStringLiteral("MEMBATCH_MASTER_KEY");
    return missing;
}

QStringList ConnectionSettings::missingForOperator() const
{
    QStringList missing;
    if (!parseUrl.isValid() || parseUrl.isEmpty())
        missing << QStringLiteral("MEMBATCH_PARSE_URL");
    if (appId.isEmpty())
        missing << QStringLiteral("MEMBATCH_APP_ID");
    if (masterKey.isEmpty())
        missing << QStringLiteral("MEMBATCH_MASTER_KEY");
    return missing;
}

QString ConnectionSettings::describe() const
{
    QString who;
    if (!sessionToken.isEmpty())
        who = QStringLiteral("a session token");
    else if (!username.isEmpty())
        who = QStringLiteral("user '%1'").arg(username);
    else if (!masterKey.isEmpty())
        who = QStringLiteral("the master key");
    else
        who = QStringLiteral("no credentials");
    const QString grpc = temporalAddress.isEmpty() ? QString() : QStringLiteral(", gRPC %1").arg(temporalAddress);
    return QStringLiteral("Parse %1 (app %2, as %3), Temporal %4%5%6 (namespace %7, task queue %8)")
        .arg(parseUrl.toDisplayString(), appId, who, temporalUrl.toDisplayString(), temporalApiPrefix, grpc,
             temporalNamespace, taskQueue);
}

} // namespace membatch
