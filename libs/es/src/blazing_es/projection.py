"""Projections: read models fed from the event store, exactly once, and rebuildable.

A runner tails ``es_events`` in the store's safe order and applies each event to its read model in
the same transaction that moves its checkpoint, so a crash can neither skip nor repeat an event.
``rebuild`` empties the read model and replays the whole store in one transaction: readers see the
old model until the new one is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final, Protocol

from psycopg import AsyncConnection, sql

from blazing_es.store import Checkpoint, EventStore, StoredEvent, checkpoint_of

_LOCK: Final = sql.SQL("SELECT pg_advisory_xact_lock(hashtext('blazing_es.projection:' || %s))")
_READ: Final = sql.SQL("SELECT tx_id::text::bigint, position FROM es_checkpoints WHERE name = %s")
_WRITE: Final = sql.SQL(
    "INSERT INTO es_checkpoints (name, tx_id, position) VALUES (%s, %s::text::xid8, %s)"
    " ON CONFLICT (name) DO UPDATE SET tx_id = excluded.tx_id, position = excluded.position,"
    " updated_at = now()"
)


class Projection(Protocol):
    name: str

    async def apply(self, conn: AsyncConnection[Any], event: StoredEvent) -> None: ...

    async def reset(self, conn: AsyncConnection[Any]) -> None:
        """Empties the read model (before a rebuild)."""


class ProjectionRunner:
    def __init__(
        self, conninfo: str, projection: Projection, store: EventStore | None = None, batch_size: int = 500
    ) -> None:
        self._conninfo = conninfo
        self._projection = projection
        self._store = store or EventStore()
        self._batch_size = batch_size
        self._stop = asyncio.Event()

    async def checkpoint(self, conn: AsyncConnection[Any]) -> Checkpoint:
        row = await (await conn.execute(_READ, (self._projection.name,))).fetchone()
        return Checkpoint(row[0], row[1]) if row else Checkpoint()

    async def catch_up(self, conn: AsyncConnection[Any]) -> int:
        """Applies everything available now; returns how many events were applied."""
        total = 0
        while True:
            async with conn.transaction():
                await conn.execute(_LOCK, (self._projection.name,))
                applied = await self._step(conn)
            total += applied
            if applied < self._batch_size:
                return total

    async def _step(self, conn: AsyncConnection[Any]) -> int:
        events = await self._store.read_all(conn, await self.checkpoint(conn), self._batch_size)
        for event in events:
            await self._projection.apply(conn, event)
        if events:
            last = checkpoint_of(events[-1])
            await conn.execute(_WRITE, (self._projection.name, last.tx_id, last.position))
        return len(events)

    async def rebuild(self, conn: AsyncConnection[Any]) -> int:
        """Empties the read model and replays every event, atomically."""
        total = 0
        async with conn.transaction():
            await conn.execute(_LOCK, (self._projection.name,))
            await self._projection.reset(conn)
            await conn.execute(_WRITE, (self._projection.name, 0, 0))
            while (applied := await self._step(conn)) > 0:
                total += applied
        return total

    def stop(self) -> None:
        self._stop.set()

    async def run(self, poll_interval: float = 0.2) -> None:
        async with await AsyncConnection.connect(self._conninfo) as conn:
            while not self._stop.is_set():
                if await self.catch_up(conn) == 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), poll_interval)
