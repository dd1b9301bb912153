#!/usr/bin/env bash
# A submission through a proxy that injects faults into 20% of the
# submitter's requests to Parse and to Temporal (resets, 429 and 503, answers
# cut off after the server acted, stalls) still ends with every memory stored
# exactly once; the same submission sent again through it sends nothing.
# usage: fault_submit.sh MEMBATCH PYTHON WORKFLOW_WORKER
set -uo pipefail
membatch=$1 python=$2 workflow_worker=$3
queue="faults-$$"
source "$(dirname "$0")/common.sh"

spawn parse-proxy "$python" "$proxy" --target "$parse_target" --rate 0.2 --seed 7 --max-seconds 600 --stall-seconds 1 --log "$work/parse-faults.jsonl"
parse_proxy="http://127.0.0.1:$line$parse_path"
spawn temporal-proxy "$python" "$proxy" --target "$temporal_target" --rate 0.2 --seed 8 --max-seconds 600 --stall-seconds 1 --log "$work/temporal-faults.jsonl"
temporal_proxy="http://127.0.0.1:$line"

"$python" - "$work/batch.jsonl" <<'PY'
import json, sys, uuid
run = str(uuid.uuid4())
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        f.write(json.dumps({"content": f"fault run {run} memory {i}", "customId": f"m{i}"}) + "\n")
PY

"$membatch" work --task-queue "$queue" >"$work/worker.log" 2>&1 &
pids+=($!)

out=$("$membatch" submit "$work/batch.jsonl" --chunk-size 200 --task-queue "$queue" --wait --json --poll-ms 200 \
    --parse-url "$parse_proxy" --temporal-url "$temporal_proxy" 2>"$work/submit.err")
rc=$?
last=$(tail -n 1 <<<"$out")
[[ $rc -eq 0 ]] || fail "submit through the faults exited $rc: $(cat "$work/submit.err") $last"
grep -q '"successCount":2000' <<<"$last" || fail "not 2000 stored: $last"
batch_id=$(sed -n 's/.*"batchId":"\([0-9a-f]\{24\}\)".*/\1/p' <<<"$last" | head -n 1)
[[ -n $batch_id ]] || fail "no batch id in: $last"

# Exactly once, as Parse itself counts, without the proxy.
count=$(parse_count Memory "{\"batchId\":{\"\$regex\":\"^$batch_id-\"}}")
[[ $count == 2000 ]] || fail "Parse holds $count memories of batch $batch_id, not 2000"
chunks=$(parse_count BatchMemoryRequest "{\"parentBatchId\":\"$batch_id\"}")
[[ $chunks == 10 ]] || fail "batch $batch_id has $chunks chunk requests, not 10"

again=$("$membatch" submit "$work/batch.jsonl" --chunk-size 200 --task-queue "$queue" \
    --parse-url "$parse_proxy" --temporal-url "$temporal_proxy" 2>&1)
grep -q "was submitted before" <<<"$again" || fail "the same submission again: $again"

injected=$(cat "$work/parse-faults.jsonl" "$work/temporal-faults.jsonl" 2>/dev/null | wc -l)
kinds=$(cat "$work/parse-faults.jsonl" "$work/temporal-faults.jsonl" 2>/dev/null | sed -n 's/.*"fault": "\([a-z0-9]*\)".*/\1/p' | sort | uniq -c | tr -s ' \n' ' ')
((injected >= 5)) || fail "only $injected faults were injected"

if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
fi
echo "PASS: 2000 memories stored exactly once in 10 chunks through $injected injected faults ($kinds)"
