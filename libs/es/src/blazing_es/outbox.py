"""The transactional outbox and its relay to Kafka.

A use case adds its contract events to ``es_outbox`` in the same transaction as its appends, so an
event is published if and only if it was committed. The relay publishes committed rows in id order
and deletes them once Kafka acknowledged them.

Guarantees and their reasons:

* **At least once.** Rows are deleted only after every record of the batch was acknowledged by
  Kafka (``acks=all``, idempotent producer). A crash between the acknowledgement and the delete
  republishes that batch once: duplicates are bounded by ``batch_size`` per crash, and consumers are
  idempotent (inbox), so they are harmless.
* **Per-aggregate order.** Record key = aggregate id, so an aggregate's events share a partition.
  An aggregate's next event can only be inserted after its previous one committed (the stream
  version check), so it always has a larger id; the relay sends in id order and the idempotent
  producer keeps the order per partition across its retries.
* **Nothing skipped.** Rows are deleted, not passed by a checkpoint: a row committed late with a
  small id is simply published in the next round.
* **One publisher.** A relay publishes only while it holds a PostgreSQL advisory lock on its own
  session; a second instance waits as a standby and takes over when the first one's session ends.
* **Kafka down.** Sends fail, the batch stays, the relay backs off and tries again; the backlog
  grows and drains when Kafka is back.

Woken by LISTEN/NOTIFY on ``es_outbox`` (a statement trigger), with polling as the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Final, Protocol

import msgspec
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from blazing_contracts import AnyEvent, encode_event, record_headers, topic_of
from blazing_contracts.topology import HEADER_TRACEPARENT
from blazing_es import metrics
from blazing_es.schema import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

_INSERT: Final = sql.SQL(
    "INSERT INTO es_outbox (topic, key, value, headers, event_id)"
    " SELECT * FROM unnest(%s::text[], %s::bytea[], %s::bytea[], %s::jsonb[], %s::uuid[])"
)
# The records travel as one JSON document (built by msgspec, parsed once by PostgreSQL), as the
# event store's appends do: adapting five arrays of Python values was a tenth of the ledger's CPU
# per write (#19). Keys and values are UTF-8 (aggregate ids, encoded events); in id order = the
# document's order, which the relay's per-aggregate order rests on.
_INSERT_DOCUMENT: Final = sql.SQL(
    "INSERT INTO es_outbox (topic, key, value, headers, event_id)"
    " SELECT e.topic, convert_to(e.key, 'UTF8'), convert_to(e.value, 'UTF8'), e.headers, e.event_id"
    " FROM ROWS FROM (jsonb_to_recordset(%s::jsonb)"
    " AS (topic text, key text, value text, headers jsonb, event_id uuid)) WITH ORDINALITY AS e"
    " ORDER BY e.ordinality"
)


class _Row(msgspec.Struct, frozen=True):
    topic: str
    key: str | None
    value: str
    headers: dict[str, str]
    event_id: Any


_document = msgspec.json.Encoder()


def _text(raw: bytes) -> str:
    """``raw`` as the text a jsonb string can hold: UTF-8 without NUL (jsonb refuses \u0000)."""
    if b"\x00" in raw:
        raise UnicodeDecodeError("utf-8", raw, raw.index(b"\x00"), raw.index(b"\x00") + 1, "NUL")
    return raw.decode()


_FETCH: Final = sql.SQL("SELECT id, topic, key, value, headers FROM es_outbox ORDER BY id LIMIT %s")
_DELETE: Final = sql.SQL("DELETE FROM es_outbox WHERE id = ANY(%s)")
_BACKLOG: Final = sql.SQL(
    "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) FROM es_outbox"
)
RELAY_LOCK: Final = "blazing_es.outbox_relay"


class OutboxRecord(msgspec.Struct, frozen=True, kw_only=True):
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    event_id: Any = None


def record_of(event: AnyEvent, traceparent: str | None = None) -> OutboxRecord:
    """The Kafka record of a contract event: its topic, key = aggregate id, SPEC §2.1 headers."""
    return OutboxRecord(
        topic=topic_of(event),
        key=event.aggregate_id.encode(),
        value=encode_event(event),
        headers=record_headers(event, traceparent),
        event_id=event.event_id,
    )


_tracer = trace.get_tracer("blazing_es")


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, if any."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(HEADER_TRACEPARENT)


class Outbox:
    """Writes records in the caller's transaction."""

    async def add(self, conn: AsyncConnection[Any], records: Sequence[OutboxRecord]) -> None:
        if not records:
            return
        try:
            rows = [
                _Row(r.topic, None if r.key is None else _text(r.key), _text(r.value), r.headers, r.event_id)
                for r in records
            ]
        except UnicodeDecodeError:  # bytes that are not text (JSON text cannot carry them): arrays of bytea
            pass
        else:
            await conn.execute(_INSERT_DOCUMENT, (_document.encode(rows).decode(),), prepare=True)
            return
        await conn.execute(
            _INSERT,
            (
                [r.topic for r in records],
                [r.key for r in records],
                [r.value for r in records],
                [Jsonb(r.headers) for r in records],
                [r.event_id for r in records],
            ),
            prepare=True,
        )

    async def add_events(
        self, conn: AsyncConnection[Any], events: Sequence[AnyEvent], traceparent: str | None = None
    ) -> None:
        """``traceparent`` defaults to the current span's: the event continues the trace that caused it."""
        await self.add(conn, [record_of(e, traceparent or current_traceparent()) for e in events])


