"""Consumer lag per group and partition, measured from outside the consumers (so a stopped or
stuck consumer shows its lag growing instead of going silent): committed offsets of every group
on our topics against the partitions' end offsets, every few seconds, as ``kafka_consumer_lag``."""

from __future__ import annotations

import contextlib
from collections.abc import Collection

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Gauge

CONSUMER_LAG = Gauge(
    "kafka_consumer_lag",
    "Records on a partition a consumer group has not committed yet",
    ["group", "topic", "partition"],
)


class LagMonitor:
    """Measured by ``measure`` — every few seconds as a periodic task of the service that runs it
    (the ops service: ``runtime.every``)."""

    def __init__(self, bootstrap: str, topics: Collection[str]) -> None:
        self._bootstrap = bootstrap
        self._topics = set(topics)
        self._series: set[tuple[str, str, str]] = set()
        self.lag: dict[tuple[str, str, int], int] = {}

    async def measure(self) -> dict[tuple[str, str, int], int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=5000)
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        try:  # started inside: a client whose start failed is closed too (it leaked one a round)
            await admin.start()
            await consumer.start()
            committed: dict[tuple[str, TopicPartition], int] = {}
            for group, _protocol in await admin.list_consumer_groups():
                offsets = await admin.list_consumer_group_offsets(group)
                for tp, meta in offsets.items():
                    if tp.topic in self._topics and meta.offset >= 0:
                        committed[(group, tp)] = meta.offset
            ends = await consumer.end_offsets(list({tp for _, tp in committed})) if committed else {}
        finally:
            await consumer.stop()
            await admin.close()
        lag = {(g, tp.topic, tp.partition): max(0, ends.get(tp, off) - off) for (g, tp), off in committed.items()}
        series = {(g, t, str(p)) for g, t, p in lag}
        for gone in self._series - series:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(*gone)
        for (g, t, p), value in lag.items():
            CONSUMER_LAG.labels(g, t, str(p)).set(value)
        self._series, self.lag = series, lag
        return lag
