#!/usr/bin/env bash
# Installs whatever the local stack is missing: Debian packages, Java 17 + Maven, the Kafka broker
# jars (Maven Central) and the Python environment. Idempotent: a second run only checks.
# shellcheck source=deploy/local/lib.sh
. "$(dirname "$0")/lib.sh"

# Everything the stack, its scripts and its tests call that a minimal Debian 12 lacks.
APT_PACKAGES=(
  python3 python3-venv ca-certificates curl openssl procps
  postgresql redis-server rabbitmq-server nginx prometheus wrk chromium docker-compose shellcheck
)
PYTHON_MIN=3.11

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

apt_install() {
  local need policy=/usr/sbin/policy-rc.d created=0
  mapfile -t need < <(missing_packages "$@")
  [ "${#need[@]}" -eq 0 ] && return 0
  say "installing Debian packages: ${need[*]}"
  # Packages must not start their own system daemons: the stack runs its own on loopback.
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    created=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" > "$LOG/apt.log" 2>&1 \
    || { tail -n 30 "$LOG/apt.log" >&2; die "apt-get install failed (full log: var/log/apt.log)"; }
  [ "$created" -eq 1 ] && rm -f "$policy"
  return 0
}

java_ok() {
  command -v java >/dev/null && command -v mvn >/dev/null || return 1
  local v
  v="$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')"
  [ "${v%%.*}" -ge 17 ]
}

install_kafka() {
  local libs="$VAR/kafka/libs" stamp want
  want="$(sha256sum "$LOCAL/kafka/pom.xml" | cut -c1-16)"
  stamp="$libs/.pom-$want"
  [ -f "$stamp" ] && return 0
  say "fetching the Apache Kafka broker from Maven Central"
  rm -rf "$libs"
  mkdir -p "$libs"
  mvn -q -B -f "$LOCAL/kafka/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs" > "$LOG/kafka-fetch.log" 2>&1 \
    || { tail -n 30 "$LOG/kafka-fetch.log" >&2; die "could not fetch Kafka (var/log/kafka-fetch.log)"; }
  touch "$stamp"
}

python_ok() {
  command -v python3 >/dev/null && python3 -c "import sys, venv; sys.exit(sys.version_info < (${PYTHON_MIN/./, }))"
}

# The venv is made in two steps, each marked done only once it succeeded: the interpreter with pip
# and uv (.venv/.ready), then the pinned packages (.venv/.stamp-<hash of the pins>). A venv without
# .ready is a half-made one (an interrupted or failed first run) and is made again from scratch; an
# interrupted package sync is simply synced again.
install_python() {
  local stamp want
  want="$(cat "$ROOT"/requirements/*.txt "$ROOT"/libs/*/pyproject.toml \
            "$ROOT"/services/*/pyproject.toml 2>/dev/null | sha256sum | cut -c1-16)"
  stamp="$VENV/.stamp-$want"
  [ -f "$stamp" ] && [ -f "$VENV/.ready" ] && return 0
  say "preparing the Python environment (.venv)"
  if [ ! -f "$VENV/.ready" ]; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" || { rm -rf "$VENV"; die "python3 -m venv failed"; }
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/requirements/bootstrap.txt" \
      || { rm -rf "$VENV"; die "could not install pip's bootstrap requirements"; }
    touch "$VENV/.ready"
  fi
  rm -f "$VENV"/.stamp-*
  # one sync of the pins and the project's own packages (editable): nothing the running stack
  # imports is ever uninstalled and reinstalled on the way
  local own d
  own="$(mktemp)"
  for d in "$ROOT"/libs/*/ "$ROOT"/services/*/; do
    [ -f "$d/pyproject.toml" ] && printf -- '-e %s\n' "${d%/}" >> "$own"
  done
  "$VENV/bin/uv" pip sync -q --python "$PY" "$ROOT/requirements/runtime.txt" "$ROOT/requirements/dev.txt" "$own" \
    || { rm -f "$own"; die "could not install the Python packages"; }
  rm -f "$own"
  touch "$stamp"
}

main() {
  mkdir -p "$LOG" "$RUN"
  apt_install "${APT_PACKAGES[@]}"
  java_ok || apt_install openjdk-17-jre-headless maven
  java_ok || die "Java 17 and Maven are required"
  install_kafka
  python_ok || die "Python >= $PYTHON_MIN with venv is required (python3: $(python3 --version 2>&1))"
  install_python
}

main "$@"
