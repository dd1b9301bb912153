#!/usr/bin/env bash
# The membatch command end to end against the local stack: what a script or
# CI job sees (exit codes, messages, JSON lines). Run through with-env.sh.
# It works on a task queue of its own, with a workflow worker of its own, so
# that no other worker takes its batches.
# usage: cli_e2e.sh MEMBATCH_BINARY SAMPLE_FILE WORKFLOW_WORKER
set -uo pipefail

membatch=$1
sample=$2
workflow_worker=$3
work=$(mktemp -d)
queue="cli-e2e-$$"
worker_pid=""
failures=0

cleanup() {
    [[ -n $worker_pid ]] && kill "$worker_pid" 2>/dev/null
    [[ -n ${WF_PID:-} ]] && kill "$WF_PID" 2>/dev/null && wait "$WF_PID" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The workflow worker says one line once it polls: wait for that line.
coproc WF { exec "$workflow_worker" --task-queue "$queue" 2>"$work/workflow.log"; }
if ! read -t 30 -r line <&"${WF[0]}" || [[ $line != *polling* ]]; then
    echo "FAIL: the workflow worker for $queue did not start: $(cat "$work/workflow.log")" >&2
    exit 1
fi

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# shellcheck source=../cli/expect.sh
source "$(dirname "$0")/../cli/expect.sh"
check() { expect "$@" || failures=$((failures + 1)); }

# --- bad input: one clear message, non-zero exit, nothing submitted -------
printf '{"content":"a"}\n{"content":"b"\n' >"$work/broken.jsonl"
check "invalid JSON names the line" 1 "broken.jsonl:2: invalid JSON" -- \
    "$membatch" submit "$work/broken.jsonl" --task-queue "$queue"
: >"$work/empty.json"
check "empty batch" 1 "empty.json: the batch is empty" -- "$membatch" submit "$work/empty.json"
check "missing file" 1 "nope.json: cannot read" -- "$membatch" submit "$work/nope.json"
check "wrong key" 1 "unauthorized \(the application id or key was refused\)" -- \
    env MEMBATCH_REST_KEY=not-the-key "$membatch" submit "$sample"
check "unreachable Parse" 1 "cannot reach Parse" -- \
    "$membatch" submit "$sample" --parse-url http://127.0.0.1:1/parse
check "unknown batch" 1 "no batch no-such-batch" -- "$membatch" status no-such-batch
check "secrets stay out of messages" 1 "." -- \
    env MEMBATCH_PASSWORD=hunter2-secret "$membatch" submit "$sample"
if grep -q hunter2-secret <<<"$LAST_OUTPUT"; then fail "the password appeared in the output"; fi

# --- a worker pointed at the HTTP API instead of gRPC says so ---------------
check "worker on the HTTP port" 1 "answers in HTTP/1, not gRPC" -- \
    "$membatch" work --temporal-address "${MEMBATCH_TEMPORAL_URL#http://}" --task-queue "$queue"
check "worker on a closed port" 1 "cannot reach Temporal's gRPC frontend at 127.0.0.1:1" -- \
    "$membatch" work --temporal-address 127.0.0.1:1 --task-queue "$queue"

# --- Temporal unreachable: found while the input is read, nothing is written
failed_id="cli-failed-$$"
check "submit with Temporal unreachable" 1 "checking Temporal namespace default: cannot reach Temporal" -- \
    "$membatch" submit "$sample" --batch-id "$failed_id" --temporal-url http://127.0.0.1:1
check "nothing was created for it" 1 "no batch $failed_id" -- "$membatch" status "$failed_id"

# --- migrate: the stack applied the same schema, so nothing to change -------
check "migrate --dry-run" 0 "the schema is up to date" -- "$membatch" migrate --dry-run
check "migrate needs the master key" 1 "migrate needs Parse's url, application id and master key" -- \
    env MEMBATCH_MASTER_KEY= "$membatch" migrate

# --- what would be sent, sending nothing -------------------------------------
{ cat "$sample"; head -n 3 "$sample"; printf '{"content":"x","metadata":{"$gt":1}}\n'; } >"$work/dirty.jsonl"
check "a dry run refuses an invalid item" 1 "dirty.jsonl:304: metadata: the key '\\\$gt' starts with" -- \
    "$membatch" submit "$work/dirty.jsonl" --dry-run
check "a dry run with --skip-invalid" 0 "304 items: 1 invalid, 123 duplicates, 180 to send in 2 chunks" -- \
    "$membatch" submit "$work/dirty.jsonl" --dry-run --skip-invalid --chunk-size 100
grep -q '"kind":"invalid","line":304' <<<"$LAST_OUTPUT" || fail "no report line for the invalid item: $LAST_OUTPUT"
check "a dry run from stdin" 0 "300 items: 0 invalid, 120 duplicates, 180 to send in 1 chunk" -- \
    bash -c "gzip -c '$sample' | '$membatch' submit - --dry-run"

# --- submit with no worker: queued; status says so with exit code 4 --------
taken_id="cli-taken-$$"
check "submit without waiting" 0 "^batch $taken_id: pending" -- \
    "$membatch" submit "$sample" --task-queue "$queue" --batch-id "$taken_id"
batch_id=$(sed -n 's/^batch \([^:]*\): pending$/\1/p' <<<"$LAST_OUTPUT")
[[ -n $batch_id ]] || fail "no batch id in the submit output"
check "status of a queued batch" 4 '"outcome":"pending"' -- "$membatch" status "$batch_id" --json
check "the same submission again sends nothing" 0 "was submitted before" -- \
    "$membatch" submit "$sample" --task-queue "$queue" --batch-id "$taken_id"
head -n 5 "$sample" >"$work/other.jsonl"
check "a taken batch id" 1 "batch id $taken_id is already taken by another input" -- \
    "$membatch" submit "$work/other.jsonl" --batch-id "$taken_id"

# --- a worker takes it; watch follows it to the end -------------------------
"$membatch" work --task-queue "$queue" --max-tasks 2 >"$work/worker.log" 2>&1 &
worker_pid=$!
check "watch to completion" 0 "batch $batch_id: completed" -- "$membatch" watch "$batch_id" --poll-ms 100
check "status of a completed batch" 0 '"status":"completed"' -- "$membatch" status "$batch_id" --json

# --- submit --wait --json: progress lines, then one result line -------------
check "submit --wait --json" 0 '"event":"result"' -- \
    "$membatch" submit "$sample" --wait --json --poll-ms 100 --task-queue "$queue" --idempotency-key "second-$$"
last=$(tail -n 1 <<<"$LAST_OUTPUT")
grep -q '"ok":true' <<<"$last" || fail "the last JSON line is not an ok result: $last"
grep -q "\"successCount\":180" <<<"$last" || fail "the result does not count the 180 distinct memories stored: $last"
grep -q '"phase":"uploading"' <<<"$LAST_OUTPUT" || fail "no uploading progress line"
if grep -v '^{' <<<"$LAST_OUTPUT" | grep -q .; then fail "--json printed a non-JSON line"; fi

# The worker stops by itself after its two tasks.
wait "$worker_pid"
worker_rc=$?
worker_pid=""
[[ $worker_rc -eq 0 ]] || fail "the worker exited with $worker_rc: $(cat "$work/worker.log")"
grep -q "completed" "$work/worker.log" || fail "the worker log does not report completed batches"

if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
