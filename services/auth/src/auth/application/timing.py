"""Equal answers in equal time for known and unknown e-mail addresses (no enumeration by timing).

Work that only a known (or only an unknown) address causes runs after the answer where it can
(``Background``). What cannot — a new sign-up waits for the users service to create the profile,
an already-registered address has nothing to wait for — is matched by ``Twin``: the path without
the wait takes as long (and has the same outcome — a sign-up confirmed in time or still queued) as
a recent run of the path with it, drawn at random from the last ones measured, so both answer with
the same distribution of times.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class Twin(Generic[T]):
    def __init__(self, default_seconds: float, default_outcome: T, keep: int = 64, fresh_for: float = 60.0) -> None:
        self._recent: deque[tuple[float, float, T]] = deque(maxlen=keep)  # (when, seconds, outcome)
        self._default = (default_seconds, default_outcome)
        self._fresh_for = fresh_for
        self._late = 0.0
        self._random = random.SystemRandom()

    def measured(self, seconds: float, outcome: T) -> None:
        """A run of the path with the wait took ``seconds`` and ended with ``outcome``."""
        self._recent.append((time.monotonic(), seconds, outcome))

    def _draw(self) -> tuple[float, T]:
        """A recent run: from the last minute only, so that the imitation follows the load now."""
        since = time.monotonic() - self._fresh_for
        fresh = [(seconds, outcome) for when, seconds, outcome in self._recent if when >= since]
        if fresh:
            return self._random.choice(fresh)
        if self._recent:
            _when, seconds, outcome = self._recent[-1]
            return seconds, outcome
        return self._default

    async def imitate(self, started: float) -> T:
        """Waits until as long after ``started`` (``time.monotonic()``) as a recent run took, and
        returns the outcome that run had. A loaded event loop wakes a sleeper late: how late is
        measured and taken off the next waits, so the imitation does not run systematically slow."""
        seconds, outcome = self._draw()
        wake = started + seconds
        await asyncio.sleep(max(0.0, wake - self._late - time.monotonic()))
        self._late = 0.8 * self._late + 0.2 * max(0.0, time.monotonic() - (wake - self._late))
        return outcome


class Background:
    """Tasks that run after the answer was sent, kept referenced until done, drained at shutdown;
    a failure is logged (the work is the kind a person can ask for again: a mail, a code).

    The work starts ``after`` seconds later: begun at once, a known address's work (reads, a code,
    a mail) took the CPU while the answer was still on its way to the client, so on a busy machine
    the known address's answer arrived later — a timing difference this class exists to remove."""

    def __init__(self, after: float = 0.05) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.after = after

    def run(self, work: Coroutine[Any, Any, None], name: str) -> None:
        async def guarded() -> None:
            try:
                await asyncio.sleep(self.after)
                await work
            except Exception:
                log.exception("background %s failed", name)

        task = asyncio.create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
