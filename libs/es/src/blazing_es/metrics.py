"""Prometheus series of the event-sourcing core (SPEC §8), labelled by service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OUTBOX_BACKLOG = Gauge("outbox_backlog", "Committed events not yet acknowledged by Kafka", ["service"])
OUTBOX_OLDEST_AGE = Gauge("outbox_oldest_age_seconds", "Age of the oldest unpublished outbox record", ["service"])
OUTBOX_PUBLISHED = Counter("outbox_published_total", "Outbox records acknowledged by Kafka", ["service"])
OUTBOX_PUBLISH_FAILURES = Counter(
    "outbox_publish_failures_total", "Outbox batches that Kafka did not acknowledge", ["service"]
)
MESSAGES_CONSUMED = Counter(
    "messages_consumed_total", "Records handled by a consumer", ["service", "topic", "group", "outcome"]
)
HANDLER_RETRIES = Counter("consumer_retries_total", "Handler attempts that were retried", ["service", "group"])
DEAD_LETTERS = Counter(
    "dead_letters_total", "Records sent to events.dead_letter", ["service", "topic", "group", "reason"]
)
