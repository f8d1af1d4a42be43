"""Replay jobs: a selection, a group or everything matching a filter, sent back where it came from
in the background — at a rate limit, with progress, cancellable and resumable.

A job replays what matched when it was created (``received_at <= created_at``) in
``(received_at, dead_letter_id)`` order and keeps its place in ``cursor_*`` after every batch, so a
cancelled, failed or interrupted job resumes where it stopped. An item already replayed
``max_replays`` times is quarantined instead of being sent again (no endless loops).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from ops.application.store import Actor, audit
from ops.domain.dead_letters import Filter, decode_headers

log = logging.getLogger(__name__)


class Replayable(msgspec.Struct, frozen=True, kw_only=True):
    dead_letter_id: uuid.UUID
    source: str
    original_topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    replay_count: int


class Publisher(Protocol):
    """Sends a batch back to its origin; returns once the broker has taken all of it (raises if not)."""

    async def publish(self, items: Sequence[Replayable], job_id: uuid.UUID) -> None: ...


class JobNotFound(Exception):
    pass


class JobStateError(Exception):
    pass


_JOB_COLUMNS = (
    "job_id, selector, rate_per_s, status, total, replayed, quarantined, failed, error, created_by,"
    " created_at, started_at, finished_at, updated_at"
)


class ReplayJobs:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        publishers: dict[str, Publisher],
        *,
        max_replays: int = 3,
        max_rate: int = 10_000,
        batch_size: int = 500,
        poll_seconds: float = 0.5,
    ) -> None:
        self.pool = pool
        self.publishers = publishers
        self.max_replays = max_replays
        self.max_rate = max_rate
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._stopping = asyncio.Event()

    # ------------------------------------------------------------------ operator actions

    async def create(self, selector: Filter, rate_per_s: int, actor: Actor) -> dict[str, Any]:
        rate = max(1, min(rate_per_s, self.max_rate))
        job_id = uuid.uuid4()
        where, params = selector.where(replayable=True)
        async with self.pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute(f"SELECT count(*) FROM dead_letters WHERE {where}", params)  # noqa: S608
            ).fetchone()
            total = int(row[0]) if row else 0
            await conn.execute(
                "INSERT INTO replay_jobs (job_id, selector, rate_per_s, status, total, created_by)"
                " VALUES (%s, %s, %s, 'queued', %s, %s)",
                (job_id, Jsonb(msgspec.to_builtins(selector)), rate, total, actor.name),
            )
            await audit(
                conn,
                actor,
                "replay_started",
                {"job_id": str(job_id), "filter": msgspec.to_builtins(selector), "rate_per_s": rate},
                total,
            )
        return await self.get(job_id)

    async def get(self, job_id: uuid.UUID) -> dict[str, Any]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT {_JOB_COLUMNS} FROM replay_jobs WHERE job_id = %s", (job_id,))  # noqa: S608
            row = await cur.fetchone()
        if row is None:
            raise JobNotFound(str(job_id))
        return row

    async def page(self, limit: int = 50) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                f"SELECT {_JOB_COLUMNS} FROM replay_jobs ORDER BY created_at DESC LIMIT %s",  # noqa: S608
                (limit,),
            )
            return await cur.fetchall()

    async def cancel(self, job_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
        return await self._move(job_id, actor, "replay_cancelled", ("queued", "running"), "cancelled")

    async def resume(self, job_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
        return await self._move(job_id, actor, "replay_resumed", ("cancelled", "failed"), "queued")

    async def _move(
        self, job_id: uuid.UUID, actor: Actor, action: str, allowed: tuple[str, ...], to: str
    ) -> dict[str, Any]:
        async with self.pool.connection() as conn, conn.transaction():
            row = await (
                await conn.execute(
                    "SELECT status, total - replayed - quarantined FROM replay_jobs WHERE job_id = %s FOR UPDATE",
                    (job_id,),
                )
            ).fetchone()
            if row is None:
                raise JobNotFound(str(job_id))
            if row[0] not in allowed:
                raise JobStateError(f"A {row[0]} job cannot be {to}")
            await conn.execute(
                "UPDATE replay_jobs SET status = %s, error = NULL, updated_at = now(),"
                " finished_at = CASE WHEN %s = 'cancelled' THEN now() ELSE NULL END WHERE job_id = %s",
                (to, to, job_id),
            )
            await audit(conn, actor, action, {"job_id": str(job_id)}, int(row[1]))
        return await self.get(job_id)

    # ------------------------------------------------------------------ the worker

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Claims queued jobs one at a time and works them; an interrupted job (process stopped)
        is queued again at start so it resumes."""
        async with self.pool.connection() as conn:
            await conn.execute("UPDATE replay_jobs SET status = 'queued' WHERE status = 'running'")
        while not self._stopping.is_set():
            try:
                job = await self._claim()
                if job is None:
                    await asyncio.wait_for(self._stopping.wait(), self.poll_seconds)
                    continue
                await self._work(job)
            except TimeoutError:
                continue
            except Exception:
                log.exception("replay worker: unexpected error; continuing")
                await asyncio.sleep(1)

    async def _claim(self) -> dict[str, Any] | None:
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                """
                UPDATE replay_jobs SET status = 'running', started_at = coalesce(started_at, now()), updated_at = now()
                 WHERE job_id = (SELECT job_id FROM replay_jobs WHERE status = 'queued'
                                  ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING job_id, selector, rate_per_s, created_at, cursor_at, cursor_id
                """
            )
            return await cur.fetchone()

    async def _work(self, job: dict[str, Any]) -> None:
        job_id: uuid.UUID = job["job_id"]
        selector = msgspec.convert(job["selector"], Filter)
        rate: int = job["rate_per_s"]
        cursor: tuple[datetime, uuid.UUID] | None = (
            (job["cursor_at"], job["cursor_id"]) if job["cursor_at"] is not None else None
        )
        batch = max(1, min(self.batch_size, rate))
        started, sent = time.perf_counter(), 0
        log.info("replay %s: started (rate %d/s)", job_id, rate)
        while not self._stopping.is_set():
            if await self._status(job_id) != "running":
                log.info("replay %s: stopped by an operator", job_id)
                return
            items, position = await self._next(selector, job["created_at"], cursor, batch)
            if not items or position is None:
                await self._finish(job_id, "completed")
                log.info("replay %s: completed", job_id)
                return
            to_quarantine = [i for i in items if i.replay_count >= self.max_replays]
            to_send = [i for i in items if i.replay_count < self.max_replays]
            try:
                for source in {i.source for i in to_send}:
                    await self.publishers[source].publish([i for i in to_send if i.source == source], job_id)
            except Exception as exc:
                log.exception("replay %s: publishing failed; the job stops and can be resumed", job_id)
                await self._finish(job_id, "failed", f"{type(exc).__name__}: {exc}"[:1000])
                return
            await self._record(job_id, position, to_send, to_quarantine)
            cursor = position
            sent += len(items)
            # the rate limit: never ahead of rate * elapsed
            ahead = sent / rate - (time.perf_counter() - started)
            if ahead > 0:
                await asyncio.sleep(ahead)
        log.info("replay %s: interrupted by shutdown; it resumes at the next start", job_id)

    async def _status(self, job_id: uuid.UUID) -> str | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT status FROM replay_jobs WHERE job_id = %s", (job_id,))).fetchone()
        return row[0] if row else None

    async def _next(
        self, selector: Filter, created_at: datetime, cursor: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> tuple[list[Replayable], tuple[datetime, uuid.UUID] | None]:
        """The next batch and the position of its last item."""
        where, params = selector.where(replayable=True)
        after = "(received_at, dead_letter_id) > (%s, %s)" if cursor else "true"
        async with self.pool.connection() as conn:
            query = (
                "SELECT dead_letter_id, source, original_topic, key, value, headers, replay_count, received_at"  # noqa: S608
                f" FROM dead_letters WHERE {where}"
                f" AND received_at <= %s AND {after} ORDER BY received_at, dead_letter_id LIMIT %s"
            )
            rows = await (
                await conn.execute(
                    query,
                    [*params, created_at, *(cursor or ()), limit],
                )
            ).fetchall()
        position = (rows[-1][7], rows[-1][0]) if rows else None
        return [
            Replayable(
                dead_letter_id=r[0],
                source=r[1],
                original_topic=r[2],
                key=bytes(r[3]) if r[3] is not None else None,
                value=bytes(r[4]),
                headers=decode_headers(r[5]),
                replay_count=r[6],
            )
            for r in rows
        ], position

    async def _record(
        self,
        job_id: uuid.UUID,
        position: tuple[datetime, uuid.UUID],
        sent: list[Replayable],
        quarantined: list[Replayable],
    ) -> None:
        sent_ids = [i.dead_letter_id for i in sent]
        quarantined_ids = [i.dead_letter_id for i in quarantined]
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute(
                "UPDATE dead_letters SET status = 'replayed', replay_count = replay_count + 1,"
                " last_replayed_at = now() WHERE dead_letter_id = ANY(%s)",
                (sent_ids,),
            )
            await conn.execute(
                "UPDATE dead_letters SET status = 'quarantined' WHERE dead_letter_id = ANY(%s)", (quarantined_ids,)
            )
            await conn.execute(
                "INSERT INTO dead_letter_history (dead_letter_id, action, actor, detail)"
                " SELECT id, action, 'replay job', %s FROM unnest(%s::uuid[], %s::text[]) AS t(id, action)",
                (
                    str(job_id),
                    sent_ids + quarantined_ids,
                    ["replayed"] * len(sent_ids) + ["quarantined"] * len(quarantined_ids),
                ),
            )
            await conn.execute(
                "UPDATE replay_jobs SET replayed = replayed + %s, quarantined = quarantined + %s,"
                " cursor_at = %s, cursor_id = %s, updated_at = now() WHERE job_id = %s",
                (len(sent_ids), len(quarantined_ids), position[0], position[1], job_id),
            )

    async def _finish(self, job_id: uuid.UUID, status: str, error: str | None = None) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE replay_jobs SET status = %s, error = %s, finished_at = now(), updated_at = now()"
                " WHERE job_id = %s AND status = 'running'",
                (status, error, job_id),
            )
