"""The runtime's own behaviour: periodic tasks outlive a failing run, a broker that cannot be
reached at start is started later instead of the process exiting."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from blazing_service import runtime
from blazing_service.runtime import periodically, start_broker


async def test_a_periodic_task_keeps_running_after_a_failure() -> None:
    runs: list[int] = []

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise RuntimeError("one bad run")

    task = asyncio.create_task(periodically(0.01, job, "test", now=True))
    await asyncio.sleep(0.08)
    task.cancel()
    assert len(runs) >= 4


class FlakyBroker:
    def __init__(self, failures: int) -> None:
        self.failures, self.started, self.stops = failures, 0, 0

    async def start(self) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("not yet")
        self.started += 1

    async def stop(self) -> None:
        self.stops += 1


async def test_a_broker_down_at_start_is_started_once_it_answers(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runtime, "RETRY", 0.01)
    broker: Any = FlakyBroker(failures=3)
    await asyncio.wait_for(start_broker(broker, "kafka"), timeout=2)
    assert broker.started == 1
    assert broker.stops == 3, "each failed attempt is cleaned up"
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, "told once, not once per attempt"
