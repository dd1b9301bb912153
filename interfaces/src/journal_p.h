#pragma once

#include <membatch/membatch_export.h>

namespace membatch::journal_test {

// Tests only: called once a change is in QSaveFile's temporary file and
// before it replaces the journal (so a test can kill its process there).
// nullptr: none.
MEMBATCH_EXPORT void setBeforeCommitHook(void (*hook)());

} // namespace membatch::journal_test
