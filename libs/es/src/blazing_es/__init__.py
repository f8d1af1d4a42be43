"""Blazing Sun's event-sourcing core, shared by every event-sourced service."""

from blazing_es.codec import EventCodec
from blazing_es.consumer import (
    BrokerDeadLetterSink,
    ConsumerRunner,
    PermanentError,
    RecordInfo,
    RetryPolicy,
    subscribe,
)
from blazing_es.errors import ConcurrencyError, EventStoreError, UnknownEventError
from blazing_es.inbox import Inbox
from blazing_es.outbox import Outbox, OutboxRecord, OutboxRelay, kafka_producer, record_of
from blazing_es.projection import Projection, ProjectionRunner
from blazing_es.repository import StreamRepository
from blazing_es.schema import install
from blazing_es.store import Checkpoint, EventStore, NewEvent, Snapshot, StoredEvent

__all__ = [
    "BrokerDeadLetterSink",
    "Checkpoint",
    "ConcurrencyError",
    "ConsumerRunner",
    "EventCodec",
    "EventStore",
    "EventStoreError",
    "Inbox",
    "NewEvent",
    "Outbox",
    "OutboxRecord",
    "OutboxRelay",
    "PermanentError",
    "Projection",
    "ProjectionRunner",
    "RecordInfo",
    "RetryPolicy",
    "Snapshot",
    "StoredEvent",
    "StreamRepository",
    "UnknownEventError",
    "install",
    "kafka_producer",
    "record_of",
    "subscribe",
]
