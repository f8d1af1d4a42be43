"""What the ops use cases need, as protocols: PostgreSQL implements the storage in
adapters/postgres.py, the brokers' publishers and auth's client are in adapters/, and the in-memory
fakes of every port in adapters/memory.py (held to tests/integration/test_adapters.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import msgspec

from blazing_app import Browser
from blazing_es.ports import UnitOfWork
from ops.domain.audit import Actor
from ops.domain.dead_letters import DeadLetter, Filter
from ops.domain.replays import Cursor, Job, JobStatus, Replayable

Row = dict[str, Any]
"""A read model's row as the API and the console show it."""


class DeadLetters(Protocol):
    """The dead letters and their history, in the unit of work's transaction."""

    async def add(self, items: Sequence[DeadLetter]) -> int:
        """Stores new dead letters (one stored already is skipped), each with its ``received``
        history entry and the replays it inherits; returns how many were new."""

    async def count(self, f: Filter, *, replayable: bool = False) -> int:
        """How many match ``f`` (``replayable``: of those that may still be replayed or discarded)."""

    async def discard(self, f: Filter, actor: str) -> int:
        """Marks the replayable ones matching ``f`` as discarded (with history); returns how many."""

    async def batch(
        self, f: Filter, horizon: datetime, after: Cursor | None, limit: int
    ) -> tuple[list[Replayable], Cursor | None]:
        """The next replayable ones matching ``f`` received up to ``horizon``, after ``after`` in
        (received_at, id) order, and the position of the last one."""

    async def replayed(self, ids: Sequence[uuid.UUID], job_id: uuid.UUID) -> None:
        """Sent again by ``job_id``: status ``replayed``, one more replay, a history entry each."""

    async def quarantined(self, ids: Sequence[uuid.UUID], job_id: uuid.UUID) -> None: ...

    async def erase(self, user_id: uuid.UUID, email: str | None) -> int:
        """Every dead letter holding the user's data (``holds_user``) keeps no payload, key, headers,
        error text or traceback, and is no longer replayable (discarded, with history); how many."""


class People(Protocol):
    """Whose e-mail address is whose (user.created), until user.deleted."""

    async def keep(self, user_id: uuid.UUID, email: str) -> None: ...

    async def forget(self, user_id: uuid.UUID) -> str | None:
        """The user's address, forgotten (None: not known)."""


class ReplayJobs(Protocol):
    async def add(self, job_id: uuid.UUID, selector: Filter, rate_per_s: int, total: int, created_by: str) -> None:
        """A queued job."""

    async def status(self, job_id: uuid.UUID) -> tuple[str, int] | None:
        """The job's status and how many it has left, the job locked until the unit of work ends."""

    async def move(self, job_id: uuid.UUID, status: JobStatus) -> None:
        """An operator's move (its error cleared; finished now when cancelled)."""

    async def claim(self) -> Job | None:
        """The oldest queued job, now running (skipping one another worker holds)."""

    async def requeue_running(self) -> int:
        """Jobs left running by a stopped process are queued again (they resume where they were)."""

    async def progress(self, job_id: uuid.UUID, replayed: int, quarantined: int, cursor: Cursor) -> None: ...

    async def finish(self, job_id: uuid.UUID, status: JobStatus, error: str | None = None) -> None:
        """A running job ends (a job an operator moved meanwhile keeps the operator's status)."""

    async def current(self, job_id: uuid.UUID) -> str | None:
        """The job's status now (an operator may have cancelled it)."""


class AuditLog(Protocol):
    async def append(self, actor: Actor, action: str, target: dict[str, Any], count: int = 0) -> None:
        """Appends to the audit log (which refuses updates and deletes)."""

    async def operator(self, user_id: uuid.UUID, email: str) -> None:
        """Remembers an admin's e-mail (shown beside the id in the audit log)."""


class OpsUnitOfWork(UnitOfWork, Protocol):
    dead_letters: DeadLetters
    jobs: ReplayJobs
    audit: AuditLog
    people: People


class OpsReads(Protocol):
    """What the API and the console show."""

    async def dead_letters(self, f: Filter, limit: int, offset: int) -> tuple[list[Row], int]:
        """Newest first, each with a masked one-line preview of its payload instead of the payload."""

    async def count(self, f: Filter, *, replayable: bool = False) -> int: ...

    async def groups(self, f: Filter) -> list[Row]:
        """Counts by failure fingerprint (event type + consumer + error type), biggest first."""

    async def dead_letter(self, dead_letter_id: uuid.UUID) -> tuple[Row, list[Row]] | None:
        """Every column of one dead letter, and its history oldest first."""

    async def jobs(self, limit: int) -> list[Row]:
        """Replay jobs, newest first."""

    async def job(self, job_id: uuid.UUID) -> Row | None: ...

    async def audit(self, limit: int, offset: int, action: str | None) -> list[Row]:
        """The audit log, newest first, with the operator's e-mail as the actor when known."""

    async def stored(self) -> tuple[dict[str, int], float]:
        """Dead letters per status, and the age in seconds of the oldest pending one."""


class Publisher(Protocol):
    """Sends a batch back to its origin; returns once the broker has taken all of it (raises if not)."""

    async def publish(self, items: Sequence[Replayable], job_id: uuid.UUID) -> None: ...


class Operator(msgspec.Struct, frozen=True, kw_only=True):
    """Someone auth signed in, with the session's access token."""

    user_id: uuid.UUID
    email: str
    admin: bool
    session_id: uuid.UUID
    permissions: int
    access_token: str
    expires_in: int


class Auth(Protocol):
    async def sign_in(self, email: str, password: str, browser: Browser) -> Operator:
        """Raises the application's error of auth's refusal (Unavailable when auth is away)."""

    async def sign_out(self, user_id: uuid.UUID, session_id: uuid.UUID | None, permissions: int) -> None: ...
