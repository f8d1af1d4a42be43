"""Replay jobs: a selection, a group or everything matching a filter, sent back where it came from
in the background — at a rate limit, with progress, cancellable and resumable.

A job replays what matched when it was created (received up to its creation) in
``(received_at, dead_letter_id)`` order and keeps its place after every batch, so a cancelled,
failed or interrupted job resumes where it stopped. An item already replayed ``max_replays`` times
is quarantined instead of being sent again (no endless loops).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from typing import Literal

import msgspec

from blazing_app import BadInput, Conflict, NotFound, Refused
from ops.application.ports import OpsReads, OpsUnitOfWork, Publisher, Row
from ops.domain.audit import Actor
from ops.domain.dead_letters import Filter
from ops.domain.replays import Job, JobStateError, ahead, batch_of, move, rate_of, split

log = logging.getLogger(__name__)


def selected(f: Filter) -> None:
    """A replay names what it sends: an empty filter (or a form whose fields were all misspelt) would
    send every dead letter there is — an operator who means all of them says status=pending."""
    if f.is_empty():
        raise BadInput("Replaying needs a filter or a selection (an empty filter would replay everything)")


NOTHING_TO_REPLAY = (
    "Nothing to replay: no pending or replayed dead letter matches (discarded and quarantined ones stay)"
)


@dataclass(eq=False)
class ReplayCommands:
    """What an operator does with replays: count them (a dry run), start a job, cancel or resume
    one — each in the audit log — and read the jobs."""

    uow: Callable[[], OpsUnitOfWork]
    reads: OpsReads
    _: KW_ONLY
    default_rate: int = 500
    max_rate: int = 10_000

    async def dry_run(self, f: Filter, actor: Actor) -> int:
        """How many a replay of ``f`` would send now; nothing is sent."""
        selected(f)
        async with self.uow() as uow:
            count = await uow.dead_letters.count(f, replayable=True)
            await uow.audit.append(actor, "replay_dry_run", {"filter": msgspec.to_builtins(f)}, count)
        return count

    async def start(self, f: Filter, rate_per_s: int | None, actor: Actor) -> Row:
        """A queued job replaying what ``f`` matches now, at ``rate_per_s`` (the default rate when
        None; never above the maximum). A filter that matches nothing replayable is refused: a job
        of nothing would only look like work done."""
        selected(f)
        rate = rate_of(self.default_rate if rate_per_s is None else rate_per_s, self.max_rate)
        job_id = uuid.uuid4()
        selector = msgspec.to_builtins(f)
        async with self.uow() as uow:
            total = await uow.dead_letters.count(f, replayable=True)
            if total == 0:
                raise Refused(NOTHING_TO_REPLAY)
            await uow.jobs.add(job_id, f, rate, total, actor.name)
            target = {"job_id": str(job_id), "filter": selector, "rate_per_s": rate}
            await uow.audit.append(actor, "replay_started", target, total)
        return await self.job(job_id)

    async def cancel(self, job_id: uuid.UUID, actor: Actor) -> Row:
        return await self._move(job_id, actor, "cancel", "replay_cancelled")

    async def resume(self, job_id: uuid.UUID, actor: Actor) -> Row:
        return await self._move(job_id, actor, "resume", "replay_resumed")

    async def _move(self, job_id: uuid.UUID, actor: Actor, action: Literal["cancel", "resume"], audited: str) -> Row:
        async with self.uow() as uow:
            found = await uow.jobs.status(job_id)
            if found is None:
                raise NotFound("Replay job not found")
            status, left = found
            try:
                to = move(status, action)
            except JobStateError as exc:
                raise Conflict(str(exc)) from None
            await uow.jobs.move(job_id, to)
            await uow.audit.append(actor, audited, {"job_id": str(job_id)}, left)
        return await self.job(job_id)

    async def job(self, job_id: uuid.UUID) -> Row:
        found = await self.reads.job(job_id)
        if found is None:
            raise NotFound("Replay job not found")
        return found

    async def jobs(self, limit: int = 50) -> list[Row]:
        return await self.reads.jobs(limit)


Outcome = Literal["completed", "failed", "stopped", "interrupted"]


class ReplayWorker:
    """Works queued jobs one at a time (``run_queued``, a periodic task). A job stops when an
    operator cancels it, fails (resumable) when its broker does not take a batch, and is left
    running when the process stops (``recover`` queues it again at the next start)."""

    def __init__(
        self,
        uow: Callable[[], OpsUnitOfWork],
        publishers: Mapping[str, Publisher],
        *,
        max_replays: int = 3,
        batch_size: int = 500,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.uow = uow
        self.publishers = publishers
        self.max_replays = max_replays
        self.batch_size = batch_size
        self.clock = clock
        self._sleep = sleep or self._pause
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    async def recover(self) -> None:
        async with self.uow() as uow:
            if requeued := await uow.jobs.requeue_running():
                log.info("replay: %d interrupted job(s) queued again", requeued)

    async def run_queued(self) -> None:
        while not self._stopping.is_set():
            async with self.uow() as uow:
                job = await uow.jobs.claim()
            if job is None:
                return
            await self.work(job)

    async def stop(self, grace: float = 10.0) -> None:
        """No new batch starts; waits (up to ``grace`` seconds) for the one in hand to be recorded."""
        self._stopping.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def work(self, job: Job) -> Outcome:
        self._idle.clear()
        try:
            return await self._work(job)
        finally:
            self._idle.set()

    async def _work(self, job: Job) -> Outcome:
        job_id, rate, cursor = job.job_id, job.rate_per_s, job.cursor
        size = batch_of(rate, self.batch_size)
        started, sent = self.clock(), 0
        log.info("replay %s: started (rate %d/s)", job_id, rate)
        while not self._stopping.is_set():
            async with self.uow() as uow:
                if await uow.jobs.current(job_id) != "running":
                    log.info("replay %s: stopped by an operator", job_id)
                    return "stopped"
                items, position = await uow.dead_letters.batch(job.selector, job.created_at, cursor, size)
            if not items or position is None:
                await self._finish(job_id, "completed")
                log.info("replay %s: completed", job_id)
                return "completed"
            to_send, to_quarantine = split(items, self.max_replays)
            try:
                for source in sorted({i.source for i in to_send}):
                    await self.publishers[source].publish([i for i in to_send if i.source == source], job_id)
            except Exception as exc:
                log.exception("replay %s: publishing failed; the job stops and can be resumed", job_id)
                await self._finish(job_id, "failed", f"{type(exc).__name__}: {exc}"[:1000])
                return "failed"
            async with self.uow() as uow:
                await uow.dead_letters.replayed([i.dead_letter_id for i in to_send], job_id)
                await uow.dead_letters.quarantined([i.dead_letter_id for i in to_quarantine], job_id)
                await uow.jobs.progress(job_id, len(to_send), len(to_quarantine), position)
            cursor = position
            sent += len(items)
            if wait := ahead(sent, rate, self.clock() - started):
                await self._sleep(wait)
        log.info("replay %s: interrupted by shutdown; it resumes at the next start", job_id)
        return "interrupted"

    async def _finish(
        self, job_id: uuid.UUID, status: Literal["completed", "failed"], error: str | None = None
    ) -> None:
        async with self.uow() as uow:
            await uow.jobs.finish(job_id, status, error)
