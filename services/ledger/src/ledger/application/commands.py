"""The ledger's write use cases: one handler per command, each one unit of work on the user's ledger
stream through the one event-sourced write.

Writes of one user are serialised (the runner locks the stream for the transaction): a busy user's
concurrent writes queue up instead of failing on the version check, which stays the safety net.
``expected_version`` is an If-Match; an ``Idempotency`` key returns the first result of the write
again (checked under the same lock, so two concurrent requests with one key write once).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import msgspec
from prometheus_client import Counter

from blazing_app import Conflict, NotFound, Refused, Stale, Translation, translated
from blazing_es.erasure import EraseUser
from blazing_es.runner import Context, EventSourced, VersionMismatch
from ledger.application.ports import LedgerUnitOfWork
from ledger.domain import ledger as lg

WRITES = Counter("ledger_writes_total", "Ledger write commands by outcome (ok, replayed, or the refusal)", ["outcome"])
Ledgers = EventSourced[LedgerUnitOfWork, lg.Ledger, lg.Event]
Decide = Callable[[lg.Ledger], Sequence[lg.Event]]


class Idempotency(msgspec.Struct, frozen=True):
    key: str
    request: str
    """What the request was (method, path, body): the same key with another request is refused."""

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.request.encode()).hexdigest()


class Write(msgspec.Struct, frozen=True, kw_only=True):
    """Who writes, and the conditions of the write."""

    user_id: uuid.UUID
    context: Context
    expected_version: int | None = None
    idempotency: Idempotency | None = None


class CategoryView(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    name: str
    description: str | None
    balance: int


class TransactionView(msgspec.Struct, frozen=True, kw_only=True):
    """The state's ``Transaction`` with its id and the balance."""

    id: uuid.UUID
    category_id: uuid.UUID
    type: lg.Kind
    amount: int
    memo: str
    description: str | None
    occurred_on: date
    balance: int
    """The ledger's balance after the write."""


class Written(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    balance: int
    category: CategoryView | None = None
    transaction: TransactionView | None = None
    replayed: bool = False


def category_view(state: lg.Ledger, category_id: uuid.UUID) -> CategoryView | None:
    c = state.categories.get(category_id)
    if c is None:
        return None
    return CategoryView(id=category_id, name=c.name, description=c.description, balance=c.balance)


def transaction_view(state: lg.Ledger, transaction_id: uuid.UUID) -> TransactionView | None:
    t = state.transactions.get(transaction_id)
    if t is None:
        return None
    return TransactionView(id=transaction_id, balance=state.balance, **msgspec.structs.asdict(t))


DOMAIN_ERRORS: Final[Translation] = {
    lg.NotFoundError: NotFound,
    lg.DuplicateNameError: Conflict,
    lg.LedgerError: Refused,
    VersionMismatch: lambda _: Stale("The ledger changed since you read it (ETag mismatch)"),
}
"""The ledger's refusals as the application's errors (the callers' vocabulary)."""


_written = msgspec.json.Decoder(Written)


@dataclass(eq=False)
class LedgerWrites:
    """Runs a decision on a user's ledger with If-Match and Idempotency-Key; ``view`` picks what the
    answer shows of the state after the write."""

    uow: Callable[[], LedgerUnitOfWork]
    ledgers: Ledgers

    async def run(self, write: Write, decide: Decide, view: Callable[[lg.Ledger], Written]) -> Written:
        try:
            with translated(DOMAIN_ERRORS):
                written = await self._run(write, decide, view)
        except Exception as exc:
            WRITES.labels(type(exc).__name__).inc()
            raise
        WRITES.labels("replayed" if written.replayed else "ok").inc()
        return written

    async def _run(self, write: Write, decide: Decide, view: Callable[[lg.Ledger], Written]) -> Written:
        async with self.uow() as uow:
            await uow.lock(self.ledgers.stream_id(write.user_id))
            key = write.idempotency
            if key is not None and (seen := await uow.keys.find(write.user_id, key.key)) is not None:
                if seen.fingerprint != key.fingerprint:
                    raise lg.LedgerError("Idempotency-Key was already used for a different request")
                if seen.result is None:
                    raise Conflict("This Idempotency-Key was used before; send a new one")
                return msgspec.structs.replace(_written.decode(seen.result), replayed=True)
            done = await self.ledgers.write(
                uow, write.user_id, decide, context=write.context, expected_version=write.expected_version
            )
            written = msgspec.structs.replace(view(done.state), version=done.version)
            if key is not None:
                await uow.keys.keep(write.user_id, key.key, key.fingerprint, msgspec.json.encode(written))
        return written

    # ------------------------------------------------------------------ the commands

    async def create_category(self, write: Write, name: str, description: str | None) -> Written:
        cid = uuid.uuid4()
        return await self.run(
            write,
            lambda s: lg.create_category(s, cid, name, description),
            lambda s: Written(version=0, balance=s.balance, category=category_view(s, cid)),
        )

    async def update_category(
        self,
        write: Write,
        category_id: uuid.UUID,
        name: str | None,
        description: str | None,
        *,
        description_given: bool,
    ) -> Written:
        return await self.run(
            write,
            lambda s: lg.update_category(s, category_id, name, description, description_given=description_given),
            lambda s: Written(version=0, balance=s.balance, category=category_view(s, category_id)),
        )

    async def delete_category(self, write: Write, category_id: uuid.UUID) -> Written:
        return await self.run(
            write, lambda s: lg.delete_category(s, category_id), lambda s: Written(version=0, balance=s.balance)
        )

    async def create_transaction(self, write: Write, transaction: lg.Transaction) -> Written:
        tid = uuid.uuid4()
        return await self.run(
            write,
            lambda s: lg.create_transaction(s, tid, transaction),
            lambda s: Written(version=0, balance=s.balance, transaction=transaction_view(s, tid)),
        )

    async def change_transaction(
        self, write: Write, transaction_id: uuid.UUID, change: lg.TransactionChange
    ) -> Written:
        return await self.run(
            write,
            lambda s: lg.change_transaction(s, transaction_id, change),
            lambda s: Written(version=0, balance=s.balance, transaction=transaction_view(s, transaction_id)),
        )

    async def delete_transaction(self, write: Write, transaction_id: uuid.UUID) -> Written:
        return await self.run(
            write, lambda s: lg.delete_transaction(s, transaction_id), lambda s: Written(version=0, balance=s.balance)
        )


@dataclass(eq=False)
class EraseLedger(EraseUser[LedgerUnitOfWork]):
    """user.deleted: the read models and idempotency keys go, the stream keeps its shape without
    its content."""

    ledgers: Ledgers

    async def erase(self, uow: LedgerUnitOfWork, user_id: uuid.UUID) -> None:
        await uow.lock(self.ledgers.stream_id(user_id))
        await uow.views.erase(user_id)
        await uow.keys.erase(user_id)
        await self.ledgers.erase(uow, user_id)
        uow.after_commit(lambda: self.ledgers.forget(user_id))  # no write cached the erased state
