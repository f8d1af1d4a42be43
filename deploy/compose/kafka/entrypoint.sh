#!/usr/bin/env bash
# Starts the KRaft broker of the apache/kafka image, then creates the topics it must hold ($TOPICS,
# $KAFKA_NUM_PARTITIONS partitions, the retention of KAFKA_LOG_RETENTION_HOURS); the health check
# passes only once they exist.
set -euo pipefail

/etc/kafka/docker/run &
broker=$!
until /opt/kafka/bin/kafka-broker-api-versions.sh --bootstrap-server "localhost:${KAFKA_PORT:-9092}" >/dev/null 2>&1; do
  kill -0 "$broker" 2>/dev/null || exit 1
  sleep 1
done
retention_ms=$(( ${KAFKA_LOG_RETENTION_HOURS:-168} * 3600 * 1000 ))
for topic in ${TOPICS:?}; do
  /opt/kafka/bin/kafka-topics.sh --bootstrap-server "localhost:${KAFKA_PORT:-9092}" --create --if-not-exists \
    --topic "$topic" --partitions "${KAFKA_NUM_PARTITIONS:-3}" --replication-factor 1 \
    --config "retention.ms=$retention_ms"
done
wait "$broker"
