# What the fault proxy's tests share (sourced): a work directory cleaned up
# with every process they started, fail(), spawn(), the stack's targets and
# a count of Parse objects with the master key.
# Before sourcing: membatch, python, queue.
proxy="$(dirname "${BASH_SOURCE[0]}")/faultproxy.py"
work=$(mktemp -d)
pids=()
failures=0

cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}
# Runs a program in the background with its stdout on fd $out_fd, and waits
# for its first line, into $line; its pid is $spawned.
spawn() {
    local name=$1
    shift
    mkfifo "$work/$name.fifo"
    "$@" >"$work/$name.fifo" 2>"$work/$name.err" &
    spawned=$!
    pids+=("$spawned")
    exec {out_fd}<"$work/$name.fifo"
    read -t 30 -r line <&"$out_fd" || { echo "FAIL: $name did not start: $(cat "$work/$name.err")" >&2; exit 1; }
}
# How many objects of a class match a where (JSON), as Parse counts them.
parse_count() {
    curl -sf -G "$MEMBATCH_PARSE_URL/classes/$1" -H "X-Parse-Application-Id: $MEMBATCH_APP_ID" \
        -H "X-Parse-Master-Key: $MEMBATCH_MASTER_KEY" --data-urlencode "where=$2" \
        --data-urlencode count=1 --data-urlencode limit=0 |
        "$python" -c 'import json,sys; print(json.load(sys.stdin)["count"])'
}

parse_target=${MEMBATCH_PARSE_URL#http://}
parse_path=/${parse_target#*/}
parse_target=${parse_target%%/*}
temporal_target=${MEMBATCH_TEMPORAL_URL#http://}
temporal_target=${temporal_target%%/*}

spawn workflow "$workflow_worker" --task-queue "$queue"
[[ $line == *polling* ]] || { echo "FAIL: the workflow worker says: $line" >&2; exit 1; }
