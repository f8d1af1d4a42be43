"""Replay jobs' rules: how fast a job may go, what it sends and what it quarantines, which moves
an operator may make, and how far ahead of its rate a job is."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Final, Literal

import msgspec

from ops.domain.dead_letters import Filter

JobStatus = Literal["queued", "running", "cancelled", "completed", "failed"]
ACTIVE: Final = ("queued", "running")
Cursor = tuple[datetime, uuid.UUID]
"""A job's place: the (received_at, dead_letter_id) of the last dead letter it handled."""


class JobStateError(Exception):
    """The job's status does not allow that move."""


class Replayable(msgspec.Struct, frozen=True, kw_only=True):
    """A dead letter as a replay sends it back."""

    dead_letter_id: uuid.UUID
    source: str
    original_topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    replay_count: int


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A job as its worker runs it: what it replays (what matched when it was created), how fast,
    and where it stopped."""

    job_id: uuid.UUID
    selector: Filter
    rate_per_s: int
    created_at: datetime
    cursor: Cursor | None = None


_MOVES: Final[dict[str, tuple[tuple[JobStatus, ...], JobStatus]]] = {
    "cancel": (ACTIVE, "cancelled"),
    "resume": (("cancelled", "failed"), "queued"),
}


def move(status: str, action: Literal["cancel", "resume"]) -> JobStatus:
    """The status a job goes to when an operator cancels (a queued or running one) or resumes (a
    cancelled or failed one) it."""
    allowed, to = _MOVES[action]
    if status not in allowed:
        raise JobStateError(f"A {status} job cannot be {to}")
    return to


def rate_of(requested: int, max_rate: int) -> int:
    return max(1, min(requested, max_rate))


def batch_of(rate: int, batch_size: int) -> int:
    """At most a second's worth of a job at a time (so its rate holds from the first batch)."""
    return max(1, min(batch_size, rate))


def split(items: Sequence[Replayable], max_replays: int) -> tuple[list[Replayable], list[Replayable]]:
    """(to send, to quarantine): a dead letter replayed ``max_replays`` times already is not sent
    again (no endless loops)."""
    send = [i for i in items if i.replay_count < max_replays]
    return send, [i for i in items if i.replay_count >= max_replays]


def ahead(sent: int, rate: int, elapsed: float) -> float:
    """Seconds a job that sent ``sent`` in ``elapsed`` seconds is ahead of ``rate`` per second (it
    waits that long: never ahead of rate * elapsed)."""
    return max(0.0, sent / rate - elapsed)
