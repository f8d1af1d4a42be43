"""The ops service's composition root: everything it runs, built from its settings."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar
from litestar.static_files import create_static_files_router

from blazing_contracts.topology import ALL_TOPICS, USER_EVENTS
from blazing_es.lag import LagMonitor
from blazing_service.erasure import USER_CREATED_AND_DELETED, on_user_created_and_deleted
from blazing_service.instances import InstancesTransport, first_instance
from blazing_service.pages import pages_app
from blazing_service.runtime import Runtime
from ops.adapters.auth import AuthClient
from ops.adapters.postgres import PostgresOpsReads, PostgresOpsUnitOfWork
from ops.adapters.publishers import KafkaPublisher, RabbitPublisher
from ops.application.dead_letters import (
    DeadLetterQueries,
    DiscardDeadLetters,
    StoreDeadLetters,
    StoredGauges,
    ViewDeadLetter,
)
from ops.application.erasure import EraseUserDeadLetters
from ops.application.operators import SignIn, SignOut
from ops.application.replays import ReplayCommands, ReplayWorker
from ops.entrypoints.consumers import subscribe_kafka, subscribe_rabbitmq
from ops.entrypoints.http import CONSOLE_SESSION, Handlers, OpsApi
from ops.entrypoints.pages import Console, NotAllowed, error_handler, is_console_page, not_allowed_handler
from ops.settings import MIGRATIONS, OpsSettings

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
POLL_SECONDS = 0.5
"""How soon a queued replay job is picked up."""
USER_EVENTS_CONSUMER = "ops.user-events"
"""user.created tells whose address is whose, user.deleted erases the user's dead letters."""
WATCH_SECONDS = 5.0
"""How often the dead-letter gauges and consumer lag are measured."""


def build_app(settings: OpsSettings) -> Litestar:
    runtime = Runtime(settings, migrations=MIGRATIONS)
    pool = runtime.pool

    def uow() -> PostgresOpsUnitOfWork:
        return PostgresOpsUnitOfWork(pool)

    reads = PostgresOpsReads(pool)
    store = StoreDeadLetters(uow)
    subscribe_kafka(runtime.kafka, store)
    subscribe_rabbitmq(runtime.rabbit, store)
    erasure = EraseUserDeadLetters(uow, USER_EVENTS_CONSUMER)
    runtime.consume(
        [USER_EVENTS],
        group_id=USER_EVENTS_CONSUMER,
        handler=on_user_created_and_deleted(erasure.known, erasure),
        events=USER_CREATED_AND_DELETED,
        wait=0.5,  # a user event may wait to share a fetch: not a fetch and a commit per event
    )

    kafka_out, rabbit_out = KafkaPublisher(settings.kafka_bootstrap), RabbitPublisher(settings.rabbitmq_url)
    worker = ReplayWorker(uow, {"kafka": kafka_out, "rabbitmq": rabbit_out}, max_replays=settings.max_replays)
    runtime.on_start(worker.recover)  # a job a stopped process left running resumes
    runtime.every(POLL_SECONDS, worker.run_queued, "replay jobs", now=True)
    runtime.on_stop(worker.stop)  # the batch in hand is recorded first
    runtime.on_stop(kafka_out.stop)
    runtime.on_stop(rabbit_out.stop)

    lag = LagMonitor(settings.kafka_bootstrap, ALL_TOPICS)

    async def measure_lag() -> None:
        try:
            await lag.measure()
        except Exception as exc:  # Kafka down: the last values stay, the next round tries again
            log.warning("consumer lag not measured: %r", exc, extra={"dependency": "kafka"})

    runtime.every(WATCH_SECONDS, measure_lag, "consumer lag", now=True)
    runtime.every(WATCH_SECONDS, StoredGauges(reads), "dead-letter gauges", now=True)

    # AUTH_URL may list several instances of auth (blazing_service.instances)
    auth_client = httpx.AsyncClient(timeout=10, transport=InstancesTransport([settings.auth_url]))
    runtime.on_stop(auth_client.aclose)
    auth = AuthClient(auth_client, first_instance(settings.auth_url), settings.identity_secret)

    static = create_static_files_router(path="/ops/static", directories=[HERE / "static"], include_in_schema=False)
    handlers = Handlers(
        queries=DeadLetterQueries(reads),
        view=ViewDeadLetter(reads, uow),
        discard=DiscardDeadLetters(uow),
        replays=ReplayCommands(uow, reads, default_rate=settings.replay_rate, max_rate=settings.replay_max_rate),
        sign_in=SignIn(auth, uow),
        sign_out=SignOut(auth, uow),
    )
    return ops_app(settings, handlers, [OpsApi, Console, static], runtime)


def ops_app(
    settings: OpsSettings, handlers: Handlers, routes: Sequence[Any], runtime: Runtime | None = None
) -> Litestar:
    """The API and the console on ``handlers`` (the console's tests build it on the fakes)."""
    app = pages_app(
        settings,
        routes,
        runtime=runtime,
        description="Dead letters: groups, filters, replay jobs, discard, audit log; the ops console.",
        templates=HERE / "templates",
        error_page=error_handler,  # the error page on the console, the API's JSON elsewhere
        session=CONSOLE_SESSION,
        applies=is_console_page,
        handlers={NotAllowed: not_allowed_handler},
    )
    app.state.handlers = handlers
    return app
