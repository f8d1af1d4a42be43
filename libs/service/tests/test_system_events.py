"""system.events: a health check always names what it checked, the heartbeat survives a check list
that cannot be built, and a producer that could not start is started again later."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar import Litestar

from blazing_contracts import EventPayload
from blazing_contracts.events.system import HealthCheck, ServiceStarted
from blazing_service import system_events
from blazing_service.dependencies import Dependencies
from blazing_service.system_events import SystemEvents, lifespan


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[EventPayload]:
    sent: list[EventPayload] = []

    async def publish(self: SystemEvents, payload: EventPayload) -> None:
        sent.append(payload)

    async def start(self: SystemEvents) -> None:
        return None

    monkeypatch.setattr(SystemEvents, "publish", publish)
    monkeypatch.setattr(SystemEvents, "start", start)
    monkeypatch.setattr(system_events, "DEPENDENCIES", Dependencies())  # none watched by other tests
    return sent


async def health_checks(published: list[EventPayload], readiness: Any) -> list[HealthCheck]:
    async with lifespan("web", "127.0.0.1:1", readiness, 0.05)(Litestar([])):
        await asyncio.sleep(0.3)
    return [p for p in published if isinstance(p, HealthCheck)]


async def test_a_service_without_readiness_checks_still_names_what_it_checked(published: list[EventPayload]) -> None:
    checks = await health_checks(published, None)
    assert checks
    assert all(c.checks for c in checks), [c.checks for c in checks]
    assert checks[0].checks == {"kafka": "ok"}


async def test_the_readiness_checks_and_the_dependencies_are_both_named(published: list[EventPayload]) -> None:
    async def ok() -> None:
        return None

    checks = await health_checks(published, lambda app: [("database", ok), ("redis", ok)])
    assert checks[0].checks == {"database": "ok", "redis": "ok", "kafka": "ok"}
    assert checks[0].status == "ok"


async def test_a_check_list_that_cannot_be_built_is_a_failing_check_not_a_dead_heartbeat(
    published: list[EventPayload],
) -> None:
    checks = await health_checks(published, lambda app: [("database", app.state.pool)])  # no pool yet
    assert len(checks) >= 2, "the heartbeat goes on"
    assert checks[0].checks["readiness"] == "failing: AttributeError"
    assert checks[0].status == "degraded"


class FlakyProducer:
    """A producer whose first start fails (Kafka down when the service started)."""

    starts = 0
    sent: list[str] = []

    def __init__(self, **_: Any) -> None:
        pass

    async def start(self) -> None:
        FlakyProducer.starts += 1
        if FlakyProducer.starts == 1:
            raise ConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")

    async def stop(self) -> None:
        return None

    async def send_and_wait(self, topic: str, value: bytes, **_: Any) -> None:
        FlakyProducer.sent.append(topic)


async def test_a_producer_that_could_not_start_is_started_again_later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system_events, "AIOKafkaProducer", FlakyProducer)
    monkeypatch.setattr(system_events, "RESTART_EVERY", 0.1)
    events = SystemEvents("web", "127.0.0.1:1")
    await events.start()
    await events.publish(ServiceStarted(service="web", instance="i", version="1"))
    assert FlakyProducer.sent == []  # right after the failure: not yet again
    await asyncio.sleep(0.15)
    await events.publish(ServiceStarted(service="web", instance="i", version="1"))
    assert FlakyProducer.starts == 2
    assert FlakyProducer.sent == ["system.events"]
    await events.stop()
