"""A service's running parts, declared once in its composition root and run by one lifespan.

``bootstrap.py`` makes a ``Runtime`` from the settings, asks it for what the service uses (the
database pool, Kafka, RabbitMQ, Redis), builds its handlers on them, declares its consumers,
commands, outbox relay and periodic tasks, and hands it to ``create_app``. Nothing connects before
the lifespan starts; the lifespan then:

1. opens the database (migrations, the event store's tables) and runs the ``on_start`` hooks;
2. starts the brokers — a broker that cannot be reached yet is started in the background, again
   and again until it answers (the service serves HTTP meanwhile and its readiness says what is
   missing), instead of the process exiting;
3. starts the outbox relay and the periodic tasks;

and on shutdown stops it all in reverse: consumers finish what they hold (commands drain), periodic
tasks end, the relay hands its leadership over, brokers and clients close, the pool last.
Readiness checks follow from what was declared.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.rabbit import RabbitBroker
from litestar import Litestar
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from blazing_commands import CommandRunner
from blazing_commands import subscribe as subscribe_command
from blazing_commands.consumer import CommandHandler, Subscription
from blazing_contracts import REGISTRY, EventPayload
from blazing_es import BrokerDeadLetterSink, ConsumerRunner, OutboxRelay, install, kafka_producer, subscribe
from blazing_es.consumer import EventHandler, RetryPolicy
from blazing_service.db import open_pool, pool
from blazing_service.redis_client import redis_client
from blazing_service.settings import ServiceSettings, SettingsError

log = logging.getLogger(__name__)
Check = Callable[[], Awaitable[None]]
RETRY = 2.0
"""Seconds between attempts to start a broker that could not be reached."""


async def periodically(seconds: float, job: Callable[[], Awaitable[Any]], name: str, *, now: bool = False) -> None:
    """Runs ``job`` every ``seconds`` (first at once when ``now``) until cancelled; a failed run is
    logged and the next one still happens."""
    if not now:
        await asyncio.sleep(seconds)
    while True:
        try:
            await job()
        except Exception:
            log.exception("periodic task %s failed", name)
        await asyncio.sleep(seconds)


async def start_broker(broker: KafkaBroker | RabbitBroker, name: str) -> None:
    """Starts a broker, trying again every few seconds while it cannot be reached or a topic its
    consumers read does not exist yet (told once when it fails, once when it finally starts)."""
    failures = 0
    while True:
        try:
            await broker.start()
        except Exception as exc:  # the drivers' connection errors are many; any failure is retried
            if failures == 0:
                log.warning("%s not started (%s); trying every %.0f s", name, type(exc).__name__, RETRY)
            failures += 1
            with contextlib.suppress(Exception):
                await broker.stop()
            await asyncio.sleep(RETRY)
            continue
        if failures:
            log.info("%s started after %d attempts", name, failures + 1)
        return


class Runtime:
    def __init__(self, settings: ServiceSettings, *, migrations: Path | None = None, pool_size: int = 20) -> None:
        self.settings = settings
        self._migrations = migrations
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool | None = None
        self._kafka: KafkaBroker | None = None
        self._rabbit: RabbitBroker | None = None
        self._redis: Redis | None = None
        self._relay: OutboxRelay | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._subscriptions: list[Subscription] = []
        self._periodic: list[tuple[float, Callable[[], Awaitable[Any]], str, bool]] = []
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[Any]] = []

    # ------------------------------------------------------------------ what the service uses

    @property
    def pool(self) -> AsyncConnectionPool:
        """The service's database pool (opened by the lifespan)."""
        if self._pool is None:
            if not self.settings.database_url:
                raise SettingsError("DATABASE_URL is required")
            self._pool = pool(self.settings.database_url, name=self.settings.service, max_size=self._pool_size)
        return self._pool

    @property
    def kafka(self) -> KafkaBroker:
        if self._kafka is None:
            # a list: FastStream hands a string to aiokafka as one host, commas and all
            servers = [s.strip() for s in self.settings.kafka_bootstrap.split(",") if s.strip()]
            # allow_auto_create_topics=False: FastStream would otherwise create a missing topic
            # when a subscriber starts, with 1 partition and replication factor 1 (its Topic's
            # defaults), racing the deployment that creates them with the cluster's settings
            self._kafka = KafkaBroker(servers, enable_idempotence=True, allow_auto_create_topics=False, logger=None)
        return self._kafka

    @property
    def rabbit(self) -> RabbitBroker:
        if self._rabbit is None:
            self._rabbit = RabbitBroker(self.settings.rabbitmq_url, logger=None)
        return self._rabbit

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            self._redis = redis_client(self.settings.redis_url, name=self.settings.service)
        return self._redis

    # ------------------------------------------------------------------ what it runs

    def consume(
        self,
        topics: Sequence[str],
        *,
        group_id: str,
        handler: EventHandler,
        policy: RetryPolicy | None = None,
        events: Collection[type[EventPayload]] | None = None,
        wait: float = 0.0,
    ) -> None:
        """A Kafka consumer group with the failure policy: retries, then the dead-letter topic.
        ``events``: the only payload types the handler acts on — the topics' other records are
        passed by undecoded, by their ``event_type`` header (None: the handler sees them all);
        ``wait``: how long a record may wait to share a fetch with others (blazing_es.subscribe)."""
        runner = ConsumerRunner(
            service=self.settings.service,
            group_id=group_id,
            handler=handler,
            dead_letters=BrokerDeadLetterSink(self.kafka),
            policy=policy or RetryPolicy(),
            event_types=None if events is None else [REGISTRY.spec_of(e).event_type for e in events],
        )
        subscribe(self.kafka, topics, runner, wait=wait)

    def command(self, job_type: str, handler: CommandHandler, *, concurrency: int = 1, prefetch: int = 16) -> None:
        """Consumes a RabbitMQ command queue (retry tiers, dead letters), ``concurrency`` deliveries
        at once with up to ``prefetch`` handed out ahead."""
        runner = CommandRunner(self.rabbit, service=self.settings.service, job_type=job_type, handler=handler)
        self._subscriptions.append(
            subscribe_command(
                self.rabbit,
                runner,
                concurrency=concurrency,
                prefetch=prefetch,
                queue_type=self.settings.rabbitmq_queue_type,
            )
        )

    def relay(self) -> None:
        """Publishes the service's outbox to Kafka (one leader among its instances)."""
        assert self.settings.database_url
        bootstrap, service = self.settings.kafka_bootstrap, self.settings.service
        self._relay = OutboxRelay(
            self.settings.database_url, lambda: kafka_producer(bootstrap, f"{service}-relay"), service=service
        )

    def every(self, seconds: float, job: Callable[[], Awaitable[Any]], name: str, *, now: bool = False) -> None:
        self._periodic.append((seconds, job, name, now))

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Runs once the database is open, before the brokers start (e.g. load keys)."""
        self._on_start.append(hook)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Runs first on shutdown (e.g. drain background work)."""
        self._on_stop.append(hook)

    # ------------------------------------------------------------------ the lifespan

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Litestar) -> AsyncIterator[None]:
        if self._pool is not None:
            await open_pool(self._pool, self._migrations, install)
        for hook in self._on_start:
            await hook()
        for broker, name in ((self._kafka, "kafka"), (self._rabbit, "rabbitmq")):
            if broker is not None:
                self._tasks.append(asyncio.create_task(start_broker(broker, name)))
        if self._relay is not None:
            self._relay_task = asyncio.create_task(self._relay.run())
        for seconds, job, name, now in self._periodic:
            self._tasks.append(asyncio.create_task(periodically(seconds, job, name, now=now)))
        try:
            yield
        finally:
            await self._stop()

    async def _stop(self) -> None:
        for hook in self._on_stop:
            with contextlib.suppress(Exception):
                await hook()
        if self._rabbit is not None:
            for subscriber in self._rabbit.subscribers:
                with contextlib.suppress(Exception):
                    await subscriber.stop()
        for subscription in self._subscriptions:
            await subscription.drain()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._relay is not None and self._relay_task is not None:
            self._relay.stop()  # it finishes the batch in hand and gives up its leadership
            await self._relay_task
        for broker in (self._kafka, self._rabbit):
            if broker is not None:
                with contextlib.suppress(Exception):
                    await broker.stop()
        if self._redis is not None:
            await self._redis.aclose()
        if self._pool is not None:
            await self._pool.close()

    def readiness(self) -> list[tuple[str, Check]]:
        """A check per declared dependency."""
        checks: list[tuple[str, Check]] = []
        if self._pool is not None:
            database = self._pool

            async def database_ok() -> None:
                async with database.connection() as conn:
                    await conn.execute("SELECT 1")

            checks.append(("database", database_ok))
        for broker, name in ((self._kafka, "kafka"), (self._rabbit, "rabbitmq")):
            if broker is not None:
                checks.append((name, _broker_check(broker)))
        if self._redis is not None:
            redis = self._redis

            async def redis_ok() -> None:
                await redis.ping()

            checks.append(("redis", redis_ok))
        return checks


def _broker_check(broker: KafkaBroker | RabbitBroker) -> Check:
    async def check() -> None:
        if not await broker.ping(timeout=2):
            raise ConnectionError(f"{type(broker).__name__} does not answer")

    return check
