# shellcheck shell=bash
# A Docker engine for the project's own scripts: Debian's docker.io, started here when none answers
# and stopped again by the script that started it. Sourced after deploy/local/lib.sh.

DOCKER="${DOCKER:-/usr/bin/docker}"  # Debian's client, the same release as its engine
DOCKERD_STARTED=0

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
  docker_ok && return 0
  say "starting a Docker engine (dockerd)"
  mkdir -p "$RUN" "$LOG"
  spawn dockerd /usr/sbin/dockerd --pidfile "$RUN/dockerd.self.pid"
  wait_for "dockerd" 60 docker_ok || die "dockerd did not start (var/log/dockerd.log)"
  DOCKERD_STARTED=1
}

# docker_down: stop the engine if this run started it (containers of ours are gone by then).
docker_down() {
  [ "$DOCKERD_STARTED" -eq 1 ] || return 0
  say "stopping the Docker engine this run started"
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
