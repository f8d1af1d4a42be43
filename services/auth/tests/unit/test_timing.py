"""The twin of a slow path: it answers what a recent run answered, as late as it answered."""

from __future__ import annotations

import asyncio
import time

from auth.application.timing import Background, Twin


async def test_the_twin_takes_as_long_as_a_recent_run_and_answers_its_status() -> None:
    twin = Twin(default_seconds=0.0, default_outcome=201)
    twin.measured(0.05, 202)
    started = time.monotonic()
    assert await twin.imitate(started) == 202
    assert 0.04 <= time.monotonic() - started < 0.2


async def test_without_a_fresh_run_the_latest_one_counts() -> None:
    twin = Twin(default_seconds=0.0, default_outcome=201, fresh_for=0.0)
    assert await twin.imitate(time.monotonic()) == 201  # nothing measured yet: the default
    twin.measured(0.01, 202)
    await asyncio.sleep(0.01)
    assert await twin.imitate(time.monotonic()) == 202


async def test_it_waits_no_longer_than_the_run_took_after_a_late_start() -> None:
    twin = Twin(default_seconds=0.0, default_outcome=201)
    twin.measured(0.01, 201)
    started = time.monotonic() - 1.0  # the path itself took longer already
    before = time.monotonic()
    await twin.imitate(started)
    assert time.monotonic() - before < 0.05


async def test_background_work_starts_once_the_answer_is_well_away() -> None:
    """Begun at once, a known address's work competed with its own answer for the CPU (a timing
    difference under load); it waits a moment, is still done, and a shutdown still drains it."""
    started: list[float] = []

    async def work() -> None:
        started.append(asyncio.get_running_loop().time())

    background = Background(after=0.05)
    asked = asyncio.get_running_loop().time()
    background.run(work(), "test")
    await asyncio.sleep(0.01)
    assert started == []
    await background.drain()
    assert started
    assert started[0] - asked >= 0.05
