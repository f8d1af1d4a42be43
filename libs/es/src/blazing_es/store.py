"""The event store on psycopg 3.

Appends happen inside the caller's transaction, so a use case's other writes (read models, the
outbox, the inbox) commit or roll back with its events.

**Why a tailing reader never skips an event.** Positions come from a sequence, so they are handed
out at insert time, not at commit time: a transaction holding position 10 open while position 11
commits would let a naive ``WHERE position > last`` reader pass 10 for ever. Every row therefore
records the id of the transaction that wrote it (``tx_id``, a ``xid8``) and readers tail in
``(tx_id, position)`` order, only up to ``pg_snapshot_xmin(pg_current_snapshot())`` — the oldest
transaction still in progress. Everything below that horizon has finished, so no event can ever
appear behind a reader's checkpoint. Appends to different streams never wait for each other.

Within one stream, ``(tx_id, position)`` order equals version order because an append refuses to
build on an event written by a transaction that started writing after the appending one
(``head.tx_id <= pg_current_xact_id()``): such a caller gets a ConcurrencyError and retries in a
new transaction, whose id is then the larger one.

The cost: a transaction left open anywhere in the cluster holds tailing readers back (they wait,
they never skip). The outbox relay does not tail (it deletes what it published) and is not held.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import msgspec
from psycopg import AsyncConnection, errors, sql

from blazing_es.errors import ConcurrencyError
from blazing_es.events import Checkpoint, NewEvent, Snapshot, StoredEvent

JsonDict = dict[str, Any]


_COLUMNS: Final = (
    "position, tx_id::text::bigint, stream_id, version, aggregate_type, event_id, event_type,"
    " schema_version, data::text, metadata, occurred_at"
)

# The batch travels as one JSON document (built by msgspec, parsed once by PostgreSQL): far cheaper
# than adapting six arrays of Python values, and each event's data stays JSON without re-encoding.
_APPEND: Final = sql.SQL(
    """
    WITH head AS (
        SELECT version, tx_id FROM es_events WHERE stream_id = %(stream)s
        ORDER BY version DESC LIMIT 1
    )
    INSERT INTO es_events (tx_id, stream_id, version, aggregate_type, event_id, event_type,
                           schema_version, data, metadata, occurred_at)
    SELECT pg_current_xact_id(), %(stream)s, %(expected)s + e.n, %(aggregate_type)s, e.event_id,
           e.event_type, e.schema_version, e.data, coalesce(e.metadata, '{}'), e.occurred_at
    FROM ROWS FROM (jsonb_to_recordset(%(batch)s::jsonb)
                    AS (event_id uuid, event_type text, schema_version int, data jsonb,
                        metadata jsonb, occurred_at timestamptz))
         WITH ORDINALITY AS e(event_id, event_type, schema_version, data, metadata, occurred_at, n)
    WHERE coalesce((SELECT version FROM head), 0) = %(expected)s
      AND coalesce((SELECT tx_id FROM head) <= pg_current_xact_id(), true)
    RETURNING version
    """
)


class _Row(msgspec.Struct, frozen=True, omit_defaults=True):
    event_id: UUID
    event_type: str
    schema_version: int
    data: msgspec.Raw
    occurred_at: datetime
    metadata: JsonDict | None = None


_READ_STREAM: Final = sql.SQL(
    "SELECT " + _COLUMNS + " FROM es_events WHERE stream_id = %s AND version > %s ORDER BY version"  # noqa: S608 - constant columns
)

_STREAM_VERSION: Final = sql.SQL("SELECT coalesce(max(version), 0) FROM es_events WHERE stream_id = %s")

_READ_ALL: Final = sql.SQL(
    "SELECT " + _COLUMNS + " FROM es_events"  # noqa: S608 - constant columns
    " WHERE (tx_id, position) > (%s::text::xid8, %s)"
    "   AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    " ORDER BY tx_id, position LIMIT %s"
)

_WRITE_SNAPSHOT: Final = sql.SQL(
    """
    INSERT INTO es_snapshots (stream_id, version, state_type, state) VALUES (%s, %s, %s, %s::jsonb)
    ON CONFLICT (stream_id) DO UPDATE
       SET version = excluded.version, state_type = excluded.state_type, state = excluded.state,
           taken_at = now()
     WHERE es_snapshots.version < excluded.version
    """
)

_READ_SNAPSHOT: Final = sql.SQL(
    "SELECT stream_id, version, state_type, state::text FROM es_snapshots WHERE stream_id = %s"
)

_encoder = msgspec.json.Encoder()


def _stored(row: tuple[Any, ...]) -> StoredEvent:
    return StoredEvent(
        position=row[0],
        tx_id=row[1],
        stream_id=row[2],
        version=row[3],
        aggregate_type=row[4],
        event_id=row[5],
        event_type=row[6],
        schema_version=row[7],
        data=row[8].encode(),
        metadata=row[9],
        occurred_at=row[10],
    )


class EventStore:
    """Stateless: every call takes the connection (and so the transaction) to work in."""

    async def append(
        self,
        conn: AsyncConnection[Any],
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        aggregate_type: str,
    ) -> int:
        """Appends ``events`` after ``expected_version`` (0 for a new stream); returns the new
        version. Raises ConcurrencyError, writing nothing, when the stream moved on. The caller
        owns the transaction and must roll it back after an error."""
        if not events:
            return expected_version
        batch = _encoder.encode(
            [
                _Row(
                    e.event_id,
                    e.event_type,
                    e.schema_version,
                    msgspec.Raw(e.data),
                    e.occurred_at,
                    e.metadata or None,
                )
                for e in events
            ]
        )
        params = {
            "stream": stream_id,
            "expected": expected_version,
            "aggregate_type": aggregate_type,
            "batch": batch.decode(),
        }
        try:
            cursor = await conn.execute(_APPEND, params, prepare=True)
        except errors.UniqueViolation as exc:
            # A concurrent append of the same version committed first (or an event id repeats).
            raise ConcurrencyError(stream_id, expected_version, exc.diag.constraint_name or "") from exc
        if cursor.rowcount != len(events):
            raise ConcurrencyError(stream_id, expected_version)
        return expected_version + len(events)

    async def read_stream(
        self, conn: AsyncConnection[Any], stream_id: str, after_version: int = 0
    ) -> list[StoredEvent]:
        cursor = await conn.execute(_READ_STREAM, (stream_id, after_version), prepare=True)
        return [_stored(row) for row in await cursor.fetchall()]

    async def stream_version(self, conn: AsyncConnection[Any], stream_id: str) -> int:
        cursor = await conn.execute(_STREAM_VERSION, (stream_id,), prepare=True)
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def read_all(
        self, conn: AsyncConnection[Any], after: Checkpoint = Checkpoint(), limit: int = 1000
    ) -> list[StoredEvent]:
        """Events of every stream after ``after`` in the safe global order (see module doc)."""
        cursor = await conn.execute(_READ_ALL, (after.tx_id, after.position, limit), prepare=True)
        return [_stored(row) for row in await cursor.fetchall()]

    async def write_snapshot(self, conn: AsyncConnection[Any], snapshot: Snapshot) -> None:
        await conn.execute(
            _WRITE_SNAPSHOT,
            (snapshot.stream_id, snapshot.version, snapshot.state_type, snapshot.state.decode()),
        )

    async def read_snapshot(self, conn: AsyncConnection[Any], stream_id: str) -> Snapshot | None:
        row = await (await conn.execute(_READ_SNAPSHOT, (stream_id,))).fetchone()
        if row is None:
            return None
        return Snapshot(stream_id=row[0], version=row[1], state_type=row[2], state=row[3].encode())

    async def load(self, conn: AsyncConnection[Any], stream_id: str) -> tuple[Snapshot | None, list[StoredEvent]]:
        """The latest snapshot (if any) and the events after it."""
        snapshot = await self.read_snapshot(conn, stream_id)
        events = await self.read_stream(conn, stream_id, snapshot.version if snapshot else 0)
        return snapshot, events


def checkpoint_of(event: StoredEvent) -> Checkpoint:
    return Checkpoint(event.tx_id, event.position)


__all__ = [
    "Checkpoint",
    "ConcurrencyError",
    "EventStore",
    "NewEvent",
    "Snapshot",
    "StoredEvent",
    "checkpoint_of",
]
