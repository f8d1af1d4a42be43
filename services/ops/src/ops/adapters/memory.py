"""The ops ports in memory, for application tests without a server — held to the same tests as the
PostgreSQL adapters (tests/integration/test_adapters.py)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from blazing_app import Browser, Unauthenticated
from blazing_es.memory import TablesDatabase, TablesUnitOfWork
from ops.adapters.rows import JOB, listed, new_row, replayable_of
from ops.application.ports import AuditLog, DeadLetters, Operator, People, ReplayJobs, Row
from ops.domain.audit import Actor
from ops.domain.dead_letters import (
    ERASED_PAYLOAD,
    ERASED_TEXT,
    REPLAYABLE,
    STATUSES,
    DeadLetter,
    Filter,
    holds_user,
    mask_text,
)
from ops.domain.replays import Cursor, Job, JobStatus, Replayable


def now() -> datetime:
    return datetime.now(UTC)


class Clock:
    """The time of a unit of work: one for all of it, as PostgreSQL's now() is the transaction's."""

    def __init__(self) -> None:
        self.at = now()

    def __call__(self) -> datetime:
        return self.at


@dataclass
class OpsTables:
    dead_letters: dict[uuid.UUID, Row] = field(default_factory=dict)
    history: list[Row] = field(default_factory=list)
    jobs: dict[uuid.UUID, Row] = field(default_factory=dict)
    audit: list[Row] = field(default_factory=list)
    operators: dict[uuid.UUID, str] = field(default_factory=dict)
    people: dict[uuid.UUID, str] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def matches(row: Row, f: Filter, *, replayable: bool = False) -> bool:
    """The filter's rules (see Filter) on a stored row."""
    text = {
        "topic": "original_topic",
        "event_type": "event_type",
        "consumer_group": "consumer_group",
        "service": "service",
        "aggregate_id": "aggregate_id",
        "fingerprint": "fingerprint",
        "status": "status",
        "source": "source",
    }
    if replayable and row["status"] not in REPLAYABLE:
        return False
    if any((value := getattr(f, name)) and row[column] != value for name, column in text.items()):
        return False
    if f.error and f.error.lower() not in f"{row['error_message']}\n{row['error_type']}".lower():
        return False
    if f.since and row["last_failure_at"] < f.since:
        return False
    if f.until and row["last_failure_at"] >= f.until:
        return False
    return f.ids is None or row["dead_letter_id"] in f.ids


def _history(
    t: OpsTables, at: datetime, ids: Sequence[uuid.UUID], action: str, actor: str, detail: str | None = None
) -> None:
    for i in ids:
        t.history.append(
            {"id": next(t.ids), "dead_letter_id": i, "at": at, "action": action, "actor": actor, "detail": detail}
        )


@dataclass(eq=False)
class InMemoryDeadLetters:
    t: OpsTables
    now: Clock

    async def add(self, items: Sequence[DeadLetter]) -> int:
        new = []
        for i in items:
            if i.dead_letter_id in self.t.dead_letters:
                continue
            defaults = {"received_at": self.now(), "status": "pending", "last_replayed_at": None}  # the table's
            self.t.dead_letters[i.dead_letter_id] = new_row(i) | defaults
            new.append(i.dead_letter_id)
        _history(self.t, self.now(), new, "received", "system")
        return len(new)

    async def count(self, f: Filter, *, replayable: bool = False) -> int:
        return sum(matches(r, f, replayable=replayable) for r in self.t.dead_letters.values())

    async def discard(self, f: Filter, actor: str) -> int:
        ids = [i for i, r in self.t.dead_letters.items() if matches(r, f, replayable=True)]
        for i in ids:
            self.t.dead_letters[i]["status"] = "discarded"
        _history(self.t, self.now(), ids, "discarded", actor)
        return len(ids)

    async def batch(
        self, f: Filter, horizon: datetime, after: Cursor | None, limit: int
    ) -> tuple[list[Replayable], Cursor | None]:
        rows = sorted(
            (
                r
                for r in self.t.dead_letters.values()
                if matches(r, f, replayable=True)
                and r["received_at"] <= horizon
                and (after is None or (r["received_at"], r["dead_letter_id"]) > after)
            ),
            key=lambda r: (r["received_at"], r["dead_letter_id"]),
        )[:limit]
        position = (rows[-1]["received_at"], rows[-1]["dead_letter_id"]) if rows else None
        return [replayable_of(r) for r in rows], position

    async def replayed(self, ids: Sequence[uuid.UUID], job_id: uuid.UUID) -> None:
        for i in ids:
            row = self.t.dead_letters[i]
            row.update(status="replayed", replay_count=row["replay_count"] + 1, last_replayed_at=self.now())
        _history(self.t, self.now(), ids, "replayed", "replay job", str(job_id))

    async def quarantined(self, ids: Sequence[uuid.UUID], job_id: uuid.UUID) -> None:
        for i in ids:
            self.t.dead_letters[i]["status"] = "quarantined"
        _history(self.t, self.now(), ids, "quarantined", "replay job", str(job_id))

    async def erase(self, user_id: uuid.UUID, email: str | None) -> int:
        ids = [
            i
            for i, r in self.t.dead_letters.items()
            if holds_user(r["source"], r["aggregate_id"], r["value"], user_id, email)
        ]
        for i in ids:
            row = self.t.dead_letters[i]
            row.update(value=ERASED_PAYLOAD, key=None, headers=[], error_message=ERASED_TEXT, traceback=None)
            if row["status"] in REPLAYABLE:
                row["status"] = "discarded"
        _history(self.t, self.now(), ids, "erased", "user.deleted")
        return len(ids)


