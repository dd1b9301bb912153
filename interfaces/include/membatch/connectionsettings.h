#pragma once

#include <membatch/membatch_export.h>

#include <QMetaType>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <QUrl>

namespace membatch {

// Where the Parse Server and the Temporal HTTP API are, and the credentials
// to use. Secrets (keys, password, session token) are never part of
// describe() and must never be logged.
struct MEMBATCH_EXPORT ConnectionSettings
{
    QUrl parseUrl;            // e.g. http://127.0.0.1:1337/parse
    QString appId;
    QString restKey;
    QString masterKey;        // the worker needs it; a submitter does not
    QString username;         // a submitter logs in as this user...
    QString password;
    QString sessionToken;     // ...or uses this session directly

    QUrl temporalUrl;         // the server's HTTP API, e.g. http://127.0.0.1:7243
    QString temporalAddress;  // its gRPC frontend, host:port (the worker polls there), e.g. 127.0.0.1:7233
    QString temporalApiPrefix = QStringLiteral("/api/v1");
    QString temporalNamespace = QStringLiteral("default");
    QString taskQueue = QStringLiteral("membatch-batches");
    // How long the signed-in session is kept once no job holds it, for the
    // next job to take over without a second sign-in: a console's next
    // click. 0, for a command that runs its jobs and exits: logged out at
    // once (a job's result comes after its session's logout).
    int sessionLingerMs = 0;

    // Reads MEMBATCH_PARSE_URL, MEMBATCH_APP_ID, MEMBATCH_REST_KEY,
    // MEMBATCH_MASTER_KEY, MEMBATCH_USERNAME, MEMBATCH_PASSWORD,
    // MEMBATCH_SESSION_TOKEN, MEMBATCH_TEMPORAL_URL, MEMBATCH_TEMPORAL_ADDRESS,
    // MEMBATCH_TEMPORAL_API_PREFIX,
    // MEMBATCH_NAMESPACE and MEMBATCH_TASK_QUEUE; unset ones keep their defaults.
    static ConnectionSettings fromEnvironment(const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment());

    // What is missing for a client that submits or watches (Parse with a user
    // or the master key, and Temporal), as the variable names to set.
    QStringList missingForClient() const;
    // What is missing for a worker (Parse with the master key, and Temporal's
    // HTTP API and gRPC frontend).
    QStringList missingForWorker() const;
    // What is missing for an operator's job on Parse alone (migrate, gc):
    // its url, the application id and the master key.
    QStringList missingForOperator() const;

    // Human-readable summary without any secret.
    QString describe() const;
};

} // namespace membatch

Q_DECLARE_METATYPE(membatch::ConnectionSettings)
