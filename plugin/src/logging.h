#pragma once

#include <QLoggingCategory>

// Quiet by default; turn on with e.g. QT_LOGGING_RULES="membatch.*.debug=true".
// Nothing logged here may carry a key, token, password or webhook secret.
Q_DECLARE_LOGGING_CATEGORY(lcParse)
Q_DECLARE_LOGGING_CATEGORY(lcTemporal)
Q_DECLARE_LOGGING_CATEGORY(lcSubmit)
Q_DECLARE_LOGGING_CATEGORY(lcWatch)
Q_DECLARE_LOGGING_CATEGORY(lcWorker)
Q_DECLARE_LOGGING_CATEGORY(lcRetry)
Q_DECLARE_LOGGING_CATEGORY(lcHttp)
