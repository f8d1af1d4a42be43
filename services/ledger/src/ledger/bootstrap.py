"""The ledger's composition root: everything it runs, built from its settings."""

from __future__ import annotations

from datetime import datetime

from litestar import Litestar

from blazing_contracts.topology import USER_EVENTS
from blazing_es.runner import EventSourced
from blazing_service import ServiceSettings, create_app
from blazing_service.runtime import Runtime
from ledger.adapters.postgres import PostgresLedgerReads, PostgresLedgerUnitOfWork
from ledger.application.commands import EraseLedger, LedgerWrites
from ledger.application.ports import LedgerUnitOfWork
from ledger.application.publishing import LEDGER
from ledger.application.queries import LedgerQueries
from ledger.domain import ledger as lg
from ledger.entrypoints.consumers import USER_EVENT_TYPES, user_events_handler
from ledger.entrypoints.http import BalanceController, CategoryController, TransactionController
from ledger.settings import MIGRATIONS

CONSUMER = "ledger.user-events"


def ledgers() -> EventSourced[LedgerUnitOfWork, lg.Ledger, lg.Event]:
    """Writes of the ledger aggregate, with its read models projected inline."""

    async def project(
        uow: LedgerUnitOfWork, before: lg.Ledger, event: lg.Event, after: lg.Ledger, at: datetime
    ) -> None:
        await uow.views.apply(before, event, after, at)

    async def settle(uow: LedgerUnitOfWork, state: lg.Ledger) -> None:
        await uow.views.settle(state)

    return EventSourced(LEDGER, producer="ledger", project=project, settle=settle, serialize=True, cache_size=10_000)


def build_app(settings: ServiceSettings) -> Litestar:
    runtime = Runtime(settings, migrations=MIGRATIONS)
    pool = runtime.pool
    streams = ledgers()
    writes = LedgerWrites(lambda: PostgresLedgerUnitOfWork(pool), streams)
    erase = EraseLedger(lambda: PostgresLedgerUnitOfWork(pool), CONSUMER, ledgers=streams)
    # an erasure waits up to half a second to share a fetch: not a fetch and a commit per user event
    runtime.consume(
        [USER_EVENTS], group_id=CONSUMER, handler=user_events_handler(erase), events=USER_EVENT_TYPES, wait=0.5
    )
    runtime.relay()
    app = create_app(
        settings,
        [CategoryController, TransactionController, BalanceController],
        runtime=runtime,
        description="Categories, transactions, balances and reports.",
    )
    app.state.writes, app.state.queries = writes, LedgerQueries(PostgresLedgerReads(pool))
    return app
