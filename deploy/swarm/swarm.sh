#!/usr/bin/env bash
# The Docker Swarm stack on this machine (make swarm-up / swarm-down / swarm-test):
#   swarm.sh up        images (deploy/docker/images.sh, as make images, tagged swarm; cached), a one-node swarm when the engine is in none
#                      (docker swarm init --advertise-addr 127.0.0.1), generated settings, then
#                      deploy/swarm/stack.yml as the stack blazing-swarm, waited for until every
#                      service runs all its replicas healthy; then the edge relay
#   swarm.sh down [--volumes]   the stack gone (--volumes: its data too); the swarm left when this
#                      script made it and nothing else runs in it
#   swarm.sh test      up from empty volumes, tests/deploy/test_swarm_run.py (the journey over HTTPS,
#                      a Kafka broker lost under ledger writes, a rolling update under load), then
#                      down --volumes, whatever happened
#   swarm.sh deploy    the stack file (changed) deployed again, waited for as by up (no images built)
#   swarm.sh ps | env-file | join-token
# Settings: var/swarm/.env, made once from deploy/compose/.env.example with a random secret for every
# password (APP_ENV=production), three Kafka brokers and quorum queues; the TLS certificate
# (self-signed, var/swarm/tls: a swarm config and secret) and the RabbitMQ definitions
# (var/swarm/definitions.json) likewise. Nothing of it is committed (var/ is ignored).
# The stack publishes no port (the native stack of `make up` holds its ports on 127.0.0.1): the edge
# relay, a container on the stack's attachable overlay network, forwards 127.0.0.1:$SWARM_HTTPS_PORT
# (18443) and :$SWARM_HTTP_PORT (18080) to nginx's VIP. The Docker engine is held under the name
# swarm-stack while the stack runs (deploy/docker/engine.sh).
# shellcheck source=deploy/local/lib.sh
. "$(dirname "$0")/../local/lib.sh"
# shellcheck source=deploy/docker/engine.sh
. "$ROOT/deploy/docker/engine.sh"
# shellcheck source=deploy/docker/settings.sh
. "$ROOT/deploy/docker/settings.sh"

SWARM_SRC="$ROOT/deploy/swarm"
OUT="$VAR/swarm"
ENV_FILE="$OUT/.env"
STACK=blazing-swarm
NETWORK="${STACK}_net"
RELAY="${STACK}-edge"
HOLD=swarm-stack
MADE="$OUT/swarm-made-here"  # this script ran `docker swarm init`
UP_SECONDS="${SWARM_UP_SECONDS:-900}"
TEST_SECONDS="${SWARM_TEST_SECONDS:-900}"
HTTPS_PORT="${SWARM_HTTPS_PORT:-18443}"
HTTP_PORT="${SWARM_HTTP_PORT:-18080}"
export IMAGE_TAG="${IMAGE_TAG:-swarm}"  # the images the stack runs (its own: a compose run rebuilds :local)
BASE_IMAGE="blazing-sun/debian12-python:$IMAGE_TAG"  # the relay's

# wait_until SECONDS WHAT COMMAND...: COMMAND succeeds within SECONDS of wall time (checked every 2 s)
wait_until() {
  local deadline=$((SECONDS + $1)); shift 2
  until "$@" > /dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 2
  done
}

# env-file: var/swarm/.env, made once (deploy/docker/settings.sh; the volumes keep the passwords they
# were initialised with), for the swarm stack: three Kafka brokers, the job queues as quorum queues,
# and — every request of a local run comes through one client address, the edge relay's — the
# per-address limit raised for swarm-test's load (the strict limits of sign-in and sign-up stay).
env_file() {
  # DRAIN_SECONDS: a swarm task is stopped (SIGTERM) without being drained first; it drains itself,
  # serving for 12 s — longer than the 10 s that nginx's resolver and the gateway's DNS cache keep
  # its address — each answer closing its connection, before it stops (blazing_service.serve)
  generated_settings "$ENV_FILE" "deploy/swarm/swarm.sh" GATEWAY_RATE_LIMIT=100000 \
    KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092,kafka-2:9092,kafka-3:9092 RABBITMQ_QUEUE_TYPE=quorum DRAIN_SECONDS=12
}

# load_settings: the generated settings as exported variables (in a subshell: its callers')
load_settings() {
  local name value
  while IFS='=' read -r name value; do
    [[ "$name" =~ ^[A-Z][A-Z0-9_]*$ ]] && export "$name=$value"
  done < "$ENV_FILE"
  return 0
}