@dataclass(eq=False)
class InMemoryPeople:
    t: OpsTables

    async def keep(self, user_id: uuid.UUID, email: str) -> None:
        self.t.people[user_id] = email

    async def forget(self, user_id: uuid.UUID) -> str | None:
        return self.t.people.pop(user_id, None)


@dataclass(eq=False)
class InMemoryReplayJobs:
    t: OpsTables
    now: Clock

    async def add(self, job_id: uuid.UUID, selector: Filter, rate_per_s: int, total: int, created_by: str) -> None:
        at = self.now()
        self.t.jobs[job_id] = {
            "job_id": job_id,
            "selector": msgspec.to_builtins(selector),
            "rate_per_s": rate_per_s,
            "status": "queued",
            "total": total,
            "replayed": 0,
            "quarantined": 0,
            "failed": 0,
            "error": None,
            "created_by": created_by,
            "created_at": at,
            "started_at": None,
            "finished_at": None,
            "updated_at": at,
            "cursor": None,
        }

    async def status(self, job_id: uuid.UUID) -> tuple[str, int] | None:
        job = self.t.jobs.get(job_id)
        return None if job is None else (job["status"], job["total"] - job["replayed"] - job["quarantined"])

    async def move(self, job_id: uuid.UUID, status: JobStatus) -> None:
        at = self.now()
        finished = at if status == "cancelled" else None
        self.t.jobs[job_id].update(status=status, error=None, updated_at=at, finished_at=finished)

    async def claim(self) -> Job | None:
        queued = sorted((j for j in self.t.jobs.values() if j["status"] == "queued"), key=lambda j: j["created_at"])
        if not queued:
            return None
        job, at = queued[0], self.now()
        job.update(status="running", started_at=job["started_at"] or at, updated_at=at)
        return Job(
            job_id=job["job_id"],
            selector=msgspec.convert(job["selector"], Filter),
            rate_per_s=job["rate_per_s"],
            created_at=job["created_at"],
            cursor=job["cursor"],
        )

    async def requeue_running(self) -> int:
        running = [j for j in self.t.jobs.values() if j["status"] == "running"]
        for job in running:
            job["status"] = "queued"
        return len(running)

    async def progress(self, job_id: uuid.UUID, replayed: int, quarantined: int, cursor: Cursor) -> None:
        job = self.t.jobs[job_id]
        job.update(
            replayed=job["replayed"] + replayed,
            quarantined=job["quarantined"] + quarantined,
            cursor=cursor,
            updated_at=self.now(),
        )

    async def finish(self, job_id: uuid.UUID, status: JobStatus, error: str | None = None) -> None:
        job = self.t.jobs.get(job_id)
        if job is not None and job["status"] == "running":
            at = self.now()
            job.update(status=status, error=error, finished_at=at, updated_at=at)

    async def current(self, job_id: uuid.UUID) -> str | None:
        job = self.t.jobs.get(job_id)
        return None if job is None else str(job["status"])


@dataclass(eq=False)
class InMemoryAuditLog:
    t: OpsTables
    now: Clock

    async def append(self, actor: Actor, action: str, target: dict[str, Any], count: int = 0) -> None:
        # stored as JSON is: what the audit log gives back is what it was given, as JSON
        stored = msgspec.json.decode(msgspec.json.encode(target))
        entry = {"id": next(self.t.ids), "at": self.now(), "actor_id": actor.user_id, "actor": actor.name}
        self.t.audit.append({**entry, "action": action, "target": stored, "count": count})

    async def operator(self, user_id: uuid.UUID, email: str) -> None:
        self.t.operators[user_id] = email


class InMemoryOpsUnitOfWork(TablesUnitOfWork[OpsTables]):
    def bind_tables(self, tables: OpsTables) -> None:
        tables.ids = self.db.tables.ids  # one sequence, as PostgreSQL's bigserial (never rolled back)
        clock = Clock()
        self.dead_letters: DeadLetters = InMemoryDeadLetters(tables, clock)
        self.jobs: ReplayJobs = InMemoryReplayJobs(tables, clock)
        self.audit: AuditLog = InMemoryAuditLog(tables, clock)
        self.people: People = InMemoryPeople(tables)


