"""The ops database: dead letters (ingest, list, groups, one with its history, discard) and the
append-only audit log."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from typing import Any

import msgspec
from prometheus_client import Gauge
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from blazing_contracts.topology import HEADER_REPLAY_COUNT
from ops.domain.dead_letters import STATUSES, DeadLetter, Filter, encode_headers, mask_text, preview


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who did something: the admin's id and e-mail (or a system part, without an id)."""

    name: str
    user_id: uuid.UUID | None = None


SYSTEM = Actor(name="system")

_LIST_COLUMNS = (
    "dead_letter_id, source, original_topic, consumer_group, service, event_type, aggregate_id, error_type,"
    " error_message, attempts, poison, fingerprint, status, replay_count, received_at, last_failure_at, value"
)


def _inherited_replays(item: DeadLetter) -> int:
    """A replayed record that failed again arrives as a new dead letter carrying the replay count
    header: it keeps counting towards quarantine instead of starting over."""
    for name, value in item.headers:
        if name in (HEADER_REPLAY_COUNT, f"x-{HEADER_REPLAY_COUNT}"):  # Kafka, RabbitMQ
            try:
                return max(0, int(value.decode()))
            except ValueError:
                return 0
    return 0


STORED = Gauge("ops_dead_letters", "Dead letters held by the ops service, by status", ["status"])
OLDEST_PENDING = Gauge("ops_dead_letters_oldest_pending_age_seconds", "Age of the oldest pending dead letter")


class DeadLetterStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def watch(self, stop: asyncio.Event, interval: float = 5.0) -> None:
        """Keeps the stored-dead-letter gauges current."""
        while not stop.is_set():
            with contextlib.suppress(Exception):
                async with self.pool.connection() as conn:
                    rows = await (
                        await conn.execute("SELECT status, count(*) FROM dead_letters GROUP BY status")
                    ).fetchall()
                    counts = dict.fromkeys(STATUSES, 0) | {r[0]: r[1] for r in rows}
                    for status, n in counts.items():
                        STORED.labels(status).set(n)
                    row = await (
                        await conn.execute(
                            "SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0)"
                            " FROM dead_letters WHERE status = 'pending'"
                        )
                    ).fetchone()
                    OLDEST_PENDING.set(float(row[0]) if row else 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def ingest(self, items: Sequence[DeadLetter]) -> int:
        """Stores new dead letters (one already stored is skipped); returns how many were new."""
        if not items:
            return 0
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                """
                INSERT INTO dead_letters (dead_letter_id, source, original_topic, partition, "offset", key, value,
                    headers, consumer_group, service, error_type, error_message, traceback, attempts, poison,
                    event_id, event_type, aggregate_id, fingerprint, first_failure_at, last_failure_at,
                    replay_count)
                SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::int[], %s::bigint[], %s::bytea[],
                    %s::bytea[], %s::jsonb[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[],
                    %s::int[], %s::bool[], %s::uuid[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
                    %s::timestamptz[], %s::int[])
                ON CONFLICT (dead_letter_id) DO NOTHING
                RETURNING dead_letter_id
                """,
                (
                    [i.dead_letter_id for i in items],
                    [i.source for i in items],
                    [i.original_topic for i in items],
                    [i.partition for i in items],
                    [i.offset for i in items],
                    [i.key for i in items],
                    [i.value for i in items],
                    [Jsonb(encode_headers(i.headers)) for i in items],
                    [i.consumer_group for i in items],
                    [i.service for i in items],
                    [i.error_type for i in items],
                    [i.error_message.replace("\x00", "") for i in items],
                    [i.traceback.replace("\x00", "") if i.traceback else None for i in items],
                    [i.attempts for i in items],
                    [i.poison for i in items],
                    [i.event_id for i in items],
                    [i.event_type for i in items],
                    [i.aggregate_id for i in items],
                    [i.fingerprint for i in items],
                    [i.first_failure_at for i in items],
                    [i.last_failure_at for i in items],
                    [_inherited_replays(i) for i in items],
                ),
            )
            new = [row[0] for row in await cursor.fetchall()]
            if new:
                await conn.execute(
                    "INSERT INTO dead_letter_history (dead_letter_id, action, actor)"
                    " SELECT unnest(%s::uuid[]), 'received', 'system'",
                    (new,),
                )
            return len(new)

    async def page(self, f: Filter, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Newest first, each with a masked one-line preview of its payload instead of the payload."""
        where, params = f.where()
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT {_LIST_COLUMNS} FROM dead_letters WHERE {where}"  # noqa: S608 - where() is parameterised
                " ORDER BY received_at DESC, dead_letter_id LIMIT %s OFFSET %s",
                [*params, limit, offset],
            )
            rows = await cur.fetchall()
            total = await self.count(f, conn)
        for row in rows:
            row["preview"] = preview(bytes(row.pop("value")))
            row["error_message"] = mask_text(row["error_message"])
        return rows, total

    async def count(self, f: Filter, conn: AsyncConnection[Any] | None = None, *, replayable: bool = False) -> int:
        where, params = f.where(replayable=replayable)
        sql = f"SELECT count(*) FROM dead_letters WHERE {where}"  # noqa: S608 - where() is parameterised
        if conn is not None:
            row = await (await conn.execute(sql, params)).fetchone()
        else:
            async with self.pool.connection() as c:
                row = await (await c.execute(sql, params)).fetchone()
        return int(row[0]) if row else 0

    async def groups(self, f: Filter) -> list[dict[str, Any]]:
        """Counts by failure fingerprint (event type + consumer + error type), biggest first."""
        where, params = f.where()
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"""
                SELECT fingerprint, min(event_type) AS event_type, min(consumer_group) AS consumer_group,
                       min(error_type) AS error_type, min(service) AS service, min(source) AS source,
                       count(*) AS total, count(*) FILTER (WHERE status = 'pending') AS pending,
                       count(*) FILTER (WHERE status = 'quarantined') AS quarantined,
                       min(last_failure_at) AS first_seen, max(last_failure_at) AS last_seen,
                       (array_agg(error_message ORDER BY last_failure_at DESC))[1] AS sample_error
                  FROM dead_letters WHERE {where}
                 GROUP BY fingerprint ORDER BY count(*) DESC, fingerprint LIMIT 200
                """,  # noqa: S608 - where() is parameterised
                params,
            )
            groups = await cur.fetchall()
        for group in groups:
            group["sample_error"] = mask_text(group["sample_error"] or "")
        return groups

    async def get(self, dead_letter_id: uuid.UUID) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute("SELECT * FROM dead_letters WHERE dead_letter_id = %s", (dead_letter_id,))
            row = await cur.fetchone()
            if row is None:
                return None
            await cur.execute(
                "SELECT at, action, actor, detail FROM dead_letter_history WHERE dead_letter_id = %s ORDER BY id",
                (dead_letter_id,),
            )
            return row, await cur.fetchall()

    async def discard(self, f: Filter, actor: Actor) -> int:
        """Marks what matches (and is not discarded or quarantined yet) as discarded."""
        where, params = f.where(replayable=True)
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                f"UPDATE dead_letters SET status = 'discarded' WHERE {where} RETURNING dead_letter_id",  # noqa: S608
                params,
            )
            ids = [row[0] for row in await cursor.fetchall()]
            await conn.execute(
                "INSERT INTO dead_letter_history (dead_letter_id, action, actor)"
                " SELECT unnest(%s::uuid[]), 'discarded', %s",
                (ids, actor.name),
            )
            await audit(conn, actor, "discard", {"filter": msgspec.to_builtins(f)}, len(ids))
            return len(ids)


async def audit(conn: AsyncConnection[Any], actor: Actor, action: str, target: dict[str, Any], count: int) -> None:
    """Appends to the audit log in the caller's transaction (the table refuses updates and deletes)."""
    await conn.execute(
        "INSERT INTO audit_log (actor_id, actor, action, target, count) VALUES (%s, %s, %s, %s, %s)",
        (actor.user_id, actor.name, action, Jsonb(target), count),
    )


class AuditLog:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool

    async def append(self, actor: Actor, action: str, target: dict[str, Any], count: int = 0) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await audit(conn, actor, action, target, count)

    async def page(self, limit: int = 100, offset: int = 0, action: str | None = None) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT a.id, a.at, a.actor_id, coalesce(o.email, a.actor) AS actor, a.action, a.target, a.count"
                " FROM audit_log a LEFT JOIN operators o ON o.user_id = a.actor_id"
                " WHERE (%s::text IS NULL OR a.action = %s) ORDER BY a.id DESC LIMIT %s OFFSET %s",
                (action, action, limit, offset),
            )
            return await cur.fetchall()

    async def signed_in(self, user_id: uuid.UUID, email: str) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO operators (user_id, email) VALUES (%s, %s)"
                " ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, last_sign_in = now()",
                (user_id, email),
            )
            await audit(conn, Actor(user_id=user_id, name=email), "signed_in", {}, 0)


__all__ = ["SYSTEM", "Actor", "AuditLog", "DeadLetterStore", "audit"]
