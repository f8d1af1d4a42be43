#!/bin/sh
# Kafka's command-line tools by the names of the public image's scripts (kafka-topics.sh,
# kafka-broker-api-versions.sh, kafka-storage.sh, kafka-consumer-groups.sh link here): a JVM tuned to start fast, since the
# health check runs two of them every ten seconds.
set -eu
case "$(basename "$0")" in
  kafka-topics.sh) class=org.apache.kafka.tools.TopicCommand ;;
  kafka-broker-api-versions.sh) class=org.apache.kafka.tools.BrokerApiVersionsCommand ;;
  kafka-storage.sh) class=kafka.tools.StorageTool ;;
  kafka-consumer-groups.sh) class=org.apache.kafka.tools.consumer.group.ConsumerGroupCommand ;;
  *) echo "unknown Kafka tool: $0" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086 # KAFKA_TOOLS_OPTS holds several options
exec java ${KAFKA_TOOLS_OPTS:--Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto} \
  -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties -cp "/opt/kafka/libs/*" "$class" "$@"