# The edge's self-signed certificate (CN and SAN localhost) and the RabbitMQ definitions (quorum
# queues; the user's password hashed), made once.
generated_files() {
  mkdir -p "$OUT/tls" "$OUT/mail"
  if [ ! -s "$OUT/tls/server.crt" ]; then
    (umask 077; openssl req -x509 -nodes -newkey rsa:2048 -days 365 -subj "/CN=localhost" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$OUT/tls/server.key" -out "$OUT/tls/server.crt" 2>/dev/null)
    chmod 644 "$OUT/tls/server.crt"
  fi
  if [ ! -s "$OUT/definitions.json" ]; then
    (
      umask 077
      load_settings
      "$PY" -m blazing_contracts.rabbitmq_definitions --user "$RABBITMQ_USER" --password "$RABBITMQ_PASSWORD" \
        --vhost "${RABBITMQ_VHOST:-/}" --queue-type quorum > "$OUT/definitions.json.tmp"
    )
    mv "$OUT/definitions.json.tmp" "$OUT/definitions.json"
  fi
}

# nginx's template for the swarm: the compose deployment's, but without its upstream of the two
# gateway containers' fixed addresses: the swarm's gateway service by name, resolved again every 10 s
# (its resolver line) rather than once at start — the gateway's tasks change address on every update.
# shellcheck disable=SC2016 # nginx's and envsubst's variables, written as they are
nginx_template() {
  local src="$ROOT/deploy/compose/nginx/default.conf.template"
  sed -e '/^upstream gateways {/,/^}/d' \
    -e 's|^\( *\)proxy_pass http://gateways;|\1set $gateway_upstream http://gateway:${APP_PORT};\n\1proxy_pass $gateway_upstream;|' \
    "$src" > "$OUT/default.conf.template.tmp"
  if ! grep -q 'proxy_pass $gateway_upstream;' "$OUT/default.conf.template.tmp" \
    || grep -v '^ *#' "$OUT/default.conf.template.tmp" | grep -q 'APP_2\?_IP'; then
    die "the nginx template has no 'upstream gateways' and 'proxy_pass http://gateways;' to make resolve again"
  fi
  mv "$OUT/default.conf.template.tmp" "$OUT/default.conf.template"
}

# Swarm configs and secrets cannot change: their names carry a hash of what they hold, so that a
# changed file is a new config (and a rolling update of the services using it).
config_version() {
  cat "$ROOT/deploy/compose/kafka/entrypoint.sh" "$ROOT/deploy/compose/postgres/init-databases.sh" \
    "$ROOT/deploy/compose/rabbitmq/rabbitmq.conf" "$ROOT/deploy/compose/rabbitmq/enabled_plugins" \
    "$OUT/definitions.json" "$OUT/default.conf.template" "$OUT/tls/server.crt" "$OUT/tls/server.key" | sha256sum | cut -c1-12
}

swarm_state() { "$DOCKER" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

swarm_init() {
  [ "$(swarm_state)" = active ] && return 0
  say "swarm: docker swarm init --advertise-addr 127.0.0.1 (a one-node cluster)"
  "$DOCKER" swarm init --advertise-addr 127.0.0.1 > "$LOG/swarm-init.log" 2>&1 \
    || { cat "$LOG/swarm-init.log" >&2; die "docker swarm init failed"; }
  : > "$MADE"
}

# stack_deploy: the stack file with the generated settings as its variables.
stack_deploy() {
  (
    load_settings
    SWARM_CONFIG_VERSION="$(config_version)"
    export SWARM_ENV_FILE="$ENV_FILE" SWARM_DIR="$OUT" SWARM_MAIL_DIR="$OUT/mail" SWARM_CONFIG_VERSION
    "$DOCKER" stack deploy --prune -c "$SWARM_SRC/stack.yml" "$STACK"
  ) > "$LOG/swarm-deploy.log" 2>&1 || { cat "$LOG/swarm-deploy.log" >&2; die "docker stack deploy failed"; }
}

# service rows: name, replicas running/desired (a task with a health check counts once healthy)
services_() { "$DOCKER" service ls --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Name}} {{.Replicas}}'; }

# every service runs all its replicas, healthy; the one-shot rabbitmq-init has completed
converged() {
  local rows name replicas id n=0
  rows="$(services_)"
  [ -n "$rows" ] || return 1
  # no update still rolling (a deploy that changed a service must not pass on its old tasks)
  local names
  mapfile -t names < <(cut -d' ' -f1 <<< "$rows")
  "$DOCKER" service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "${names[@]}" \
    | grep -Eq 'updating|rollback_started' && return 1
  while read -r name replicas; do
    n=$((n + 1))
    if [ "$name" = "${STACK}_rabbitmq-init" ]; then
      "$DOCKER" service ps "$name" --format '{{.CurrentState}}' | grep -q '^Complete' || return 1
    else
      [[ "$replicas" =~ ^([0-9]+)/([0-9]+) ]] && [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] || return 1
    fi
  done <<< "$rows"
  for name in kafka-1 kafka-2 kafka-3; do  # and every Kafka node has seen the topics made
    id="$("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$name" | head -n1)"
    [ -n "$id" ] && "$DOCKER" exec "$id" test -f /tmp/kafka-ready || return 1
  done
  [ "$n" -ge 17 ]  # the stack's services: 8 of services.tsv, 3 Kafka; postgres, redis, rabbitmq, rabbitmq-init, smtp, nginx
}

ps_() {
  "$DOCKER" stack services "$STACK" --format 'table {{.Name}}\t{{.Mode}}\t{{.Replicas}}\t{{.Image}}' 2>/dev/null || true
}

# The edge relay: a plain container on the stack's (attachable) overlay network, publishing on
# loopback only; deploy/swarm/edge_relay.py forwards each connection to nginx's VIP.
relay_up() {
  "$DOCKER" rm -f "$RELAY" > /dev/null 2>&1 || true
  "$DOCKER" run -d --name "$RELAY" --network "$NETWORK" --restart unless-stopped \
    -p "127.0.0.1:$HTTPS_PORT:8443" -p "127.0.0.1:$HTTP_PORT:8080" \
    -v "$SWARM_SRC/edge_relay.py:/edge_relay.py:ro" --user 65534:65534 \
    "$BASE_IMAGE" python3 /edge_relay.py 8443=nginx:443 8080=nginx:80 > /dev/null
  wait_until 60 "the edge relay" port_open "$HTTPS_PORT" || die "the edge relay does not answer on 127.0.0.1:$HTTPS_PORT"
}

up() {
  local started=$SECONDS
  mkdir -p "$OUT"
  docker_up
  docker_hold "$HOLD"
  "$ROOT/deploy/docker/images.sh"
  swarm_init
  deploy
  say "swarm: $STACK up in $((SECONDS - started)) s — https://localhost:$HTTPS_PORT/ (edge relay on 127.0.0.1)"
}

deploy() {
  [ "$(swarm_state)" = active ] || die "the engine is in no swarm (swarm.sh up makes one)"
  env_file
  generated_files
  nginx_template
  say "swarm: docker stack deploy $STACK (log var/log/swarm-deploy.log)"
  stack_deploy
  wait_until "$UP_SECONDS" "every service of $STACK with all its replicas healthy" converged \
    || { ps_ >&2; die "the stack did not converge in ${UP_SECONDS} s"; }
  relay_up
  ps_
}

# gone: no container of the stack is left (stack rm returns before they stopped)
gone() {
  [ -z "$("$DOCKER" ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] \
    && ! "$DOCKER" network inspect "$NETWORK" > /dev/null 2>&1
}

# The swarm is left only when this script made it and nothing else runs in it.
swarm_leave() {
  [ -f "$MADE" ] && [ "$(swarm_state)" = active ] || return 0
  if [ -n "$("$DOCKER" service ls -q)" ] || [ "$("$DOCKER" node ls -q | wc -l)" -gt 1 ]; then
    say "swarm: staying in the swarm (other services or nodes in it)"
    return 0
  fi
  say "swarm: leaving the one-node swarm this script made"
  "$DOCKER" swarm leave --force > /dev/null
  rm -f "$MADE"
}

down() {
  local volume
  if docker_ok; then
    "$DOCKER" rm -f "$RELAY" > /dev/null 2>&1 || true
    if [ "$(swarm_state)" = active ] && [ -n "$(services_)" ]; then
      say "swarm: docker stack rm $STACK"
      "$DOCKER" stack rm "$STACK" > "$LOG/swarm-down.log" 2>&1 || warn "docker stack rm failed (var/log/swarm-down.log)"
    fi
    wait_until 120 "the stack's containers and network gone" gone || warn "containers of $STACK are left"
    if [ "${1:-}" = --volumes ]; then
      for volume in $("$DOCKER" volume ls -q --filter "label=com.docker.stack.namespace=$STACK"); do
        "$DOCKER" volume rm "$volume" > /dev/null || warn "could not remove the volume $volume"
      done
      # the settings the volumes were initialised with go with them: the next up makes new ones
      rm -rf "$OUT/mail" "$OUT/tls" "$ENV_FILE" "$OUT/definitions.json" "$OUT/default.conf.template"
    fi
    swarm_leave
  fi
  docker_release "$HOLD"
  docker_down
}

test_() {
  local started=$SECONDS rc=0
  trap 'rc=$?; trap - EXIT; down --volumes || warn "swarm down failed"; exit "$rc"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  docker_up
  down --volumes > /dev/null  # from empty volumes, whatever an earlier run left
  up
  say "swarm: the tests (tests/deploy/test_swarm_run.py; at most ${TEST_SECONDS} s)"
  BLAZING_SWARM_ENV="$ENV_FILE" BLAZING_SWARM_EDGE="127.0.0.1:$HTTPS_PORT" BLAZING_SWARM_STACK="$STACK" \
    timeout "$TEST_SECONDS" "$VENV/bin/pytest" -q -p no:cacheprovider -p no:schemathesis -s "$ROOT/tests/deploy/test_swarm_run.py" \
    || rc=$?
  [ "$rc" -eq 0 ] || die "swarm-test failed (exit $rc) after $((SECONDS - started)) s"
  say "swarm-test passed in $((SECONDS - started)) s (cleaning up)"
}

main() {
  mkdir -p "$LOG" "$RUN" "$OUT"
  case "${1:-}" in
    up) up ;;
    deploy) docker_up; deploy ;;
    down) down "${2:-}" ;;
    test) test_ ;;
    ps) ps_ ;;
    env-file) env_file ;;
    join-token) "$DOCKER" swarm join-token worker ;;
    *) echo "usage: $0 up | down [--volumes] | test | ps | env-file | join-token" >&2; exit 2 ;;
  esac
}

main "$@"
