#!/usr/bin/env bash
# A Kafka node of the compose deployment (one broker) and of the swarm stack (deploy/swarm/stack.yml:
# kafka-1..3, each broker and controller): the image's broker (/etc/kafka/docker/run, configured from
# KAFKA_* variables), then the topics it must hold ($TOPICS; $KAFKA_NUM_PARTITIONS partitions,
# replication factor $TOPIC_REPLICATION_FACTOR, the retention of KAFKA_LOG_RETENTION_HOURS) once
# enough brokers are up to place their replicas. The services never create a topic (their brokers
# run with allow_auto_create_topics=False). Every node tries (whichever is first creates them;
# --if-not-exists for the others, and a lost race is tried again); /tmp/kafka-ready, which the
# health checks look for, is written once they all exist.
set -euo pipefail

port="${KAFKA_PORT:-9092}"
rf="${TOPIC_REPLICATION_FACTOR:-1}"
rm -f /tmp/kafka-ready
/etc/kafka/docker/run &
broker=$!
trap 'kill -TERM "$broker" 2>/dev/null; wait "$broker"; exit $?' TERM INT

alive() { kill -0 "$broker" 2>/dev/null || { wait "$broker"; exit $?; }; }
topics() { /opt/kafka/bin/kafka-topics.sh --bootstrap-server "localhost:$port" "$@"; }

until /opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server "localhost:$port" >/dev/null 2>&1; do
  alive
  sleep 2
done
retention_ms=$(( ${KAFKA_LOG_RETENTION_HOURS:-168} * 3600 * 1000 ))
existing="$(topics --list 2>/dev/null || true)"  # each tool call starts a JVM: skip what exists
for topic in ${TOPICS:?}; do
  grep -qxF "$topic" <<< "$existing" && continue
  # fails while fewer than $rf brokers are registered (or when another node created it meanwhile)
  until topics --create --if-not-exists --topic "$topic" --partitions "${KAFKA_NUM_PARTITIONS:-3}" \
      --replication-factor "$rf" --config "retention.ms=$retention_ms" >/dev/null 2>&1 \
      || topics --describe --topic "$topic" >/dev/null 2>&1; do
    alive
    sleep 3
  done
done
echo "kafka-entrypoint: topics ready (${TOPICS}; replication factor $rf)"
touch /tmp/kafka-ready
wait "$broker"
