#!/usr/bin/env bash
# The broker, configured from the environment as the public apache/kafka image does it: every
# KAFKA_* variable but the JVM's own is a server property (KAFKA_ dropped, lower case, "___" → "-",
# "__" → "_", "_" → "."); the storage is formatted with CLUSTER_ID on the first start.
set -euo pipefail

conf=/opt/kafka/config/server.properties
# Kafka 4 keeps share groups' state in a topic of its own: a single broker needs it unreplicated too
: "${KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR:=${KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR:-3}}"
: "${KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR:=${KAFKA_TRANSACTION_STATE_LOG_MIN_ISR:-2}}"
export KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR

: > "$conf"
while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_JVM_PERFORMANCE_OPTS|KAFKA_LOG4J_OPTS|KAFKA_GC_LOG_OPTS|KAFKA_JMX_OPTS|KAFKA_TOOLS_OPTS) ;;
    KAFKA_?*)
      key="${name#KAFKA_}"
      key="${key,,}"
      key="${key//___/-}"
      key="${key//__/@}"
      key="${key//_/.}"
      echo "${key//@/_}=$value" >> "$conf"
      ;;
  esac
done < <(env)

java_opts=(-cp "/opt/kafka/libs/*" -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -Djava.awt.headless=true)
log_dirs="$(sed -n 's/^log\.dirs=//p' "$conf")"
if [ ! -f "${log_dirs%%,*}/meta.properties" ]; then
  # shellcheck disable=SC2086 # KAFKA_HEAP_OPTS holds several options
  java ${KAFKA_HEAP_OPTS:--Xmx512m} "${java_opts[@]}" kafka.tools.StorageTool format \
    -t "${CLUSTER_ID:?CLUSTER_ID is required}" -c "$conf" --ignore-formatted
fi
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx512m} -XX:+UseG1GC "${java_opts[@]}" kafka.Kafka "$conf"
