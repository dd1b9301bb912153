#!/usr/bin/env bash
# A submit killed (SIGKILL) in each phase of sending (looking for what was
# sent before, uploading a chunk's file, creating its request, starting its
# workflow), then the same command run again: one set of chunks, each started once,
# every memory stored exactly once. The proxy holds the chosen request so
# that the kill lands in that phase.
# usage: kill_resubmit.sh MEMBATCH PYTHON WORKFLOW_WORKER
set -uo pipefail
membatch=$1 python=$2 workflow_worker=$3
queue="kill-$$"
source "$(dirname "$0")/common.sh"
master_get() {
    curl -sf -G "$MEMBATCH_PARSE_URL$1" -H "X-Parse-Application-Id: $MEMBATCH_APP_ID" \
        -H "X-Parse-Master-Key: $MEMBATCH_MASTER_KEY" "${@:2}"
}

"$membatch" work --task-queue "$queue" >"$work/worker.log" 2>&1 &
pids+=($!)

for phase in find upload create start; do
    case $phase in
        find) service=parse paths='^GET /parse/classes/BatchMemoryRequest$' ;;
        upload) service=parse paths='^POST /parse/files/' ;;
        create) service=parse paths='^POST /parse/classes/BatchMemoryRequest$' ;;
        start) service=temporal paths='^POST /api/v1/namespaces/[^/]+/workflows/' ;;
    esac
    # Holds the first request of that kind for a minute (before it reaches
    # the server): the kill lands while it is held.
    if [[ $service == parse ]]; then target=$parse_target; else target=$temporal_target; fi
    spawn "proxy-$phase" "$python" "$proxy" --target "$target" --rate 1 --faults stall --stall-seconds 60 \
        --max-faults 1 --max-seconds 120 --paths "$paths"
    proxy_pid=$spawned
    fault_fd=$out_fd
    parse_url=$MEMBATCH_PARSE_URL temporal_url=$MEMBATCH_TEMPORAL_URL
    if [[ $service == parse ]]; then parse_url="http://127.0.0.1:$line$parse_path"; else temporal_url="http://127.0.0.1:$line"; fi

    "$python" - "$work/$phase.jsonl" "$phase" <<'PY'
import json, sys, uuid
run = str(uuid.uuid4())
with open(sys.argv[1], "w") as f:
    for i in range(500):
        f.write(json.dumps({"content": f"kill {sys.argv[2]} {run} memory {i}"}) + "\n")
PY
    args=(submit "$work/$phase.jsonl" --chunk-size 100 --in-flight 2 --task-queue "$queue")
    mkdir -p "$work/tmp-$phase"
    TMPDIR="$work/tmp-$phase" "$membatch" "${args[@]}" --parse-url "$parse_url" --temporal-url "$temporal_url" >"$work/$phase.out" 2>&1 &
    submit_pid=$!
    pids+=("$submit_pid")
    if ! read -t 60 -r held <&"$fault_fd"; then
        fail "$phase: the proxy never held a request: $(cat "$work/$phase.out")"
        continue
    fi
    kill -9 "$submit_pid"
    wait "$submit_pid" 2>/dev/null
    kill "$proxy_pid"
    # Its spool (a copy of the input) had no name: the kill leaves nothing.
    left=$(ls -A "$work/tmp-$phase")
    [[ -z $left ]] && echo "PASS: $phase: the killed submit left nothing in its TMPDIR" \
        || fail "$phase: the killed submit left files in its TMPDIR: $left"

    out=$("$membatch" "${args[@]}" --wait --json --poll-ms 200 2>"$work/$phase.again.err")
    rc=$?
    last=$(tail -n 1 <<<"$out")
    [[ $rc -eq 0 ]] || { fail "$phase: the second run exited $rc: $(cat "$work/$phase.again.err") $last"; continue; }
    grep -q '"successCount":500' <<<"$last" || fail "$phase: not 500 stored: $last"
    batch_id=$(sed -n 's/.*"batchId":"\([0-9a-f]\{24\}\)".*/\1/p' <<<"$last" | head -n 1)
    count=$(parse_count Memory "{\"batchId\":{\"\$regex\":\"^$batch_id-\"}}")
    [[ $count == 500 ]] || fail "$phase: Parse holds $count memories of $batch_id, not 500"
    chunks=$(master_get /classes/BatchMemoryRequest --data-urlencode "where={\"parentBatchId\":\"$batch_id\"}" \
        --data-urlencode 'keys=batchId,workflowRunId' --data-urlencode limit=100)
    n=$("$python" -c 'import json,sys; print(len(json.load(sys.stdin)["results"]))' <<<"$chunks")
    [[ $n == 5 ]] || fail "$phase: $n chunk requests, not 5"
    for chunk in $("$python" -c 'import json,sys; print(" ".join(r["batchId"] for r in json.load(sys.stdin)["results"]))' <<<"$chunks"); do
        runs=$(curl -sf -G "$MEMBATCH_TEMPORAL_URL/api/v1/namespaces/$MEMBATCH_NAMESPACE/workflows" \
            --data-urlencode "query=WorkflowId=\"batch-$chunk\"" | "$python" -c 'import json,sys; print(len(json.load(sys.stdin).get("executions", [])))')
        [[ $runs == 1 ]] || fail "$phase: workflow batch-$chunk has $runs runs, not 1"
    done
    echo "PASS: killed while held at '$held', the same command again: 500 memories once in 5 chunks"
done

if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
fi
echo "PASS: a SIGKILL in each phase, then the same command, ends with one set of chunks, each run once"
