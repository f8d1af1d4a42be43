"""The ops database on PostgreSQL: its unit of work (dead letters and their history, replay jobs,
the audit log and the operators on one connection, one transaction) and the reads the API and the
console show."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from blazing_es.postgres import PostgresUnitOfWork
from ops.adapters.rows import INSERTED, JOB, LISTED, listed, new_row, replayable_of
from ops.application.ports import AuditLog, DeadLetters, People, ReplayJobs, Row
from ops.domain.audit import Actor
from ops.domain.dead_letters import ERASED_PAYLOAD, ERASED_TEXT, REPLAYABLE, STATUSES, DeadLetter, Filter, mask_text
from ops.domain.replays import Cursor, Job, JobStatus, Replayable

_COLUMNS: Final = (
    ("original_topic", "topic"),
    ("event_type", "event_type"),
    ("consumer_group", "consumer_group"),
    ("service", "service"),
    ("aggregate_id", "aggregate_id"),
    ("fingerprint", "fingerprint"),
    ("status", "status"),
    ("source", "source"),
)


def where(f: Filter, *, replayable: bool = False) -> tuple[str, list[Any]]:
    """SQL conditions (parameterised; the clauses are constants) for a filter; ``replayable`` keeps
    only what may still be replayed or discarded (REPLAYABLE statuses)."""
    clauses: list[str] = []
    params: list[Any] = []
    if replayable:
        clauses.append("status = ANY(%s)")
        params.append(list(REPLAYABLE))
    for column, name in _COLUMNS:
        if value := getattr(f, name):
            clauses.append(f"{column} = %s")
            params.append(value)
    if f.error:
        clauses.append("(error_message ILIKE %s OR error_type ILIKE %s)")
        like = "%" + f.error.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [like, like]
    if f.since:
        clauses.append("last_failure_at >= %s")
        params.append(f.since)
    if f.until:
        clauses.append("last_failure_at < %s")
        params.append(f.until)
    if f.ids is not None:
        clauses.append("dead_letter_id = ANY(%s)")
        params.append(f.ids)
    return (" AND ".join(clauses) or "true"), params


class PostgresOpsUnitOfWork(PostgresUnitOfWork):
    def bind(self, conn: AsyncConnection[Any]) -> None:
        self.dead_letters: DeadLetters = PostgresDeadLetters(conn)
        self.jobs: ReplayJobs = PostgresReplayJobs(conn)
        self.audit: AuditLog = PostgresAuditLog(conn)
        self.people: People = PostgresPeople(conn)


async def _count(conn: AsyncConnection[Any], f: Filter, *, replayable: bool) -> int:
    condition, params = where(f, replayable=replayable)
    query = f"SELECT count(*) FROM dead_letters WHERE {condition}"  # noqa: S608 - where() is parameterised
    row = await (await conn.execute(query, params)).fetchone()
    return int(row[0]) if row else 0


_INSERT: Final = """
INSERT INTO dead_letters (dead_letter_id, source, original_topic, partition, "offset", consumer_group,
    service, key, value, headers, event_id, event_type, aggregate_id, error_type, error_message,
    traceback, poison, attempts, first_failure_at, last_failure_at, fingerprint, replay_count)
SELECT * FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::int[], %s::bigint[], %s::text[],
    %s::text[], %s::bytea[], %s::bytea[], %s::jsonb[], %s::uuid[], %s::text[], %s::text[],
    %s::text[], %s::text[], %s::text[], %s::bool[], %s::int[], %s::timestamptz[],
    %s::timestamptz[], %s::text[], %s::int[])
ON CONFLICT (dead_letter_id) DO NOTHING
RETURNING dead_letter_id
"""
"""One array of each of rows.INSERTED's columns, in its order."""
_HISTORY: Final = (
    "INSERT INTO dead_letter_history (dead_letter_id, action, actor, detail)"
    " SELECT unnest(%s::uuid[]), %s::text, %s::text, %s::text"
)


