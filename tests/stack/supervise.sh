#!/usr/bin/env bash
# Keeps a command running: supervise.sh NAME LOG -- CMD [ARGS...]
#
# Runs CMD with its output appended to LOG and starts it again whenever it
# exits, after a pause that doubles from 0.5 s to 10 s while it keeps dying
# quickly (reset once a run lasted a minute). SIGTERM or SIGINT stops CMD
# (SIGTERM, then SIGKILL after 8 s) and then this script. Start it with
# setsid: the stack stops the whole process group. (Started in the
# background by a script, it ignores SIGINT: SIGTERM is the way.)
set -uo pipefail

(($# >= 4)) && [[ $3 == -- ]] || {
  echo "usage: supervise.sh NAME LOG -- CMD [ARGS...]" >&2
  exit 2
}
name=$1
log=$2
shift 3

child=""
stopping=0
stop() {
  stopping=1
  [[ -n $child ]] && kill -TERM "$child" 2>/dev/null
}
trap stop TERM

note() { printf '%s supervise: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$log"; }

pause_ms=500
while ((!stopping)); do
  started=$(date +%s)
  rc=""
  "$@" >>"$log" 2>&1 </dev/null &
  child=$!
  # wait returns early when a trapped signal arrives: wait again until the
  # child is really gone.
  while kill -0 "$child" 2>/dev/null; do
    wait "$child"
    rc=$?
    if ((stopping)); then
      for ((i = 0; i < 80; i++)); do
        kill -0 "$child" 2>/dev/null || break
        sleep 0.1
      done
      # Still there after 8 s (the stack itself waits 10 s): kill it.
      kill -0 "$child" 2>/dev/null && kill -KILL "$child" 2>/dev/null
    fi
  done
  wait "$child" 2>/dev/null
  rc=${rc:-$?}
  child=""
  ((stopping)) && break
  if (($(date +%s) - started >= 60)); then
    pause_ms=500
  fi
  note "$name exited with $rc; starting it again in ${pause_ms} ms"
  sleep "$(printf '%d.%03d' $((pause_ms / 1000)) $((pause_ms % 1000)))"
  pause_ms=$((pause_ms * 2 > 10000 ? 10000 : pause_ms * 2))
done
exit 0