@dataclass(eq=False)
class InMemoryOpsReads:
    db: TablesDatabase[OpsTables]

    def _matching(self, f: Filter) -> list[Row]:
        return [r for r in self.db.tables.dead_letters.values() if matches(r, f)]

    async def dead_letters(self, f: Filter, limit: int, offset: int) -> tuple[list[Row], int]:
        found = self._matching(f)
        found.sort(key=lambda r: r["dead_letter_id"])
        found.sort(key=lambda r: r["received_at"], reverse=True)
        return [listed(r) for r in found[offset : offset + limit]], len(found)

    async def count(self, f: Filter, *, replayable: bool = False) -> int:
        return sum(matches(r, f, replayable=replayable) for r in self.db.tables.dead_letters.values())

    async def groups(self, f: Filter) -> list[Row]:
        by: dict[str, list[Row]] = {}
        for r in self._matching(f):
            by.setdefault(r["fingerprint"], []).append(r)

        def least(rows: list[Row], column: str) -> Any:
            return min((r[column] for r in rows if r[column] is not None), default=None)

        groups = [
            {
                "fingerprint": fingerprint,
                **{c: least(rows, c) for c in ("event_type", "consumer_group", "error_type", "service", "source")},
                "total": len(rows),
                "pending": sum(r["status"] == "pending" for r in rows),
                "quarantined": sum(r["status"] == "quarantined" for r in rows),
                "first_seen": least(rows, "last_failure_at"),
                "last_seen": max(r["last_failure_at"] for r in rows),
                "sample_error": mask_text(max(rows, key=lambda r: r["last_failure_at"])["error_message"]),
            }
            for fingerprint, rows in by.items()
        ]
        groups.sort(key=lambda g: (-g["total"], g["fingerprint"]))
        return groups[:200]

    async def dead_letter(self, dead_letter_id: uuid.UUID) -> tuple[Row, list[Row]] | None:
        row = self.db.tables.dead_letters.get(dead_letter_id)
        if row is None:
            return None
        history = [
            {k: h[k] for k in ("at", "action", "actor", "detail")}
            for h in self.db.tables.history
            if h["dead_letter_id"] == dead_letter_id
        ]
        return dict(row), history

    async def jobs(self, limit: int) -> list[Row]:
        jobs = sorted(self.db.tables.jobs.values(), key=lambda j: j["created_at"], reverse=True)
        return [{k: j[k] for k in JOB} for j in jobs[:limit]]

    async def job(self, job_id: uuid.UUID) -> Row | None:
        job = self.db.tables.jobs.get(job_id)
        return None if job is None else {k: job[k] for k in JOB}

    async def audit(self, limit: int, offset: int, action: str | None) -> list[Row]:
        entries = [e for e in reversed(self.db.tables.audit) if action is None or e["action"] == action]
        known = self.db.tables.operators
        return [
            {**e, "actor": known.get(e["actor_id"], e["actor"]) if e["actor_id"] else e["actor"]}
            for e in entries[offset : offset + limit]
        ]

    async def stored(self) -> tuple[dict[str, int], float]:
        rows = self.db.tables.dead_letters.values()
        counts = dict.fromkeys(STATUSES, 0)
        for r in rows:
            counts[r["status"]] += 1
        pending = [r["received_at"] for r in rows if r["status"] == "pending"]
        return counts, (now() - min(pending)).total_seconds() if pending else 0.0


class FakePublisher:
    """A broker that takes every batch (``sent``), or refuses them while ``down``."""

    def __init__(self) -> None:
        self.sent: list[tuple[uuid.UUID, list[Replayable]]] = []
        self.down: Exception | None = None

    async def publish(self, items: Sequence[Replayable], job_id: uuid.UUID) -> None:
        if self.down is not None:
            raise self.down
        self.sent.append((job_id, list(items)))

    @property
    def ids(self) -> list[uuid.UUID]:
        return [i.dead_letter_id for _, batch in self.sent for i in batch]


class FakeAuth:
    """Auth with accounts of its own: ``accounts[email] = (password, permissions)``; records sign-outs."""

    def __init__(self) -> None:
        self.accounts: dict[str, tuple[str, int]] = {}
        self.signed_out: list[uuid.UUID | None] = []
        self.refusal: Exception | None = None

    async def sign_in(self, email: str, password: str, browser: Browser) -> Operator:
        if self.refusal is not None:
            raise self.refusal
        known = self.accounts.get(email)
        if known is None or known[0] != password:
            raise Unauthenticated("Invalid email or password")
        user = uuid.uuid5(uuid.NAMESPACE_URL, email)
        return Operator(
            user_id=user,
            email=email,
            admin=known[1] in (10, 100),
            session_id=uuid.uuid4(),
            permissions=known[1],
            access_token=f"token-of-{email}",
            expires_in=900,
        )

    async def sign_out(self, user_id: uuid.UUID, session_id: uuid.UUID | None, permissions: int) -> None:
        self.signed_out.append(session_id)