_ERASE: Final = """
UPDATE dead_letters
   SET value = %(erased)s, key = NULL, headers = '[]', error_message = %(text)s, traceback = NULL,
       status = CASE WHEN status = ANY(%(replayable)s) THEN 'discarded' ELSE status END
 WHERE value <> %(erased)s
   AND (aggregate_id = %(user)s::text
        OR (source = 'rabbitmq' AND (position(convert_to(%(user)s::text, 'UTF8') IN value) > 0
            OR position(convert_to(%(email)s::text, 'UTF8') IN value) > 0
            OR position(convert_to(lower(%(email)s::text), 'UTF8') IN value) > 0)))
RETURNING dead_letter_id
"""
"""ops.domain.dead_letters.holds_user, in SQL (an unknown address is NULL: it matches nothing)."""
_KEEP_PERSON: Final = (
    "INSERT INTO people (user_id, email) VALUES (%s, %s) ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email"
)
_FORGET_PERSON: Final = "DELETE FROM people WHERE user_id = %s RETURNING email"


@dataclass(eq=False)
class PostgresPeople:
    conn: AsyncConnection[Any]

    async def keep(self, user_id: uuid.UUID, email: str) -> None:
        await self.conn.execute(_KEEP_PERSON, (user_id, email))

    async def forget(self, user_id: uuid.UUID) -> str | None:
        row = await (await self.conn.execute(_FORGET_PERSON, (user_id,))).fetchone()
        return str(row[0]) if row else None


@dataclass(eq=False)
class PostgresDeadLetters:
    conn: AsyncConnection[Any]

    async def add(self, items: Sequence[DeadLetter]) -> int:
        rows = [new_row(i) for i in items]
        for row in rows:
            row["headers"] = Jsonb(row["headers"])  # an element of jsonb[] must be marked as JSON
        cursor = await self.conn.execute(_INSERT, [[row[column] for row in rows] for column in INSERTED])
        new = [row[0] for row in await cursor.fetchall()]
        if new:
            await self.conn.execute(_HISTORY, (new, "received", "system", None))
        return len(new)

    async def count(self, f: Filter, *, replayable: bool = False) -> int:
        return await _count(self.conn, f, replayable=replayable)

    async def discard(self, f: Filter, actor: str) -> int:
        condition, params = where(f, replayable=True)
        cursor = await self.conn.execute(
            f"UPDATE dead_letters SET status = 'discarded' WHERE {condition} RETURNING dead_letter_id",  # noqa: S608
            params,
        )
        ids = [row[0] for row in await cursor.fetchall()]
        await self.conn.execute(_HISTORY, (ids, "discarded", actor, None))
        return len(ids)

    async def erase(self, user_id: uuid.UUID, email: str | None) -> int:
        params = {
            "erased": ERASED_PAYLOAD,
            "text": ERASED_TEXT,
            "replayable": list(REPLAYABLE),
            "user": str(user_id),
            "email": email or None,  # an empty text is in every payload: it names no one
        }
        ids = [row[0] for row in await (await self.conn.execute(_ERASE, params)).fetchall()]
        if ids:
            await self.conn.execute(_HISTORY, (ids, "erased", "user.deleted", None))
        return len(ids)

    async def batch(
        self, f: Filter, horizon: datetime, after: Cursor | None, limit: int
    ) -> tuple[list[Replayable], Cursor | None]:
        condition, params = where(f, replayable=True)
        later = "(received_at, dead_letter_id) > (%s, %s)" if after else "true"
        query = (
            "SELECT dead_letter_id, source, original_topic, key, value, headers, replay_count, received_at"  # noqa: S608
            f" FROM dead_letters WHERE {condition}"
            f" AND received_at <= %s AND {later} ORDER BY received_at, dead_letter_id LIMIT %s"
        )
        cur = self.conn.cursor(row_factory=dict_row)
        await cur.execute(query, [*params, horizon, *(after or ()), limit])
        rows = await cur.fetchall()
        position = (rows[-1]["received_at"], rows[-1]["dead_letter_id"]) if rows else None
        return [replayable_of(r) for r in rows], position

    async def replayed(self, ids: Sequence[uuid.UUID], job_id: uuid.UUID) -> None:
        if ids:
            await self.conn.execute(
                "UPDATE dead_letters SET status = 'replayed', replay_count = replay_count + 1,"
                " last_replayed_at = now() WHERE dead_letter_id = ANY(%s)",
                (list(ids),),
            )
            await self.conn.execute(_HISTORY, (list(ids), "replayed", "replay job", str(job_id)))

    async def quarantined(self, ids: Sequence[uuid.UUID], job_id: uuid.UUID) -> None:
        if ids:
            await self.conn.execute(
                "UPDATE dead_letters SET status = 'quarantined' WHERE dead_letter_id = ANY(%s)", (list(ids),)
            )
            await self.conn.execute(_HISTORY, (list(ids), "quarantined", "replay job", str(job_id)))


