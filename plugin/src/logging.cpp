#include "logging.h"

Q_LOGGING_CATEGORY(lcParse, "membatch.parse", QtWarningMsg)
Q_LOGGING_CATEGORY(lcTemporal, "membatch.temporal", QtWarningMsg)
Q_LOGGING_CATEGORY(lcSubmit, "membatch.submit", QtWarningMsg)
Q_LOGGING_CATEGORY(lcWatch, "membatch.watch", QtWarningMsg)
Q_LOGGING_CATEGORY(lcWorker, "membatch.worker", QtWarningMsg)
// Each retry of a call, and why: info, so it is shown only when asked for.
Q_LOGGING_CATEGORY(lcRetry, "membatch.retry", QtWarningMsg)
// Each HTTP call as it ends: verb, path (never the query), status, time.
Q_LOGGING_CATEGORY(lcHttp, "membatch.http", QtWarningMsg)
