#!/usr/bin/env bash
# make compose-test: the compose deployment on this machine, tested black-box, then gone again.
#   1. `make compose-up` from empty volumes (images cached by `make images`; the Docker engine
#      started when none answers);
#   2. tests/deploy/test_compose_run.py: every container healthy, no published port, production
#      mode on generated secrets, the journey through the compose nginx over HTTPS;
#   3. tests/deploy/test_compose_deploys.py: `make deploy SERVICE=x` of gateway, auth, users and
#      ledger under load through the compose nginx (0 non-2xx, the reliability checker's invariants
#      against the deployment's PostgreSQL and Kafka), one instance killed under load (ejected
#      within 2 s); the figures in var/compose/deploys.json, printed at the end;
#   4. tests/deploy/test_firewall_netns.py: deploy/compose/firewall-setup.sh inside a network
#      namespace made for the test (ufw and iptables installed from Debian when missing) — only 22,
#      80 and 443 answer from outside it;
#   5. always, even on failure or interruption: the deployment down with its volumes, the engine
#      stopped if a project script started it and nothing else uses it.
# Each step has a time limit (COMPOSE_UP_SECONDS, COMPOSE_TEST_SECONDS); times go to
# var/compose/times.json.
# shellcheck source=deploy/local/lib.sh
. "$(dirname "$0")/../../deploy/local/lib.sh"
# shellcheck source=deploy/docker/engine.sh
. "$ROOT/deploy/docker/engine.sh"

LOCAL="$ROOT/deploy/compose/local.sh"
TEST_SECONDS="${COMPOSE_TEST_SECONDS:-1800}"
TIMES=()

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  (IFS=,; printf '{%s}\n' "${TIMES[*]}") > "$VAR/compose/times.json"
  "$LOCAL" down --volumes || warn "compose down failed"
  docker_down
  exit "$rc"
}

timed() {
  local label="$1" started=$SECONDS rc=0; shift
  "$@" || rc=$?
  TIMES+=("\"$label\": {\"seconds\": $((SECONDS - started)), \"exit\": $rc}")
  say "$label: exit $rc after $((SECONDS - started)) s"
  return "$rc"
}

firewall_tools() {
  local need=() p
  for p in ufw iptables; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
  done
  [ "${#need[@]}" -eq 0 ] && return 0
  say "installing ${need[*]} (for the firewall test; this machine's own firewall is left as it is)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" > "$LOG/apt-firewall.log" 2>&1 \
    || { tail -n 20 "$LOG/apt-firewall.log" >&2; die "could not install ${need[*]} (var/log/apt-firewall.log)"; }
}

main() {
  local started=$SECONDS
  mkdir -p "$LOG" "$RUN" "$VAR/compose"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  docker_up
  firewall_tools
  "$LOCAL" down --volumes > /dev/null  # from empty volumes, whatever an earlier run left
  rm -f "$VAR/compose/deploys.json"
  timed compose-up "$LOCAL" up
  timed tests env BLAZING_COMPOSE_ENV="$VAR/compose/.env" BLAZING_FIREWALL_NETNS=1 \
    timeout "$TEST_SECONDS" "$VENV/bin/pytest" -q -p no:cacheprovider \
    "$ROOT/tests/deploy/test_compose_run.py" "$ROOT/tests/deploy/test_compose_deploys.py" \
    "$ROOT/tests/deploy/test_firewall_netns.py"
  (IFS=,; printf '{%s}\n' "${TIMES[*]}")
  say "rolling deploys and the killed instance (var/compose/deploys.json):"
  cat "$VAR/compose/deploys.json"
  say "compose-test passed in $((SECONDS - started)) s (cleaning up)"
}

main "$@"
