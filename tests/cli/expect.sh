#!/usr/bin/env bash
# Runs a command and checks its exit code and output (stdout and stderr).
#   expect.sh EXIT_CODE REGEX -- COMMAND [ARGS...]
# Sourced instead, it defines expect() for scripts with many checks.

# expect NAME EXIT_CODE REGEX -- COMMAND...: prints PASS/FAIL; the output is
# left in LAST_OUTPUT; returns non-zero on a mismatch.
expect() {
    local name=$1 want_rc=$2 pattern=$3
    shift 4
    local rc
    LAST_OUTPUT=$("$@" 2>&1)
    rc=$?
    if [[ $rc -ne $want_rc ]]; then
        echo "FAIL: $name: exit code $rc, expected $want_rc; output:"$'\n'"$LAST_OUTPUT" >&2
        return 1
    fi
    if ! grep -Eq -- "$pattern" <<<"$LAST_OUTPUT"; then
        echo "FAIL: $name: output does not match /$pattern/:"$'\n'"$LAST_OUTPUT" >&2
        return 1
    fi
    echo "PASS: $name"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -uo pipefail
    [[ $# -ge 4 && $3 == "--" ]] || { echo "usage: expect.sh EXIT_CODE REGEX -- COMMAND..." >&2; exit 2; }
    rc=$1 pattern=$2
    shift 3
    expect "$*" "$rc" "$pattern" -- "$@"
fi
