"""The ledger's use cases: decide on the user's ledger, append, project, publish — one transaction.

Writes of one user are serialised by an advisory lock on the user's stream (a busy user's
concurrent writes queue up instead of failing on the version check, which stays as the safety
net). ``If-Match`` compares the stream version; ``Idempotency-Key`` returns the first result.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from prometheus_client import Counter
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from blazing_contracts import make_event
from blazing_es import StreamRepository
from blazing_service import PreconditionFailed
from ledger.application import projection
from ledger.domain import ledger as lg

Decision = Callable[[lg.Ledger], list[lg.Event]]
WRITES = Counter("ledger_writes_total", "Ledger write commands by outcome (ok, replayed, or the refusal)", ["outcome"])


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    status_code: int
    body: bytes
    version: int


class LedgerService:
    def __init__(self, pool: AsyncConnectionPool, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.pool = pool
        self.now = now
        self.streams: StreamRepository[lg.Ledger, lg.Event] = StreamRepository(
            aggregate_type="ledger",
            event_types=lg.EVENT_TYPES,
            evolve=lg.evolve,
            initial=lambda user_id: lg.Ledger(user_id=user_id),
            snapshot_every=100,
            state_type=lg.Ledger,
            state_schema=2,  # 2: totals kept in the state
            cache_size=10_000,
        )

    async def version(self, user_id: uuid.UUID) -> int:
        async with self.pool.connection() as conn:
            return await self.streams.version(conn, user_id)

    async def write(
        self,
        user_id: uuid.UUID,
        decide: Decision,
        respond: Callable[[lg.Ledger], tuple[int, Any]],
        *,
        correlation_id: str,
        if_match: int | None = None,
        idempotency_key: str | None = None,
        request: str = "",
    ) -> Outcome:
        """Runs one write. ``respond(state_after)`` gives the status and body of the answer, which is
        stored under the idempotency key (if any) in the same transaction."""
        try:
            outcome = await self._write(user_id, decide, respond, correlation_id, if_match, idempotency_key, request)
        except Exception as exc:
            WRITES.labels(type(exc).__name__).inc()
            raise
        WRITES.labels("replayed" if outcome.version == -1 else "ok").inc()
        return outcome

    async def _write(
        self,
        user_id: uuid.UUID,
        decide: Decision,
        respond: Callable[[lg.Ledger], tuple[int, Any]],
        correlation_id: str,
        if_match: int | None,
        idempotency_key: str | None,
        request: str,
    ) -> Outcome:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.streams.stream_id(user_id),))
            if idempotency_key:
                seen = await (
                    await conn.execute(
                        "SELECT status_code, body, request FROM idempotency_keys WHERE user_id = %s AND key = %s",
                        (user_id, idempotency_key),
                    )
                ).fetchone()
                if seen is not None:
                    if seen[2] != _fingerprint(request):
                        raise lg.LedgerError("Idempotency-Key was already used for a different request")
                    return Outcome(status_code=seen[0], body=bytes(seen[1]), version=-1)
            state, version = await self.streams.load(conn, user_id)
            if if_match is not None and if_match != version:
                raise PreconditionFailed("The ledger changed since you read it (ETag mismatch)")
            events = decide(state)
            after = await self._commit(conn, state, version, events, correlation_id)
            status_code, body = respond(after)
            encoded = msgspec.json.encode(body)
            if idempotency_key:
                await conn.execute(
                    "INSERT INTO idempotency_keys (user_id, key, request, status_code, body)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (user_id, idempotency_key, _fingerprint(request), status_code, encoded),
                )
        self.streams.remember(user_id, after, version + len(events))  # committed
        return Outcome(status_code=status_code, body=encoded, version=version + len(events))

    async def _commit(
        self, conn: AsyncConnection[Any], state: lg.Ledger, version: int, events: list[lg.Event], correlation_id: str
    ) -> lg.Ledger:
        if not events:
            return state
        at = self.now()
        contract: list[Any] = []
        current = state
        for i, event in enumerate(events, start=1):
            after = lg.evolve(current, event)
            await projection.apply(conn, current, event, after, at)
            contract += [
                make_event(
                    p,
                    event_id=uuid.uuid4(),
                    aggregate_id=str(state.user_id),
                    aggregate_version=version + i,
                    occurred_at=at,
                    producer="ledger",
                    correlation_id=correlation_id or str(uuid.uuid4()),
                    actor_id=state.user_id,
                )
                for p in projection.published(current, event, after)
            ]
            current = after
        await projection.apply_balance(conn, current)
        new_version = await self.streams.save(conn, state.user_id, version, events, contract, now=at)
        await self.streams.snapshot_if_due(conn, state.user_id, version, new_version, current)
        return current

    async def erase(self, conn: AsyncConnection[Any], user_id: uuid.UUID) -> None:
        """user.deleted: the read models go, the stream keeps its shape without its content."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.streams.stream_id(user_id),))
        for table in ("transactions", "categories", "balances", "idempotency_keys"):
            await conn.execute(f"DELETE FROM {table} WHERE user_id = %s", (user_id,))  # noqa: S608 - fixed names
        await self.streams.redact(conn, user_id)

    async def rebuild(self) -> int:
        """Empties the read models and replays every ledger stream, in one transaction (readers see
        the old models until it commits)."""
        count = 0
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("LOCK TABLE categories, transactions, balances IN EXCLUSIVE MODE")
            await conn.execute("TRUNCATE categories, transactions, balances")
            rows = await (
                await conn.execute("SELECT DISTINCT stream_id FROM es_events WHERE aggregate_type = 'ledger'")
            ).fetchall()
            for (stream_id,) in rows:
                state = lg.Ledger(user_id=uuid.UUID(stream_id.removeprefix("ledger-")))
                events = await self.streams.events(conn, state.user_id)
                if not events:  # an erased user's stream
                    continue
                for event, stored in events:
                    after = lg.evolve(state, event)
                    await projection.apply(conn, state, event, after, stored.occurred_at)
                    state = after
                    count += 1
                await projection.apply_balance(conn, state)
        return count


def _fingerprint(request: str) -> str:
    return hashlib.sha256(request.encode()).hexdigest()
