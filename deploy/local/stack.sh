#!/usr/bin/env bash
# The native local stack: `stack.sh up | down | ps | logs [NAME]`.
# Everything listens on loopback; state lives under var/ (git-ignored); processes are tracked by
# pid files under var/run/ and stopped only through them.
# shellcheck source=deploy/local/lib.sh
. "$(dirname "$0")/lib.sh"
load_env

INFRA=(postgres redis rabbitmq kafka smtp)
EDGE=(prometheus nginx)

# ----------------------------------------------------------------------------- helpers

# A directory that an unprivileged daemon user can reach (postgres, nginx workers).
reachable_by() {
  local user="$1" dir="$2"
  runuser -u "$user" -- test -x "$dir" 2>/dev/null
}

# Parses postgresql://user:password@host:port/db into PGU PGPW PGD.
parse_db_url() {
  local re='^postgres(ql)?://([^:]+):([^@]+)@[^/]+/([^?]+)'
  [[ "$1" =~ $re ]] || die "cannot parse database url for $2"
  PGU="${BASH_REMATCH[2]}" PGPW="${BASH_REMATCH[3]}" PGD="${BASH_REMATCH[4]}"
}

# The services, from deploy/services.tsv (each one runs as python -m NAME).
services() { service_rows | cut -f1; }

# The services that own a database (the table's database column).
services_with_database() { service_rows | awk -F'\t' '$4 == "yes" { print $1 }'; }

# service_port NAME: the port the stack runs it on — its variable (APP_PORT, USERS_PORT, …), which
# load_env defaults to the table's port.
service_port() {
  local name="$1" var
  var="$(service_rows | awk -F'\t' -v n="$name" '$1 == n { print $3 }')"
  [ -n "$var" ] || die "unknown service '$name' (not in deploy/services.tsv)"
  echo "${!var:?no port configured for service $name ($var)}"
}

# ----------------------------------------------------------------------------- postgres

# PostgreSQL keeps its cluster, socket and log in var/postgres — or, when the postgres user cannot
# walk to the checkout (a clone under /root, say), in /var/tmp with var/postgres a link to it: every
# path handed to a program running as postgres is the link's target (pg_real).
PG_HOME="$VAR/postgres"
PG_DATA="$PG_HOME/data"

postgres_prepare_dir() {
  if [ ! -e "$PG_HOME" ] && ! reachable_by postgres "$VAR"; then
    local alt
    alt="/var/tmp/blazing-sun-$(echo "$ROOT" | sha256sum | cut -c1-12)/postgres"
    mkdir -p "$alt" "$VAR"
    ln -sfn "$alt" "$PG_HOME"
  fi
  mkdir -p "$PG_HOME/data" "$PG_HOME/run" "$LOG"
  chown postgres:postgres "$PG_HOME/data" "$PG_HOME/run"
  chmod 700 "$PG_HOME/data"
  touch "$PG_HOME/postgres.log"
  chown postgres "$PG_HOME/postgres.log"
  [ "$(readlink -f "$LOG/postgres.log")" = "$(pg_real)/postgres.log" ] || ln -sfn "$(pg_real)/postgres.log" "$LOG/postgres.log"
}

pg_real() { readlink -f "$PG_HOME"; }

postgres_up() {
  local bin; bin="$(pg_bin)"
  postgres_prepare_dir
  if [ ! -f "$PG_DATA/PG_VERSION" ]; then
    say "postgres: initialising the cluster"
    local pw; pw="$(mktemp)"; printf '%s\n' "$POSTGRES_PASSWORD" > "$pw"; chmod 644 "$pw"
    runuser -u postgres -- "$bin/initdb" -D "$(pg_real)/data" -U "$POSTGRES_USER" --pwfile="$pw" \
      --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
      > "$LOG/postgres-init.log" 2>&1 || { rm -f "$pw"; die "initdb failed (var/log/postgres-init.log)"; }
    rm -f "$pw"
    cat >> "$PG_DATA/postgresql.conf" <<EOF
# --- Blazing Sun local stack
listen_addresses = '127.0.0.1'
port = $POSTGRES_PORT
max_connections = 300
shared_buffers = 256MB
work_mem = 4MB
maintenance_work_mem = 64MB
effective_cache_size = 1GB
random_page_cost = 1.1
timezone = 'UTC'
log_min_duration_statement = 1000
log_line_prefix = '%t [%p]: [%l-1] user=%u,db=%d '
EOF
    cat > "$PG_DATA/pg_hba.conf" <<EOF
local   all  all                 peer
host    all  all  127.0.0.1/32   scram-sha-256
host    all  all  ::1/128        scram-sha-256
host    all  all  0.0.0.0/0      reject
EOF
  fi
  local real; real="$(pg_real)"
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$real/data" status >/dev/null 2>&1; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$real/data" -l "$real/postgres.log" \
      -o "-c unix_socket_directories=$real/run" -w -t 60 start >/dev/null \
      || die "postgres did not start (var/log/postgres.log)"
  fi
  postgres_bootstrap
}

