#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QString>

#include <initializer_list>

namespace membatch {

// The outcome of one HTTP exchange, classified: error is a Job::Error and
// message says what failed, where, and what the server said.
struct ApiResult
{
    QString service;         // "Parse", "Temporal"
    QString target;          // "POST http://host/parse/files/x" (no query)
    int httpStatus = 0;      // 0: no answer (network error)
    int networkError = 0;    // QNetworkReply::NetworkError
    QByteArray body;
    QJsonObject json;        // the body, if it is a JSON object
    int error = 0;           // Job::Error
    int serviceCode = 0;     // Parse's "code" or the gRPC status code
    QString message;
    QByteArray retryAfter;   // the Retry-After header, if any

    bool ok() const { return error == 0; }

    // Turns a success that lacks one of these JSON fields into a ServerError
    // saying so; returns ok() afterwards.
    bool expectFields(std::initializer_list<const char *> keys);
};

} // namespace membatch