@dataclass(eq=False)
class PostgresReplayJobs:
    conn: AsyncConnection[Any]

    async def add(self, job_id: uuid.UUID, selector: Filter, rate_per_s: int, total: int, created_by: str) -> None:
        await self.conn.execute(
            "INSERT INTO replay_jobs (job_id, selector, rate_per_s, status, total, created_by)"
            " VALUES (%s, %s, %s, 'queued', %s, %s)",
            (job_id, Jsonb(msgspec.to_builtins(selector)), rate_per_s, total, created_by),
        )

    async def status(self, job_id: uuid.UUID) -> tuple[str, int] | None:
        row = await (
            await self.conn.execute(
                "SELECT status, total - replayed - quarantined FROM replay_jobs WHERE job_id = %s FOR UPDATE",
                (job_id,),
            )
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    async def move(self, job_id: uuid.UUID, status: JobStatus) -> None:
        await self.conn.execute(
            "UPDATE replay_jobs SET status = %s, error = NULL, updated_at = now(),"
            " finished_at = CASE WHEN %s = 'cancelled' THEN now() ELSE NULL END WHERE job_id = %s",
            (status, status, job_id),
        )

    async def claim(self) -> Job | None:
        cur = self.conn.cursor(row_factory=dict_row)
        await cur.execute(
            """
            UPDATE replay_jobs SET status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
             WHERE job_id = (SELECT job_id FROM replay_jobs WHERE status = 'queued'
                              ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING job_id, selector, rate_per_s, created_at, cursor_at, cursor_id
            """
        )
        row = await cur.fetchone()
        if row is None:
            return None
        return Job(
            job_id=row["job_id"],
            selector=msgspec.convert(row["selector"], Filter),
            rate_per_s=row["rate_per_s"],
            created_at=row["created_at"],
            cursor=(row["cursor_at"], row["cursor_id"]) if row["cursor_at"] is not None else None,
        )

    async def requeue_running(self) -> int:
        cursor = await self.conn.execute("UPDATE replay_jobs SET status = 'queued' WHERE status = 'running'")
        return cursor.rowcount

    async def progress(self, job_id: uuid.UUID, replayed: int, quarantined: int, cursor: Cursor) -> None:
        await self.conn.execute(
            "UPDATE replay_jobs SET replayed = replayed + %s, quarantined = quarantined + %s,"
            " cursor_at = %s, cursor_id = %s, updated_at = now() WHERE job_id = %s",
            (replayed, quarantined, cursor[0], cursor[1], job_id),
        )

    async def finish(self, job_id: uuid.UUID, status: JobStatus, error: str | None = None) -> None:
        await self.conn.execute(
            "UPDATE replay_jobs SET status = %s, error = %s, finished_at = now(), updated_at = now()"
            " WHERE job_id = %s AND status = 'running'",
            (status, error, job_id),
        )

    async def current(self, job_id: uuid.UUID) -> str | None:
        row = await (await self.conn.execute("SELECT status FROM replay_jobs WHERE job_id = %s", (job_id,))).fetchone()
        return str(row[0]) if row else None


@dataclass(eq=False)
class PostgresAuditLog:
    conn: AsyncConnection[Any]

    async def append(self, actor: Actor, action: str, target: dict[str, Any], count: int = 0) -> None:
        await self.conn.execute(
            "INSERT INTO audit_log (actor_id, actor, action, target, count) VALUES (%s, %s, %s, %s, %s)",
            (actor.user_id, actor.name, action, Jsonb(target), count),
        )

    async def operator(self, user_id: uuid.UUID, email: str) -> None:
        await self.conn.execute(
            "INSERT INTO operators (user_id, email) VALUES (%s, %s)"
            " ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, last_sign_in = now()",
            (user_id, email),
        )


_LIST_COLUMNS: Final = ", ".join((*LISTED, "value"))
_JOB_COLUMNS: Final = ", ".join(JOB)
_GROUPS: Final = """
SELECT fingerprint, min(event_type) AS event_type, min(consumer_group) AS consumer_group,
       min(error_type) AS error_type, min(service) AS service, min(source) AS source,
       count(*) AS total, count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'quarantined') AS quarantined,
       min(last_failure_at) AS first_seen, max(last_failure_at) AS last_seen,
       (array_agg(error_message ORDER BY last_failure_at DESC))[1] AS sample_error
  FROM dead_letters WHERE {}
 GROUP BY fingerprint ORDER BY count(*) DESC, fingerprint LIMIT 200
"""


@dataclass(eq=False)
class PostgresOpsReads:
    pool: AsyncConnectionPool

    async def dead_letters(self, f: Filter, limit: int, offset: int) -> tuple[list[Row], int]:
        condition, params = where(f)
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT {_LIST_COLUMNS} FROM dead_letters WHERE {condition}"  # noqa: S608 - where() is parameterised
                " ORDER BY received_at DESC, dead_letter_id LIMIT %s OFFSET %s",
                [*params, limit, offset],
            )
            rows = await cur.fetchall()
            total = await _count(conn, f, replayable=False)
        return [listed(row) for row in rows], total

    async def count(self, f: Filter, *, replayable: bool = False) -> int:
        async with self.pool.connection() as conn:
            return await _count(conn, f, replayable=replayable)

    async def groups(self, f: Filter) -> list[Row]:
        condition, params = where(f)
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(_GROUPS.format(condition), params)
            groups = await cur.fetchall()
        for group in groups:
            group["sample_error"] = mask_text(group["sample_error"] or "")
        return groups

    async def dead_letter(self, dead_letter_id: uuid.UUID) -> tuple[Row, list[Row]] | None:
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

    async def jobs(self, limit: int) -> list[Row]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT {_JOB_COLUMNS} FROM replay_jobs ORDER BY created_at DESC LIMIT %s",  # noqa: S608
                (limit,),
            )
            return await cur.fetchall()

    async def job(self, job_id: uuid.UUID) -> Row | None:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {_JOB_COLUMNS} FROM replay_jobs WHERE job_id = %s", (job_id,))  # noqa: S608
            return await cur.fetchone()

    async def audit(self, limit: int, offset: int, action: str | None) -> list[Row]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                "SELECT a.id, a.at, a.actor_id, coalesce(o.email, a.actor) AS actor, a.action, a.target, a.count"
                " FROM audit_log a LEFT JOIN operators o ON o.user_id = a.actor_id"
                " WHERE (%s::text IS NULL OR a.action = %s) ORDER BY a.id DESC LIMIT %s OFFSET %s",
                (action, action, limit, offset),
            )
            return await cur.fetchall()

    async def stored(self) -> tuple[dict[str, int], float]:
        async with self.pool.connection() as conn:
            rows = await (await conn.execute("SELECT status, count(*) FROM dead_letters GROUP BY status")).fetchall()
            row = await (
                await conn.execute(
                    "SELECT coalesce(extract(epoch FROM now() - min(received_at)), 0)"
                    " FROM dead_letters WHERE status = 'pending'"
                )
            ).fetchone()
        counts = dict.fromkeys(STATUSES, 0) | {str(r[0]): int(r[1]) for r in rows}
        return counts, float(row[0]) if row else 0.0
