#!/usr/bin/env bash
# The journal end to end against the local stack: batches submitted by a
# host that is gone are picked up by `watch --all` (several at once, through
# the plugin's monitor), the journal follows them to their end, and it is
# scoped by server and user. Run through with-env.sh. Its own task queue and
# workflow worker, so that no other worker takes its batches.
# usage: watch_all_e2e.sh MEMBATCH_BINARY SAMPLE_FILE WORKFLOW_WORKER
set -uo pipefail

membatch=$1
sample=$2
workflow_worker=$3
work=$(mktemp -d)
queue="watch-all-$$"
worker_pid=""
failures=0
export MEMBATCH_JOURNAL="$work/journal.json"

cleanup() {
    [[ -n $worker_pid ]] && kill "$worker_pid" 2>/dev/null
    [[ -n ${WF_PID:-} ]] && kill "$WF_PID" 2>/dev/null && wait "$WF_PID" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

coproc WF { exec "$workflow_worker" --task-queue "$queue" 2>"$work/workflow.log"; }
if ! read -t 30 -r line <&"${WF[0]}" || [[ $line != *polling* ]]; then
    echo "FAIL: the workflow worker for $queue did not start: $(cat "$work/workflow.log")" >&2
    exit 1
fi

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
# shellcheck source=expect.sh
source "$(dirname "$0")/expect.sh"
check() { expect "$@" || failures=$((failures + 1)); }
entries() { cat "$MEMBATCH_JOURNAL" 2>/dev/null | grep -c '"batchId"'; }
unfinished_in_journal() {
    # Entries without finishedAt: indented JSON, a field a line, keys sorted
    # (batchId first).
    awk '/"batchId"/{n++; f[n]=0} /"finishedAt"/{f[n]=1} END{c=0; for(i=1;i<=n;i++) if(!f[i]) c++; print c}' "$MEMBATCH_JOURNAL"
}

# --- nothing sent yet ---------------------------------------------------------
check "watch --all with an empty journal" 0 "no batch in the journal .* has not ended" -- "$membatch" watch --all
check "a dry run is not recorded" 0 "dry run: 300 items" -- "$membatch" submit "$sample" --dry-run
[[ ! -e $MEMBATCH_JOURNAL ]] || fail "a dry run wrote the journal: $(cat "$MEMBATCH_JOURNAL")"

# --- three submissions by hosts that exit at once (no worker yet) --------------
ids=()
for i in 1 2 3; do
    check "submit $i" 0 "batch .*: pending" -- \
        "$membatch" submit "$sample" --task-queue "$queue" --idempotency-key "watch-all-$$-$i"
    id=$(sed -n 's/^batch \([^:]*\): pending$/\1/p' <<<"$LAST_OUTPUT" | head -n 1)
    [[ -n $id ]] || fail "no batch id in the output of submit $i: $LAST_OUTPUT"
    ids+=("$id")
done
[[ $(entries) -eq 3 ]] || fail "the journal holds $(entries) entries, not 3: $(cat "$MEMBATCH_JOURNAL")"
for id in "${ids[@]}"; do
    grep -q "\"batchId\": \"$id\"" "$MEMBATCH_JOURNAL" || fail "batch $id is not in the journal"
done
grep -q "\"source\": \"$sample\"" "$MEMBATCH_JOURNAL" || fail "the journal does not name the input"

# --- another user, another server: none of these -------------------------------
check "another user sees none of them" 0 "no batch in the journal .* has not ended, of user someone-else" -- \
    env MEMBATCH_USERNAME=someone-else MEMBATCH_PASSWORD=x "$membatch" watch --all
check "another server sees none of them" 0 "no batch in the journal .* has not ended" -- \
    "$membatch" watch --all --parse-url http://127.0.0.1:1/parse

# --- a worker, and watch --all after the hosts are gone ------------------------
"$membatch" work --task-queue "$queue" --max-tasks 3 >"$work/worker.log" 2>&1 &
worker_pid=$!
check "watch --all follows the three to their end" 0 "3 batches: 3 completed" -- \
    timeout 240 "$membatch" watch --all --poll-ms 200
for id in "${ids[@]}"; do
    grep -Eq "^$id .*180/180 \(100%\)  stored 180  failed 0.*  completed$" <<<"$LAST_OUTPUT" \
        || fail "no final line for $id: $LAST_OUTPUT"
    [[ $(grep -Ec "^$id .*  completed$" <<<"$LAST_OUTPUT") -eq 1 ]] || fail "not exactly one final line for $id: $LAST_OUTPUT"
done
if grep -q $'\x1b' <<<"$LAST_OUTPUT"; then fail "escape codes in piped output"; fi
echo "$LAST_OUTPUT" | tail -n 4
[[ $(unfinished_in_journal) -eq 0 ]] || fail "the journal still has unfinished entries: $(cat "$MEMBATCH_JOURNAL")"
grep -q '"status": "completed"' "$MEMBATCH_JOURNAL" || fail "the journal does not say completed"
check "nothing left to watch" 0 "no batch in the journal .* has not ended" -- "$membatch" watch --all

# --- watch ID ID --json: a line per batch with its id, one result -----------------
check "watch two ids --json" 0 '"event":"result"' -- "$membatch" watch "${ids[0]}" "${ids[1]}" --json
for id in "${ids[0]}" "${ids[1]}"; do
    grep -q "\"batchId\":\"$id\"" <<<"$LAST_OUTPUT" || fail "no JSON line names $id: $LAST_OUTPUT"
done
if grep -v '^{' <<<"$LAST_OUTPUT" | grep -q .; then fail "--json printed a non-JSON line: $LAST_OUTPUT"; fi

# --- pruning: ended more than --keep-finished ago ------------------------------
check "watch --all prunes what ended" 0 "no batch in the journal" -- "$membatch" watch --all --keep-finished 0s
[[ $(entries) -eq 0 ]] || fail "--keep-finished 0s left $(entries) entries: $(cat "$MEMBATCH_JOURNAL")"

# --- a journal that cannot be written is a warning, not a failed submit --------
check "submit with an unwritable journal" 0 "warning: journal /proc/membatch-nope/journal.json" -- \
    env MEMBATCH_JOURNAL=/proc/membatch-nope/journal.json \
    "$membatch" submit "$sample" --task-queue "$queue" --idempotency-key "watch-all-$$-1"
# --- a corrupt journal: reported, left alone ------------------------------------
printf '{"version":1,"entries":[' >"$work/corrupt.json"
check "a corrupt journal" 1 "is not a membatch journal" -- "$membatch" watch --all --journal "$work/corrupt.json"
[[ $(cat "$work/corrupt.json") == '{"version":1,"entries":[' ]] || fail "the corrupt journal was changed"

wait "$worker_pid"
worker_pid=""

if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
