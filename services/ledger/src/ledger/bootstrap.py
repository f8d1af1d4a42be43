"""The ledger's composition root."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from litestar import Litestar

from blazing_contracts.topology import USER_EVENTS
from blazing_es import BrokerDeadLetterSink, ConsumerRunner, OutboxRelay, install, kafka_producer, subscribe
from blazing_service import ServiceSettings, create_app
from blazing_service.db import open_database
from blazing_service.http import broker_ready, database_ready
from ledger.application.queries import Queries
from ledger.application.service import LedgerService
from ledger.entrypoints.consumers import user_events_handler
from ledger.entrypoints.http import BalanceController, CategoryController, TransactionController

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


async def prepare(settings: ServiceSettings) -> Any:
    return await open_database(settings.database_url, name="ledger", migrations=MIGRATIONS, prepare=install)


def build_app(settings: ServiceSettings) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = await prepare(settings)
        svc = LedgerService(db)
        kafka = KafkaBroker(settings.kafka_bootstrap, enable_idempotence=True, logger=None)
        subscribe(
            kafka,
            [USER_EVENTS],
            ConsumerRunner(
                service="ledger",
                group_id="ledger.user-events",
                handler=user_events_handler(svc),
                dead_letters=BrokerDeadLetterSink(kafka),
            ),
        )
        await kafka.start()
        assert settings.database_url
        relay = OutboxRelay(
            settings.database_url, lambda: kafka_producer(settings.kafka_bootstrap, "ledger-relay"), service="ledger"
        )
        relay_task = asyncio.create_task(relay.run())
        app.state.ledger, app.state.queries, app.state.pool, app.state.kafka = svc, Queries(db), db, kafka
        try:
            yield
        finally:
            relay.stop()
            await relay_task
            await kafka.stop()
            await db.close()

    def readiness(app: Litestar) -> list[tuple[str, Any]]:
        return [("database", database_ready(app.state.pool)), ("kafka", broker_ready(app.state.kafka))]

    return create_app(
        settings,
        [CategoryController, TransactionController, BalanceController],
        lifespan=[lifespan],
        readiness=readiness,
        description="Categories, transactions, balances and reports.",
    )
