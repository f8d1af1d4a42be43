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
from blazing_es.memory import InMemoryUnitOfWork, MemoryDatabase
from blazing_es.outbox import Outbox, OutboxRecord, OutboxRelay, kafka_producer, record_of
from blazing_es.ports import EventStorePort, InboxPort, OutboxPort, UnitOfWork
from blazing_es.postgres import PostgresUnitOfWork
from blazing_es.runner import Aggregate, Context, EventSourced, VersionMismatch, Written
from blazing_es.schema import install
from blazing_es.store import Checkpoint, EventStore, NewEvent, Snapshot, StoredEvent

__all__ = [
    "Aggregate",
    "BrokerDeadLetterSink",
    "Checkpoint",
    "ConcurrencyError",
    "ConsumerRunner",
    "Context",
    "EventCodec",
    "EventSourced",
    "EventStore",
    "EventStoreError",
    "EventStorePort",
    "InMemoryUnitOfWork",
    "Inbox",
    "InboxPort",
    "MemoryDatabase",
    "NewEvent",
    "Outbox",
    "OutboxPort",
    "OutboxRecord",
    "OutboxRelay",
    "PermanentError",
    "PostgresUnitOfWork",
    "RecordInfo",
    "RetryPolicy",
    "Snapshot",
    "StoredEvent",
    "UnitOfWork",
    "UnknownEventError",
    "VersionMismatch",
    "Written",
    "install",
    "kafka_producer",
    "record_of",
    "subscribe",
]
