#pragma once

#include <QtCore/qglobal.h>

#if defined(MEMBATCH_INTERFACES_BUILD)
#  define MEMBATCH_EXPORT Q_DECL_EXPORT
#else
#  define MEMBATCH_EXPORT Q_DECL_IMPORT
#endif