class Producer(Protocol):
    """What the relay needs from a Kafka producer (aiokafka's AIOKafkaProducer fits)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, topic: str, value: bytes, key: bytes | None = None, headers: Any = None) -> Awaitable[Any]: ...


def kafka_producer(bootstrap: str, client_id: str) -> Producer:
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415 - imported where the relay runs

    return AIOKafkaProducer(  # type: ignore[no-any-return]
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=10_000,
        retry_backoff_ms=200,
    )


@dataclass(eq=False)
class OutboxRelay:
    conninfo: str = field(repr=False)  # it may hold a password
    producer_factory: Callable[[], Producer]
    _: KW_ONLY
    service: str
    batch_size: int = 1000
    poll_interval: float = 1.0
    send_timeout: float = 15.0
    is_leader: bool = field(default=False, init=False)
    published: int = field(default=0, init=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)
    _last_gauge: float = field(default=0.0, init=False, repr=False)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        """Runs until stop(): waits for leadership, then publishes; reconnects after failures."""
        backoff = 0.5
        while not self._stop.is_set():
            try:
                await self._lead()
                backoff = 0.5
            except Exception:
                log.exception("outbox relay failed; restarting in %.1fs", backoff)
                self.is_leader = False
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _lead(self) -> None:
        async with await AsyncConnection.connect(self.conninfo, autocommit=True) as listen_conn:
            while not self._stop.is_set():
                row = await (
                    await listen_conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (RELAY_LOCK,))
                ).fetchone()
                if row and row[0]:
                    break
                await self._sleep(self.poll_interval)  # standby
            if self._stop.is_set():
                return
            self.is_leader = True
            log.info("outbox relay of %s is the publisher", self.service)
            await listen_conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(OUTBOX_CHANNEL)))
            async with await AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                await self._publish_loop(listen_conn, conn)

    async def _publish_loop(self, listen_conn: AsyncConnection[Any], conn: AsyncConnection[Any]) -> None:
        producer: Producer | None = None
        backoff = 0.2
        try:
            while not self._stop.is_set():
                await self._update_gauges(conn)
                rows = await (await conn.execute(_FETCH, (self.batch_size,), prepare=True)).fetchall()
                if not rows:
                    await self._wait_for_work(listen_conn)
                    continue
                if producer is None:
                    producer = self.producer_factory()
                    await asyncio.wait_for(producer.start(), self.send_timeout)
                try:
                    await self._send(producer, rows)
                except Exception as exc:
                    # Kafka unreachable or refused: keep the rows, restart the producer, back off.
                    # Told as Kafka's outage (one line for all of it, where the service's logging
                    # collapses outages: blazing_service.dependencies), not one line per retry.
                    log.warning(
                        "outbox relay could not publish %d records: %r", len(rows), exc, extra={"dependency": "kafka"}
                    )
                    metrics.OUTBOX_PUBLISH_FAILURES.labels(self.service).inc()
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(producer.stop(), 5)
                    producer = None
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                backoff = 0.2
                await conn.execute(_DELETE, ([r[0] for r in rows],), prepare=True)
                self.published += len(rows)
                metrics.OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        finally:
            self.is_leader = False
            if producer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(producer.stop(), 5)

    async def _send(self, producer: Producer, rows: list[tuple[Any, ...]]) -> None:
        futures = []
        # a publish span per record only when a tracer provider is installed (no-op work otherwise)
        traced = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        for _id, topic, key, value, stored in rows:
            headers = stored
            if traced and HEADER_TRACEPARENT in stored:  # a publish span in the event's trace
                parent = propagate.extract({HEADER_TRACEPARENT: stored[HEADER_TRACEPARENT]})
                with _tracer.start_as_current_span(f"{topic} publish", context=parent, kind=SpanKind.PRODUCER):
                    headers = {**stored, HEADER_TRACEPARENT: current_traceparent() or stored[HEADER_TRACEPARENT]}
            futures.append(
                await producer.send(
                    topic,
                    value=bytes(value),
                    key=bytes(key) if key is not None else None,
                    headers=[(k, v.encode()) for k, v in headers.items()],
                )
            )
        await asyncio.wait_for(asyncio.gather(*futures), self.send_timeout)

    async def _wait_for_work(self, listen_conn: AsyncConnection[Any]) -> None:
        gen = listen_conn.notifies(timeout=self.poll_interval, stop_after=1)
        async for _ in gen:
            break

    async def _update_gauges(self, conn: AsyncConnection[Any]) -> None:
        now = time.monotonic()
        if now - self._last_gauge < 1.0:
            return
        self._last_gauge = now
        row = await (await conn.execute(_BACKLOG)).fetchone()
        if row:
            metrics.OUTBOX_BACKLOG.labels(self.service).set(row[0])
            metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(float(row[1]))

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


async def backlog(conn: AsyncConnection[Any]) -> tuple[int, float]:
    """Unpublished records and the age in seconds of the oldest one."""
    row = await (await conn.execute(_BACKLOG)).fetchone()
    assert row is not None
    return int(row[0]), float(row[1])