# One database and one role per service; a role may connect to its own database only.
postgres_bootstrap() {
  local svc url sql=""
  for svc in $(services_with_database); do
    url="$(echo "$svc" | tr '[:lower:]' '[:upper:]')_DATABASE_URL"
    parse_db_url "${!url}" "$svc"
    sql+="SELECT format('CREATE ROLE %I LOGIN', '$PGU') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PGU')"$'\\gexec\n'
    sql+="ALTER ROLE \"$PGU\" WITH LOGIN PASSWORD '$PGPW';"$'\n'
    sql+="SELECT format('CREATE DATABASE %I OWNER %I', '$PGD', '$PGU') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PGD')"$'\\gexec\n'
    sql+="REVOKE CONNECT, TEMPORARY ON DATABASE \"$PGD\" FROM PUBLIC;"$'\n'
    sql+="GRANT CONNECT, TEMPORARY ON DATABASE \"$PGD\" TO \"$PGU\";"$'\n'
  done
  sql+="SELECT format('CREATE DATABASE %I', '$POSTGRES_DB') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$POSTGRES_DB')"$'\\gexec\n'
  sql+="REVOKE CONNECT ON DATABASE \"$POSTGRES_DB\" FROM PUBLIC;"$'\n'
  printf '%s' "$sql" | PGPASSWORD="$POSTGRES_PASSWORD" psql -X -q -v ON_ERROR_STOP=1 \
    -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres > "$LOG/postgres-bootstrap.log" 2>&1 \
    || die "postgres bootstrap failed (var/log/postgres-bootstrap.log)"
}

postgres_down() {
  local bin; bin="$(pg_bin)"
  [ -f "$PG_DATA/postmaster.pid" ] || return 0
  runuser -u postgres -- "$bin/pg_ctl" -D "$(pg_real)/data" -m fast -w stop >/dev/null 2>&1 || true
}

postgres_health() {
  pg_isready -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB"
}

postgres_pid() { [ -f "$PG_DATA/postmaster.pid" ] && head -n1 "$PG_DATA/postmaster.pid"; }

# ----------------------------------------------------------------------------- redis

redis_up() {
  pid_alive redis && return 0
  mkdir -p "$VAR/redis"
  cat > "$VAR/redis/redis.conf" <<EOF
bind 127.0.0.1 -::1
port $REDIS_PORT
protected-mode yes
daemonize no
dir $VAR/redis
tcp-keepalive 300
databases 16
save 900 1
save 300 10
save 60 10000
appendonly yes
appendfsync everysec
maxmemory 256mb
maxmemory-policy noeviction
slowlog-log-slower-than 10000
notify-keyspace-events Ex
user default off
user $REDIS_USER on >$REDIS_PASSWORD ~* &* +@all
EOF
  chmod 600 "$VAR/redis/redis.conf"
  spawn redis redis-server "$VAR/redis/redis.conf"
}

redis_health() {
  [ "$(REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli --no-auth-warning -h 127.0.0.1 -p "$REDIS_PORT" \
        --user "$REDIS_USER" ping 2>/dev/null)" = PONG ]
}

redis_down() { stop_pid redis; }

# ----------------------------------------------------------------------------- rabbitmq

rabbit_env() {
  export HOME="$VAR/rabbitmq/home"
  export RABBITMQ_NODENAME=rabbit@localhost
  export RABBITMQ_CONF_ENV_FILE="$VAR/rabbitmq/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$VAR/rabbitmq/rabbitmq.conf"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$VAR/rabbitmq/enabled_plugins"
  export RABBITMQ_MNESIA_BASE="$VAR/rabbitmq/mnesia"
  export RABBITMQ_LOG_BASE="$LOG/rabbitmq"
  export RABBITMQ_PID_FILE="$RUN/rabbitmq.beam.pid"
  export ERL_EPMD_ADDRESS=127.0.0.1
}

