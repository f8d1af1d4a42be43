"""The consumer failure policy, the same for every Kafka consumer of every service.

Acknowledgement policy (explicit): the offset of a record is committed only after the record was
either handled (its effects committed) or written to ``events.dead_letter`` and acknowledged there.
If even the dead-letter write fails, the handler raises, FastStream seeks back
(``AckPolicy.NACK_ON_ERROR``) and the record is delivered again — it is never lost.

* Poison (undecodable bytes, unknown event type or version, invalid payload): dead-lettered at once
  with ``poison=True``, no retries (a retry cannot make bad bytes good).
* A handler error: retried in place with exponential back-off up to ``max_attempts``; then
  dead-lettered with the error, its traceback and the number of attempts. ``PermanentError`` skips
  the retries.
* A dependency outage (``is_outage``: PostgreSQL unreachable or shutting down, a refused or reset
  connection) is not the record's fault: retried in place, at most ``max_delay`` apart, without
  using up attempts, until the dependency is back — the partition waits, in order, as it does while
  Kafka is down. (A PostgreSQL restart used to dead-letter the events in hand.)
* After a dead letter the offset is committed and the partition keeps flowing.

A consumer that acts on a few types of its topics names them (``event_types``): a record whose
``event_type`` header names another type the contracts know is passed by undecoded, untraced, with
no inbox claim — its offset is committed with its batch. Decoding and tracing every record of
user.events cost auth, files and the ledger more than all their other work under a write load.
A record without the header, or naming a type no contract knows, is decoded as before (poison is
dead-lettered by every consumer of the topic).

Records arrive in batches (up to ``max_records``, whatever is buffered — no waiting to fill one):
each partition's records are handled in order, different partitions concurrently, and the offsets
are committed once per batch. A per-record commit is a broker round trip that capped a consumer at
~170 records/s here; a redelivered batch is harmless because handlers are idempotent (the inbox).
"""

from __future__ import annotations

import asyncio
import logging
import traceback as tb
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec
import psycopg
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from psycopg_pool import PoolTimeout

from blazing_contracts import (
    REGISTRY,
    AnyEvent,
    ContractError,
    DeadLetterRecord,
    RecordHeader,
    decode_event,
    encode_dead_letter,
)
from blazing_contracts.context import correlation_id_var
from blazing_contracts.topology import DEAD_LETTER_TOPIC, HEADER_EVENT_TYPE, HEADER_TRACEPARENT
from blazing_es import metrics

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("blazing_es")


class PermanentError(Exception):
    """Raised by a handler for a failure no retry can fix: the record is dead-lettered at once."""


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says a dependency is unreachable rather than that the
    record cannot be handled: a psycopg connection failure (no SQLSTATE, class 08, or the server
    shutting down / starting up: 57P01-57P03), no connection from the pool in time, a refused or
    reset connection."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PoolTimeout | ConnectionError):
            return True
        if isinstance(current, psycopg.OperationalError):
            state = current.sqlstate
            return state is None or state.startswith(("08", "57P"))
        current = current.__cause__ or current.__context__
    return False


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    max_attempts: int = 5
    first_delay: float = 0.1
    max_delay: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.first_delay * 2 ** (attempt - 1), self.max_delay))


class RecordInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Where a record came from (for handlers that care, and for dead letters)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]]


EventHandler = Callable[[AnyEvent, RecordInfo], Awaitable[None]]


class DeadLetterSink(Protocol):
    async def send(self, record: DeadLetterRecord) -> None: ...


@dataclass(eq=False)
class BrokerDeadLetterSink:
    """Publishes dead letters through a FastStream Kafka broker and waits for the acknowledgement."""

    broker: KafkaBroker

    async def send(self, record: DeadLetterRecord) -> None:
        await self.broker.publish(
            encode_dead_letter(record),
            topic=DEAD_LETTER_TOPIC,
            key=record.key,
            headers={
                "original_topic": record.original_topic,
                "consumer_group": record.consumer_group,
                "error_type": record.error_type,
            },
        )


