# shellcheck shell=bash
# A Docker engine for the project's own scripts: Debian's docker.io, started here when none answers
# and stopped again once no project script uses it. Sourced after deploy/local/lib.sh.
# Users are files in one directory for the whole machine (BLAZING_DOCKER_USERS, default
# /run/blazing-sun/docker-users: the engine is one per machine, whichever checkout or clone uses it):
# a running script's pid (docker_up until docker_down), or a named hold that outlives the script
# (docker_hold compose-deployment while the compose deployment runs, until docker_release). An
# engine a project script started is stopped by the last user to leave (fresh-check, make images,
# make compose-test and other checkouts can overlap on a shared machine); one that something else
# started is never stopped here.

DOCKER="${DOCKER:-/usr/bin/docker}"  # Debian's client, the same release as its engine
DOCKERD_STARTED=0
DOCKER_USERS="${BLAZING_DOCKER_USERS:-/run/blazing-sun/docker-users}"
[ -n "${BLAZING_DOCKER_USERS:-}" ] || [ -w /run ] || DOCKER_USERS="$RUN/docker-users"  # not root

docker_ok() { "$DOCKER" info >/dev/null 2>&1; }

# docker_up: install docker.io (and debootstrap, for local base images) if missing; start dockerd if
# no engine answers. Sets DOCKERD_STARTED=1 when this run started it.
docker_up() {
  local need=() p
  for p in docker.io debootstrap; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" > "$LOG/apt-docker.log" 2>&1 \
      || { tail -n 20 "$LOG/apt-docker.log" >&2; die "could not install ${need[*]} (var/log/apt-docker.log)"; }
  fi
  mkdir -p "$DOCKER_USERS"
  : > "$DOCKER_USERS/$$"
  docker_ok && return 0
  say "starting a Docker engine (dockerd)"
  mkdir -p "$RUN" "$LOG"
  spawn dockerd /usr/sbin/dockerd --pidfile "$RUN/dockerd.self.pid"
  wait_for "dockerd" 60 docker_ok || die "dockerd did not start (var/log/dockerd.log)"
  DOCKERD_STARTED=1
}

# docker_hold NAME / docker_release NAME: a user of the engine beyond this script's life.
docker_hold() { mkdir -p "$DOCKER_USERS"; : > "$DOCKER_USERS/$1"; }
docker_release() { rm -f "$DOCKER_USERS/$1"; }

# docker_in_use: a user other than this script (a live pid, or a hold); dead pids are forgotten.
docker_in_use() {
  local f name
  for f in "$DOCKER_USERS"/*; do
    [ -e "$f" ] || continue
    name="${f##*/}"
    [ "$name" = "$$" ] && continue
    if [[ "$name" =~ ^[0-9]+$ ]] && ! running "$name"; then rm -f "$f"; continue; fi
    return 0
  done
  return 1
}

# docker_down: this script no longer uses the engine; stop it if a project script started it
# (var/run/dockerd.pid) and no one else uses it (containers of ours are gone by then).
docker_down() {
  rm -f "$DOCKER_USERS/$$"
  if docker_in_use; then
    [ "$DOCKERD_STARTED" -eq 0 ] || say "leaving the Docker engine running: it is still in use ($(find "$DOCKER_USERS" -mindepth 1 -printf '%f '))"
    DOCKERD_STARTED=0
    return 0
  fi
  pid_alive dockerd || return 0
  say "stopping the Docker engine (started by a project script, no longer in use)"
  stop_pid dockerd 30
  DOCKERD_STARTED=0
}

# The TLS settings the machine's package clients use, for containers that reach the same
# package indexes: every *CA*/*CERT* variable set here that names an existing file or directory.
tls_env_args() {
  local name value
  while IFS='=' read -r name value; do
    case "$name" in
      *CERT*|*CA_BUNDLE*|*CAINFO*) [ -e "$value" ] && printf -- '-e\n%s=%s\n' "$name" "$value" ;;
    esac
  done < <(env)
  return 0
}