rabbitmq_up() {
  pid_alive rabbitmq && return 0
  mkdir -p "$VAR/rabbitmq/home" "$VAR/rabbitmq/mnesia" "$LOG/rabbitmq"
  : > "$VAR/rabbitmq/rabbitmq-env.conf"
  # The server and the CLI tools (run with the same HOME) share this cookie; created up front so
  # that neither can race the other into writing its own.
  if [ ! -s "$VAR/rabbitmq/home/.erlang.cookie" ]; then
    (umask 077; head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$VAR/rabbitmq/home/.erlang.cookie")
    chmod 400 "$VAR/rabbitmq/home/.erlang.cookie"
  fi
  echo '[rabbitmq_management,rabbitmq_prometheus].' > "$VAR/rabbitmq/enabled_plugins"
  "$PY" -m blazing_contracts.rabbitmq_definitions \
    --user "$RABBITMQ_USER" --password "$RABBITMQ_PASSWORD" --vhost "$RABBITMQ_VHOST" \
    > "$VAR/rabbitmq/definitions.json"
  chmod 600 "$VAR/rabbitmq/definitions.json"
  cat > "$VAR/rabbitmq/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$RABBITMQ_PORT
management.tcp.ip = 127.0.0.1
management.tcp.port = $RABBITMQ_MANAGEMENT_PORT
prometheus.tcp.ip = 127.0.0.1
prometheus.tcp.port = $RABBITMQ_PROMETHEUS_PORT
distribution.listener.interface = 127.0.0.1
loopback_users = none
vm_memory_high_watermark.relative = 0.4
disk_free_limit.absolute = 500MB
heartbeat = 60
channel_max = 2047
log.console = false
log.file.level = info
load_definitions = $VAR/rabbitmq/definitions.json
EOF
  (rabbit_env; spawn rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server)
}

rabbitmq_health() {
  (rabbit_env; /usr/lib/rabbitmq/bin/rabbitmq-diagnostics -q ping) && rabbit_api_ok
}

# The definitions are applied once the management API answers as the seeded user.
rabbit_api_ok() {
  curl -fsS -o /dev/null -u "$RABBITMQ_USER:$RABBITMQ_PASSWORD" \
    "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/queues/%2F/jobs.dead_letter"
}

rabbitmq_down() {
  pid_alive rabbitmq || { rm -f "$RUN/rabbitmq.pid"; return 0; }
  (rabbit_env; /usr/lib/rabbitmq/bin/rabbitmqctl -q stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1) || true
  stop_pid rabbitmq 30
}

# ----------------------------------------------------------------------------- kafka

kafka_up() {
  pid_alive kafka && return 0
  local dir="$VAR/kafka"
  mkdir -p "$dir/data"
  cat > "$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=$KAFKA_BROKER_ID
controller.quorum.voters=$KAFKA_BROKER_ID@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=$KAFKA_NUM_PARTITIONS
default.replication.factor=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
log.retention.hours=$KAFKA_LOG_RETENTION_HOURS
log.retention.bytes=1073741824
auto.create.topics.enable=false
group.initial.rebalance.delay.ms=0
num.io.threads=4
num.network.threads=3
socket.request.max.bytes=104857600
EOF
  cat > "$dir/log4j2.properties" <<EOF
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
EOF
  local java_opts=(-cp "$dir/libs/*" "-Dlog4j2.configurationFile=$dir/log4j2.properties")
  if [ ! -f "$dir/data/meta.properties" ]; then
    # shellcheck disable=SC2086
    java $KAFKA_HEAP_OPTS "${java_opts[@]}" kafka.tools.StorageTool format \
      -t "$KAFKA_CLUSTER_ID" -c "$dir/server.properties" > "$LOG/kafka-format.log" 2>&1 \
      || die "kafka storage format failed (var/log/kafka-format.log)"
  fi
  # shellcheck disable=SC2086
  spawn kafka java $KAFKA_HEAP_OPTS -XX:+UseG1GC -Djava.awt.headless=true "${java_opts[@]}" \
    kafka.Kafka "$dir/server.properties"
}

kafka_topics() { "$PY" "$LOCAL/kafka_topics.py" "$@"; }
kafka_health() { port_open "$KAFKA_PORT" && kafka_topics --check; }
kafka_down() { stop_pid kafka 40; }

# ----------------------------------------------------------------------------- smtp sink

smtp_up() {
  pid_alive smtp && return 0
  mkdir -p "$VAR/mail"
  spawn smtp "$PY" "$LOCAL/smtp_sink.py" --host 127.0.0.1 --port "$MAIL_PORT" --maildir "$VAR/mail"
}
smtp_health() { port_open "$MAIL_PORT"; }
smtp_down() { stop_pid smtp; }

# ----------------------------------------------------------------------------- services

# A service runs as one instance (svc-NAME on its port); a rolling deploy (`rolling NAME`) runs a
# second one beside it for a while: svc-NAME-2 on the port + SECOND_INSTANCE_OFFSET. The gateway
# lists both of every service (it passes over the one that is not running) and nginx both gateways.
SECOND_INSTANCE_OFFSET=100
HANDOVER_SECONDS=3  # the gateway's probe takes an instance in or out within 2 s (adapters/upstreams.py)

# instance_port NAME [INSTANCE]: the port of instance 1 (the service's port) or 2.
instance_port() {
  local port; port="$(service_port "$1")"
  if [ "${2:-1}" = 2 ]; then echo $((port + SECOND_INSTANCE_OFFSET)); else echo "$port"; fi
}
instance_name() { if [ "${2:-1}" = 2 ]; then echo "svc-$1-2"; else echo "svc-$1"; fi; }

# upstream_urls: each service's URL variable (USERS_URL, …) listing its two instances, for the
# gateway — unless the environment names its own.
upstream_urls() {
  local s var
  for s in $(services); do
    [ "$s" = gateway ] && continue
    var="$(echo "$s" | tr '[:lower:]' '[:upper:]')_URL"
    [ -n "${!var:-}" ] || export "$var=http://127.0.0.1:$(instance_port "$s"),http://127.0.0.1:$(instance_port "$s" 2)"
  done
}

service_up() {
  local name="$1" instance="${2:-1}" port dburl
  pid_alive "$(instance_name "$name" "$instance")" && return 0
  port="$(instance_port "$name" "$instance")"
  dburl="$(echo "$name" | tr '[:lower:]' '[:upper:]')_DATABASE_URL"
  (
    export SERVICE_NAME="$name" SERVICE_HOST=127.0.0.1 SERVICE_PORT="$port"
    export UPLOAD_STORAGE_PATH="${UPLOAD_STORAGE_PATH:-$VAR/storage}"  # nginx serves its public/ at /storage/
    [ -n "${!dburl:-}" ] && export DATABASE_URL="${!dburl}"
    [ "$name" = gateway ] && upstream_urls
    spawn "$(instance_name "$name" "$instance")" "$PY" -m "$name"
  )
}
service_health() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$(instance_port "$1" "${2:-}")/health"; }
service_down() { stop_pid "$(instance_name "$1" "${2:-}")" 20; }

# drain NAME INSTANCE: the instance refuses new connections from now on (SIGUSR1; blazing_service.serve),
# which the gateway's pools and nginx pass on to the other instance; it serves the connections it
# has, and once stopped waits for its callers to let go of them (their pooled connections).
drain() {
  local name; name="$(instance_name "$1" "$2")"
  pid_alive "$name" || return 0
  kill -USR1 "$(head -n1 "$RUN/$name.pid")"
  sleep "$HANDOVER_SECONDS"
}

# rolling NAME: the service's running instance replaced by its code as it is now, with no request
# refused: a second instance starts beside it and is taken in; the first drains and stops (its
# requests finish, its consumers leave their groups, its relay hands over), starts again and is
# taken in; the second drains and stops.
rolling() {
  local name="$1"
  service_port "$name" >/dev/null  # dies on a service the table does not name
  say "deploy $name: a second instance on 127.0.0.1:$(instance_port "$name" 2)"
  service_up "$name" 2
  wait_for "svc-$name-2" 60 service_health "$name" 2 || die "svc-$name-2 is not healthy (var/log/svc-$name-2.log)"
  sleep "$HANDOVER_SECONDS"
  say "deploy $name: the first instance drains and restarts"
  drain "$name" 1
  service_down "$name" 1
  service_up "$name" 1
  wait_for "svc-$name" 60 service_health "$name" || die "svc-$name is not healthy (var/log/svc-$name.log)"
  sleep "$HANDOVER_SECONDS"
  say "deploy $name: the second instance drains and stops"
  drain "$name" 2
  service_down "$name" 2
  say "deployed $name"
}

# ----------------------------------------------------------------------------- prometheus

# A Prometheus configuration's scrape settings and its first jobs, Prometheus itself and RabbitMQ's
# prometheus plugin: SCRAPE_INTERVAL PROMETHEUS_TARGET RABBITMQ_TARGET; scrape_job adds one more.
prometheus_head() {
  cat <<EOF
global:
  scrape_interval: $1
  evaluation_interval: 15s
scrape_configs:
EOF
  scrape_job prometheus "$2"
  scrape_job rabbitmq "$3"
}

scrape_job() { printf '  - job_name: %s\n    static_configs: [{targets: ["%s"]}]\n' "$1" "$2"; }

# The scrape list names every service that exists now: written at each `up` and reloaded into a
# running Prometheus, so a service added since it started is scraped too.
prometheus_config() {
  mkdir -p "$VAR/prometheus/data"
  {
    prometheus_head 5s "127.0.0.1:$PROMETHEUS_PORT" "127.0.0.1:$RABBITMQ_PROMETHEUS_PORT"
    local s
    for s in $(services); do
      scrape_job "$s" "127.0.0.1:$(service_port "$s")"
    done
  } > "$VAR/prometheus/prometheus.yml"
}

# The compose deployment's Prometheus configuration (deploy/prometheus/prometheus.yml): every service
# of the table by its container name and its port there. Committed, since compose cannot run this;
# tests/deploy/test_services_table.py fails while the committed file differs from this output.
prometheus_compose_config() {
  cat <<'EOF'
# Prometheus for the compose deployment (deploy/compose): every service by its container name on
# devnet, and RabbitMQ's prometheus plugin. The local stack writes its own equivalent at `make up`
# (var/prometheus/prometheus.yml, loopback addresses).
# Generated from deploy/services.tsv: deploy/local/stack.sh prometheus-compose > deploy/prometheus/prometheus.yml
EOF
  prometheus_head 15s localhost:9090 rabbitmq:15692
  local name port _
  while IFS=$'\t' read -r name port _; do
    scrape_job "$name" "$name:$port"
  done < <(service_rows)
}

prometheus_up() {
  prometheus_config
  if pid_alive prometheus; then
    curl -fsS -o /dev/null -X POST "http://127.0.0.1:$PROMETHEUS_PORT/-/reload" || true
    return 0
  fi
  spawn prometheus prometheus --config.file="$VAR/prometheus/prometheus.yml" \
    --storage.tsdb.path="$VAR/prometheus/data" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    --web.enable-lifecycle
}
prometheus_health() { curl -fsS -o /dev/null "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; }
prometheus_down() { stop_pid prometheus; }

# ----------------------------------------------------------------------------- nginx

# nginx_conf PREFIX [PIDFILE]: PREFIX/nginx.conf from the template, logs and temporary files
# under PREFIX (the pid file too unless given); ports from NGINX_HTTP_PORT / NGINX_HTTPS_PORT
# (80 / 443). The edge tests render a second instance this way (other ports, a gateway that is
# down) beside the running one.
nginx_conf() {
  local dir="$1" pidfile="${2:-$1/nginx.pid}" user=www-data body_limit
  mkdir -p "$dir/tmp" "$dir/logs" "$VAR/storage/public"
  # Workers run unprivileged when the checkout is reachable for them.
  reachable_by www-data "$VAR/storage/public" || user=root
  # the body limit follows the upload limit (plus 1 MiB for a multipart envelope)
  body_limit="$(( (${UPLOAD_MAX_FILE_SIZE:-104857600} + 1048576 + 1048575) / 1048576 ))m"
  # the public origin lands inside a quoted nginx string: refuse what could end it
  case "$PUBLIC_BASE_URL" in *[\"\'\ \;\|\&\$\\]*) die "PUBLIC_BASE_URL has a character nginx cannot take: $PUBLIC_BASE_URL";; esac
  sed -e "s|@VAR@|$VAR|g" -e "s|@APP_PORT@|$APP_PORT|g" -e "s|@USER@|$user|g" \
    -e "s|@PIDFILE@|$pidfile|g" -e "s|@BODY_LIMIT@|$body_limit|g" \
    -e "s|@HTTP_PORT@|${NGINX_HTTP_PORT:-80}|g" -e "s|@HTTPS_PORT@|${NGINX_HTTPS_PORT:-443}|g" \
    -e "s|@APP_PORT_2@|$((APP_PORT + SECOND_INSTANCE_OFFSET))|g" \
    -e "s|@PUBLIC_BASE_URL@|$PUBLIC_BASE_URL|g" \
    "$LOCAL/nginx/nginx.conf.template" > "$dir/nginx.conf"
  nginx -t -q -c "$dir/nginx.conf" -p "$dir" 2>>"$LOG/nginx.log" || die "nginx config invalid (var/log/nginx.log)"
}

nginx_up() {
  local dir="$VAR/nginx"
  mkdir -p "$dir/ssl"
  if [ ! -f "$dir/ssl/server.crt" ]; then
    say "nginx: generating a self-signed certificate"
    openssl req -x509 -newkey rsa:2048 -sha256 -days 365 -nodes \
      -keyout "$dir/ssl/server.key" -out "$dir/ssl/server.crt" \
      -subj "/C=RS/O=Blazing Sun/OU=Dev/CN=localhost" \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
    chmod 600 "$dir/ssl/server.key"
  fi
  nginx_conf "$dir" "$RUN/nginx.pid"
  if pid_alive nginx; then
    nginx -s reload -c "$dir/nginx.conf" -p "$dir"
  else
    nginx -c "$dir/nginx.conf" -p "$dir" 2>>"$LOG/nginx.log" || die "nginx did not start (var/log/nginx.log)"
  fi
}
nginx_health() { curl -fsSk -o /dev/null --max-time 3 "https://127.0.0.1/nginx-health"; }
nginx_down() {
  pid_alive nginx || return 0
  nginx -s quit -c "$VAR/nginx/nginx.conf" -p "$VAR/nginx" 2>/dev/null || stop_pid nginx
  local i; for ((i = 0; i < 50; i++)); do pid_alive nginx || break; sleep 0.1; done
}

# ----------------------------------------------------------------------------- phases

await_healthy() {
  local secs="$1"; shift
  local c fn
  for c in "$@"; do
    fn="${c}_health"
    case "$c" in svc-*) fn="service_health ${c#svc-}";; esac
    # shellcheck disable=SC2086
    wait_for "$c" "$secs" $fn || die "$c is not healthy after ${secs}s (see var/log/$c.log)"
    printf '   %-12s healthy\n' "$c"
  done
}

# A port held by something we did not start would make a component fail obscurely later.
check_ports() {
  local entry name port
  for entry in "postgres:$POSTGRES_PORT" "redis:$REDIS_PORT" "rabbitmq:$RABBITMQ_PORT" \
               "kafka:$KAFKA_PORT" "smtp:$MAIL_PORT" "prometheus:$PROMETHEUS_PORT" "nginx:443"; do
    name="${entry%%:*}" port="${entry##*:}"
    if [ "$name" = postgres ]; then
      [ -f "$PG_DATA/postmaster.pid" ] && continue
    else
      pid_alive "$name" && continue
    fi
    port_open "$port" && die "port $port (for $name) is taken by a process this stack did not start"
  done
  return 0
}

up() {
  "$LOCAL/install.sh"
  check_ports
  local t0=$SECONDS
  say "phase 1: infrastructure"
  postgres_up & local pg=$!
  redis_up; rabbitmq_up; kafka_up; smtp_up
  wait "$pg" || die "postgres failed"
  await_healthy 120 postgres redis rabbitmq
  wait_for kafka 120 port_open "$KAFKA_PORT" || die "kafka did not open $KAFKA_PORT (var/log/kafka.log)"
  kafka_topics --create >/dev/null || die "kafka topics could not be created"
  await_healthy 60 kafka smtp
  say "phase 2: services"
  local s svcs=()
  for s in $(services); do service_up "$s"; svcs+=("svc-$s"); done
  [ "${#svcs[@]}" -gt 0 ] && await_healthy 60 "${svcs[@]}"
  say "phase 3: edge and monitoring"
  prometheus_up; nginx_up
  await_healthy 60 prometheus nginx
  say "up in $((SECONDS - t0))s"
  urls
}

urls() {
  cat <<EOF

  Application        https://localhost/            (gateway on 127.0.0.1:$APP_PORT)
  RabbitMQ console   http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/     ($RABBITMQ_USER / see .env)
  Prometheus         http://127.0.0.1:$PROMETHEUS_PORT/
  Kafka bootstrap    127.0.0.1:$KAFKA_PORT
  PostgreSQL         127.0.0.1:$POSTGRES_PORT
  Redis              127.0.0.1:$REDIS_PORT
  SMTP sink          127.0.0.1:$MAIL_PORT  -> var/mail/ (Maildir)
EOF
}

down() {
  local s
  nginx_down; prometheus_down
  for s in $(services); do service_down "$s"; service_down "$s" 2; done
  smtp_down; kafka_down; rabbitmq_down; redis_down; postgres_down
  # Erlang's port mapper daemon was started by our RabbitMQ node; stop it once no node uses it.
  if command -v epmd >/dev/null && ! epmd -names 2>/dev/null | grep -q '^name '; then
    epmd -kill >/dev/null 2>&1 || true
  fi
  say "stopped"
}

ps_() {
  local c pid state fn
  printf '%-14s %-8s %s\n' COMPONENT PID HEALTH
  for c in "${INFRA[@]}" $(services | sed 's/^/svc-/') "${EDGE[@]}"; do
    fn="${c}_health"; pid=""
    case "$c" in
      svc-*) fn="service_health ${c#svc-}";;
    esac
    if [ "$c" = postgres ]; then pid="$(postgres_pid 2>/dev/null || true)"; else
      [ -s "$RUN/$c.pid" ] && pid="$(head -n1 "$RUN/$c.pid")"; fi
    # shellcheck disable=SC2086
    if $fn >/dev/null 2>&1; then state=healthy
    elif { [ "$c" = postgres ] && running "$pid"; } || pid_alive "$c"; then state=unhealthy
    else state=down; fi
    printf '%-14s %-8s %s\n' "$c" "${pid:--}" "$state"
  done
}

logs() {
  if [ -n "${1:-}" ]; then tail -n 100 -F "$LOG/$1.log"; else
    local f; for f in "$LOG"/*.log; do printf '\n==> %s <==\n' "$f"; tail -n 15 "$f"; done; fi
}

# Stops or starts one infrastructure component (fault tests, operators): `stack.sh stop kafka`.
one() {
  local action="$1" name="${2:-}"
  case "$name" in
    postgres|redis|rabbitmq|kafka|smtp|prometheus|nginx) ;;
    svc-*)
      local service="${name#svc-}" instance=1
      if [[ "$service" == *-2 ]]; then service="${service%-2}"; instance=2; fi  # svc-NAME-2: the second instance
      service_port "$service" >/dev/null  # dies on a service the table does not name
      if [ "$action" = stop ]; then service_down "$service" "$instance"; return; fi
      service_up "$service" "$instance"
      wait_for "$name" 60 service_health "$service" "$instance" || die "$name is not healthy (var/log/$name.log)"
      return ;;
    *) die "unknown component '$name'" ;;
  esac
  if [ "$action" = stop ]; then "${name}_down"; return; fi
  "${name}_up"
  wait_for "$name" 120 "${name}_health" || die "$name is not healthy (var/log/$name.log)"
}

case "${1:-}" in
  up) up ;;
  stop|start) one "$1" "${2:-}" ;;
  rolling) rolling "${2:?usage: $0 rolling SERVICE}" ;;
  nginx-conf) nginx_conf "${2:?usage: $0 nginx-conf DIR}" ;;
  prometheus-compose) prometheus_compose_config ;;
  down) down ;;
  ps) ps_ ;;
  logs) logs "${2:-}" ;;
  urls) urls ;;
  *) echo "usage: $0 up|down|ps|logs [NAME]|urls|stop NAME|start NAME|rolling SERVICE|nginx-conf DIR|prometheus-compose" >&2; exit 2 ;;
esac
