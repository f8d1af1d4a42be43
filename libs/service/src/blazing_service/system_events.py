"""system.events from every service: service_started once it is up, service_stopped when it stops,
a periodic health_check with its readiness checks, and its ERROR / WARNING log records as
system.error / system.warning (at most ``burst`` a minute, so a failure storm cannot flood Kafka).

Operational events, not domain state: published straight to Kafka (no outbox); when Kafka is down
they are dropped with a debug log — they never hold a service up or take it down. A producer that
could not start (Kafka down when the service started) is started again later, not given up on.

A health check always names what it checked: the service's readiness checks and the state of each
dependency its clients use (``dependencies``; Kafka at least, which carries the event). A service
without readiness checks (web) once published ``checks: {}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from litestar import Litestar

from blazing_contracts import EventPayload, encode_event, make_event, record_headers
from blazing_contracts.events.system import HealthCheck, ServiceError, ServiceStarted, ServiceStopped, ServiceWarning
from blazing_contracts.topology import SYSTEM_EVENTS
from blazing_service.dependencies import DEPENDENCIES, KAFKA, POSTGRES, RABBITMQ, REDIS, DependencyFilter

log = logging.getLogger(__name__)
Check = Callable[[], Awaitable[None]]
QUIET_LOGGERS = ("aiokafka", "blazing_service.system_events", "kafka")
RESTART_EVERY = 15.0
"""Seconds between attempts to start a producer that could not start."""


class SystemEvents:
    def __init__(self, service: str, bootstrap: str, *, version: str = "1.0.0", burst: int = 10) -> None:
        self.service = service
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self.version = version
        self._bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None
        self._last_start = -RESTART_EVERY
        self._starting = asyncio.Lock()
        self._sequence = 0
        self._burst = burst
        self._window: list[float] = []
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        async with self._starting:
            if self._producer is not None:
                return
            self._last_start = time.monotonic()
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap, client_id=f"{self.service}-system-events", acks="all"
            )
            try:
                await asyncio.wait_for(producer.start(), 10)
            except Exception as exc:
                log.debug("system events off until Kafka answers (next try in %.0f s): %r", RESTART_EVERY, exc)
                with contextlib.suppress(Exception):
                    await producer.stop()
                return
            self._producer = producer

    async def stop(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._producer.stop(), 5)
            self._producer = None

    async def publish(self, payload: EventPayload) -> None:
        if self._producer is None and time.monotonic() - self._last_start >= RESTART_EVERY:
            await self.start()
        if self._producer is None:
            return
        self._sequence += 1
        event = make_event(
            payload,
            event_id=uuid.uuid4(),
            aggregate_id=self.instance,
            aggregate_version=self._sequence,
            occurred_at=datetime.now(UTC),
            producer=self.service,
            correlation_id=f"system-{self.instance}",
        )
        try:
            await asyncio.wait_for(
                self._producer.send_and_wait(
                    SYSTEM_EVENTS,
                    encode_event(event),
                    key=self.instance.encode(),
                    headers=[(k, v.encode()) for k, v in record_headers(event).items()],
                ),
                5,
            )
        except Exception as exc:
            log.debug("system event %s dropped: %r", event.event_type, exc)

    async def started(self) -> None:
        await self.publish(ServiceStarted(service=self.service, instance=self.instance, version=self.version))

    async def stopped(self, reason: str = "shutdown") -> None:
        await self.publish(ServiceStopped(service=self.service, instance=self.instance, reason=reason))

    async def health(self, checks: Sequence[tuple[str, Check]]) -> None:
        """Runs the readiness checks and publishes them with the state of every dependency the
        service's clients use (never an empty ``checks``: Kafka, which carries it, is one)."""
        results: dict[str, str] = {}
        for name, check in checks:
            try:
                await asyncio.wait_for(check(), 5)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failing: {type(exc).__name__}"
        for dependency in DEPENDENCIES.watched():
            if dependency == POSTGRES and "database" in results:
                continue  # the readiness check said it already, with a round trip
            results.setdefault(dependency, "failing: unreachable" if DEPENDENCIES.is_down(dependency) else "ok")
        status = "ok" if all(v == "ok" for v in results.values()) else "degraded"
        await self.publish(HealthCheck(service=self.service, instance=self.instance, status=status, checks=results))

    def logged(self, record: logging.LogRecord) -> None:
        """From the log handler: an ERROR or WARNING becomes an event (rate limited)."""
        if self._producer is None or record.name.startswith(QUIET_LOGGERS):
            return
        now = time.monotonic()
        self._window = [t for t in self._window if now - t < 60]
        if len(self._window) >= self._burst:
            return
        self._window.append(now)
        detail = logging.Formatter().formatException(record.exc_info) if record.exc_info else None
        message = record.getMessage()[:2000]
        payload: EventPayload
        if record.levelno >= logging.ERROR:
            error_type = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else record.name
            payload = ServiceError(
                service=self.service, instance=self.instance, message=message, error_type=error_type, detail=detail
            )
        else:
            payload = ServiceWarning(service=self.service, instance=self.instance, message=message, detail=detail)
        try:
            task = asyncio.get_running_loop().create_task(self.publish(payload))
        except RuntimeError:  # logged outside the event loop (a thread): not published
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


class SystemEventsHandler(logging.Handler):
    def __init__(self, events: SystemEvents) -> None:
        super().__init__(logging.WARNING)
        self.events = events
        self.addFilter(DependencyFilter())  # an outage is one event, not one per retry of a client

    def emit(self, record: logging.LogRecord) -> None:
        self.events.logged(record)


def lifespan(
    service: str,
    bootstrap: str,
    readiness: Callable[[Litestar], Sequence[tuple[str, Check]]] | None,
    interval: float,
) -> Callable[[Litestar], contextlib.AbstractAsyncContextManager[None]]:
    """The lifespan that publishes the service's system events (last in the list: it starts once
    everything else is up and stops first)."""

    @contextlib.asynccontextmanager
    async def run(app: Litestar) -> AsyncIterator[None]:
        DEPENDENCIES.watch(KAFKA, bootstrap)  # every service is a Kafka client: this one, at least
        locate(app)
        events = SystemEvents(service, bootstrap)
        await events.start()
        handler = SystemEventsHandler(events)
        logging.getLogger().addHandler(handler)
        await events.started()

        async def beat() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    checks = readiness(app) if readiness else ()
                except Exception as exc:  # a check list that cannot be built is a failing check
                    checks = [("readiness", failing(exc))]
                await events.health(checks)

        beating = asyncio.create_task(beat())
        app.state.system_events = events
        try:
            yield
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            logging.getLogger().removeHandler(handler)
            await events.stopped()
            await events.stop()

    return run


def failing(exc: Exception) -> Check:
    async def check() -> None:
        raise exc

    return check


def locate(app: Litestar) -> None:
    """Where the dependency probes find what the service's settings name (``dependencies``)."""
    settings = getattr(app.state, "settings", None)
    for dependency, address in (
        (POSTGRES, getattr(settings, "database_url", None)),
        (REDIS, getattr(settings, "redis_url", None)),
        (RABBITMQ, getattr(settings, "rabbitmq_url", None)),
    ):
        if isinstance(address, str) and address:
            with contextlib.suppress(ValueError):
                DEPENDENCIES.locate(dependency, address)
