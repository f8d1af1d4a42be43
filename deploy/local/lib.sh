# shellcheck shell=bash
# Common helpers for the local stack scripts. Sourced, never run.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LOCAL="$ROOT/deploy/local"
VAR="$ROOT/var"
RUN="$VAR/run"
LOG="$VAR/log"
VENV="$ROOT/.venv"
SERVICES_TSV="$ROOT/deploy/services.tsv"  # the services, their ports and databases: one row each
# shellcheck disable=SC2034 # used by the scripts that source this one
PY="$VENV/bin/python"

# service_rows: the rows of deploy/services.tsv, tab separated (name port variable database),
# without its comments and header.
service_rows() {
  grep -v '^#' "$SERVICES_TSV" | tail -n +2
}

# Configuration: defaults, then a git-ignored .env, then whatever the caller's environment says.
# Each service's port variable (APP_PORT, USERS_PORT, …) defaults to its port in the table.
load_env() {
  local saved name port var _
  saved="$(export -p)"
  set -a
  # shellcheck source=/dev/null
  . "$LOCAL/defaults.env"
  if [ -f "$ROOT/.env" ]; then
    # shellcheck disable=SC1091
    . "$ROOT/.env"
  fi
  set +a
  while IFS=$'\t' read -r name port var _; do
    [ -n "${!var:-}" ] || export "$var=$port"
  done < <(service_rows)
  # `declare -x` inside a function would make function-local copies: restore them as globals
  # shellcheck disable=SC2001 # a per-line anchored edit, which ${var//…} cannot express
  eval "$(sed 's/^declare -x /declare -gx /' <<<"$saved")"
}

say() { printf '\033[1;33m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[1;31m!!\033[0m %s\n' "$*" >&2; }
die() { warn "$*"; exit 1; }

# running PID: the process exists and is not a zombie (a container without an init process may
# never reap our detached daemons, and `kill -0` succeeds on a zombie).
running() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null && ! grep -qs '^State:[[:space:]]*Z' "/proc/$1/status"
}

# started_at PID: when the process started, in clock ticks since boot (/proc/PID/stat's 22nd field)
# — the kernel's own clock, which a suspended or restored machine does not put out of step with it.
started_at() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"  # the command's name, in parentheses, may hold spaces
  # shellcheck disable=SC2086  # split into fields on purpose
  set -- $stat
  echo "${20}"
}

# pid_alive NAME: the process recorded in var/run/NAME.pid is running — and is the same process.
# After the machine restarted, the pid in an old file may belong to another process (a kernel
# thread, say): taking it for the service would leave the service unstarted. A pid file spawn wrote
# holds the process's start time too, which must match; one a daemon wrote itself (nginx,
# PostgreSQL …) holds the pid alone, and a kernel thread (no command line) is never ours.
pid_alive() {
  local f="$RUN/$1.pid" pid since
  [ -s "$f" ] || return 1
  { read -r pid; read -r since || true; } < "$f"
  running "$pid" && grep -qa . "/proc/$pid/cmdline" 2>/dev/null || return 1
  [ -z "$since" ] || [ "$(started_at "$pid")" = "$since" ]
}

# spawn NAME CMD...: start CMD detached, logging to var/log/NAME.log; var/run/NAME.pid holds its pid
# and its start time.
spawn() {
  local name="$1" pid; shift
  mkdir -p "$RUN" "$LOG"
  setsid "$@" >>"$LOG/$name.log" 2>&1 < /dev/null &
  pid=$!
  printf '%s\n%s\n' "$pid" "$(started_at "$pid" || true)" > "$RUN/$name.pid"
}

# stop_pid NAME [SECONDS]: TERM the recorded process, KILL it after SECONDS, forget the pid.
stop_pid() {
  local name="$1" wait="${2:-20}" pid i
  if pid_alive "$name"; then
    pid="$(head -n1 "$RUN/$name.pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < wait * 10; i++)); do
      running "$pid" || break
      sleep 0.1
    done
    if running "$pid"; then
      warn "$name did not stop in ${wait}s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$RUN/$name.pid"
}

# wait_for DESCRIPTION SECONDS CMD...: retry CMD every half second until it succeeds.
wait_for() {
  local secs="$2" i; shift 2  # $1 names what is awaited, for the reader
  for ((i = 0; i < secs * 2; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pg_bin() {
  local d
  d="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d 2>/dev/null | sort -V | tail -n1)"
  [ -n "$d" ] || die "PostgreSQL is not installed (run make up)"
  echo "$d/bin"
}