@dataclass(eq=False, kw_only=True)
class ConsumerRunner:
    service: str
    group_id: str
    handler: EventHandler
    dead_letters: DeadLetterSink
    policy: RetryPolicy = RetryPolicy()
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    decode: Callable[[bytes], AnyEvent] = decode_event
    """Turns a record's bytes into an event or raises ContractError (poison)."""
    event_types: Collection[str] | None = None
    """The only types the handler acts on (None: every record is decoded)."""
    _passed_by: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        known = {spec.event_type for spec in REGISTRY.specs()}
        if self.event_types is not None and (unknown := set(self.event_types) - known):
            raise ValueError(f"{self.group_id}: no contract has the event types {sorted(unknown)}")
        self._passed_by = frozenset((known - set(self.event_types)) if self.event_types is not None else ())

    def wants(self, headers: Sequence[tuple[str, bytes | None]] | None) -> bool:
        """False for a record whose ``event_type`` header names a known type the handler does not
        act on (see the module docstring): it is not decoded."""
        if self._passed_by:
            for name, value in headers or ():
                if name == HEADER_EVENT_TYPE:
                    return not (isinstance(value, bytes) and value.decode("latin-1") in self._passed_by)
        return True

    async def handle(self, info: RecordInfo) -> None:
        """Handles one record according to the policy; returns once its offset may be committed.
        The handling is a span continuing the trace the record's ``traceparent`` carries."""
        parent = propagate.extract(
            {k: v.decode("latin-1") for k, v in info.headers if k == HEADER_TRACEPARENT and isinstance(v, bytes)}
        )
        with _tracer.start_as_current_span(
            f"{info.topic} process",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={"messaging.system": "kafka", "messaging.consumer.group.name": self.group_id},
        ):
            await self._handle(info)

    async def _handle(self, info: RecordInfo) -> None:
        first_failure = self.now()
        try:
            event = self.decode(info.value)
        except ContractError as exc:
            await self._dead_letter(info, exc, None, 0, first_failure, poison=True)
            return
        correlation = correlation_id_var.set(event.correlation_id)
        try:
            await self._attempts(info, event, first_failure)
        finally:
            correlation_id_var.reset(correlation)

    async def _attempts(self, info: RecordInfo, event: AnyEvent, first_failure: datetime) -> None:
        attempt, waited = 0, 0
        while True:
            attempt += 1
            try:
                await self.handler(event, info)
            except Exception as exc:
                if is_outage(exc):  # not this record's fault: wait for the dependency
                    attempt -= 1
                    waited += 1
                    metrics.HANDLER_RETRIES.labels(self.service, self.group_id).inc()
                    log.warning("%s: waiting for a dependency: %r", self.group_id, exc, exc_info=exc)
                    await asyncio.sleep(self.policy.delay(waited))
                    continue
                permanent = isinstance(exc, PermanentError)
                if permanent or attempt >= self.policy.max_attempts:
                    await self._dead_letter(info, exc, event, attempt, first_failure, poison=False)
                    return
                metrics.HANDLER_RETRIES.labels(self.service, self.group_id).inc()
                log.warning(
                    "%s: %s %s failed (attempt %d/%d): %r",
                    self.group_id,
                    event.event_type,
                    event.event_id,
                    attempt,
                    self.policy.max_attempts,
                    exc,
                    exc_info=exc,  # a dependency's outage is told once, not per retry (by its error)
                )
                await asyncio.sleep(self.policy.delay(attempt))
            else:
                metrics.MESSAGES_CONSUMED.labels(self.service, info.topic, self.group_id, "ok").inc()
                return

    async def _dead_letter(
        self,
        info: RecordInfo,
        exc: BaseException,
        event: AnyEvent | None,
        attempts: int,
        first_failure: datetime,
        *,
        poison: bool,
    ) -> None:
        record = DeadLetterRecord(
            dead_letter_id=uuid.uuid4(),
            original_topic=info.topic,
            partition=info.partition,
            offset=info.offset,
            key=info.key,
            value=info.value,
            headers=[RecordHeader(name, value) for name, value in info.headers],
            consumer_group=self.group_id,
            service=self.service,
            error_type=type(exc).__name__,
            error_message=str(exc)[:4000],
            traceback="".join(tb.format_exception(exc))[-16000:],
            attempts=attempts,
            first_failure_at=first_failure,
            last_failure_at=self.now(),
            poison=poison,
            event_id=event.event_id if event else None,
            event_type=event.event_type if event else None,
            aggregate_id=event.aggregate_id if event else None,
        )
        await self.dead_letters.send(record)  # raises → not committed → redelivered
        reason = "poison" if poison else "handler_error"
        metrics.DEAD_LETTERS.labels(self.service, info.topic, self.group_id, reason).inc()
        metrics.MESSAGES_CONSUMED.labels(self.service, info.topic, self.group_id, "dead_lettered").inc()
        log.error(
            "%s: dead-lettered %s[%d]@%d (%s): %s",
            self.group_id,
            info.topic,
            info.partition,
            info.offset,
            record.error_type,
            record.error_message,
        )


def record_info(raw: Any) -> RecordInfo:
    """The parts of an aiokafka ConsumerRecord the policy uses."""
    return RecordInfo(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        value=raw.value if raw.value is not None else b"",
        headers=list(raw.headers or ()),
    )


def subscribe(
    broker: KafkaBroker,
    topics: Sequence[str],
    runner: ConsumerRunner,
    *,
    max_records: int = 500,
    wait: float = 0.0,
    **options: Any,
) -> None:
    """Registers ``runner`` on ``broker`` for ``topics`` with the policy's acknowledgement rules.

    ``wait``: seconds a record may wait for others to share its fetch (the broker answers a fetch
    when it holds a megabyte or after ``wait``). 0: as soon as there is one. A consumer that no
    one waits for (an erasure, a read model nobody reads at once) takes a batch per ``wait``
    instead of a fetch, a batch and an offset commit per record under a steady flow — what most
    of such a consumer's CPU per write, and its broker's, was."""
    if wait > 0:
        options = {"fetch_min_bytes": 1_048_576, "fetch_max_wait_ms": int(wait * 1000), **options}

    async def consume(msg: KafkaMessage) -> None:
        partitions: dict[tuple[str, int], list[RecordInfo]] = {}
        for raw in msg.raw_message:
            if not runner.wants(raw.headers):
                continue
            info = record_info(raw)
            partitions.setdefault((info.topic, info.partition), []).append(info)

        async def in_order(records: list[RecordInfo]) -> None:
            for info in records:
                await runner.handle(info)

        outcomes = await asyncio.gather(*(in_order(r) for r in partitions.values()), return_exceptions=True)
        if failed := next((o for o in outcomes if isinstance(o, BaseException)), None):
            raise failed  # every partition has stopped: the batch is sought back and redelivered

    consume.__name__ = f"consume_{runner.group_id.replace('-', '_').replace('.', '_')}"
    broker.subscriber(
        *topics,
        group_id=runner.group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        batch=True,
        max_records=max_records,
        decoder=raw_body,
        **options,
    )(consume)


async def raw_body(msg: Any) -> Any:
    """No decoding by the framework (whatever a record's headers say): the runner decodes, so that
    undecodable bytes become a poison dead letter instead of an error before the handler."""
    return msg.body
