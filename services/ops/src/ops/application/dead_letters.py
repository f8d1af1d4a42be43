"""The dead letters' use cases: store what the consumers receive, list, group and read them (each
reading of one audited), discard, and keep the stored-dead-letter gauges current."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgspec
from prometheus_client import Gauge

from blazing_app import BadInput, NotFound
from ops.application.ports import OpsReads, OpsUnitOfWork, Row
from ops.domain.audit import Actor
from ops.domain.dead_letters import STATUSES, DeadLetter, Filter, decode_headers, json_payload

STORED = Gauge("ops_dead_letters", "Dead letters held by the ops service, by status", ["status"])
OLDEST_PENDING = Gauge("ops_dead_letters_oldest_pending_age_seconds", "Age of the oldest pending dead letter")


@dataclass(eq=False)
class StoreDeadLetters:
    """What the dead-letter consumers received, stored once (a redelivery is skipped)."""

    uow: Callable[[], OpsUnitOfWork]

    async def __call__(self, items: Sequence[DeadLetter]) -> int:
        """How many were new."""
        if not items:
            return 0
        async with self.uow() as uow:
            return await uow.dead_letters.add(items)


@dataclass(eq=False)
class DiscardDeadLetters:
    uow: Callable[[], OpsUnitOfWork]

    async def __call__(self, f: Filter, actor: Actor, *, dry_run: bool = False) -> int:
        """Discards what matches (and may still be replayed) — or, on a dry run, counts it —, audited;
        returns how many."""
        if f.is_empty():
            raise BadInput("Discarding needs a filter or a selection (an empty filter would discard everything)")
        target = {"filter": msgspec.to_builtins(f)}
        async with self.uow() as uow:
            if dry_run:
                count = await uow.dead_letters.count(f, replayable=True)
                await uow.audit.append(actor, "discard_dry_run", target, count)
            else:
                count = await uow.dead_letters.discard(f, actor.name)
                await uow.audit.append(actor, "discard", target, count)
        return count


def readable(row: Row, history: list[Row]) -> Row:
    """One dead letter for reading: the payload decoded when it is JSON (else the raw value in
    base64), headers as text, the key as text."""
    value = bytes(row["value"])
    payload = json_payload(value)
    headers = [{"name": name, "value": v.decode("utf-8", "replace")} for name, v in decode_headers(row["headers"])]
    return {
        **{k: v for k, v in row.items() if k not in ("value", "key", "headers")},
        "key": bytes(row["key"]).decode("utf-8", "replace") if row["key"] is not None else None,
        "payload": payload,
        "raw_value": None if payload is not None else base64.b64encode(value).decode(),
        "headers": headers,
        "history": history,
    }


@dataclass(eq=False)
class ViewDeadLetter:
    """One dead letter with its history; every look at one is in the audit log."""

    reads: OpsReads
    uow: Callable[[], OpsUnitOfWork]

    async def __call__(self, dead_letter_id: uuid.UUID, actor: Actor) -> Row:
        found = await self.reads.dead_letter(dead_letter_id)
        if found is None:
            raise NotFound("Dead letter not found")
        async with self.uow() as uow:
            await uow.audit.append(actor, "viewed", {"dead_letter_id": str(dead_letter_id)}, 1)
        return readable(*found)


@dataclass(eq=False)
class DeadLetterQueries:
    reads: OpsReads

    async def listing(self, f: Filter, limit: int, offset: int) -> tuple[list[Row], int]:
        return await self.reads.dead_letters(f, limit, offset)

    async def groups(self, f: Filter) -> list[Row]:
        """The failure groups of what ``f`` matches (any fingerprint: the groups are what one picks)."""
        return await self.reads.groups(msgspec.structs.replace(f, fingerprint=None))

    async def replayable(self, f: Filter) -> int:
        return await self.reads.count(f, replayable=True)

    async def audit(self, limit: int, offset: int = 0, action: str | None = None) -> list[Row]:
        return await self.reads.audit(limit, offset, action)


@dataclass(eq=False)
class StoredGauges:
    """Keeps the stored-dead-letter gauges current (a periodic task)."""

    reads: OpsReads

    async def __call__(self) -> None:
        counts, oldest_pending = await self.reads.stored()
        for status in STATUSES:
            STORED.labels(status).set(counts.get(status, 0))
        OLDEST_PENDING.set(oldest_pending)
