"""Dependencies (PostgreSQL, Redis, RabbitMQ, Kafka) going away and coming back, told once each: one
WARNING line when one becomes unreachable, one INFO line when it is back, the gauge
``dependency_up{dependency}`` and the counter ``dependency_outages_total{dependency}`` — instead of
a line per retry of every client's reconnect loop (aiokafka alone wrote 2,000 to 5,000 ERROR lines
per service in a 15 s Kafka outage).

How an outage is noticed: a filter on the service's log handlers (``DependencyFilter``, installed by
``logs.configure``) takes the records that say a dependency cannot be reached — the drivers'
reconnect loops (aiokafka, aio-pika / aiormq, psycopg_pool), records carrying a driver's connection
error (a failed request, the outbox relay), records logged with ``extra={"dependency": name}`` —
swallows them and tells ``Dependencies.down``. While a dependency is down a probe connects to its
address every second; it is back once that succeeds and none of its clients failed for ``quiet``
seconds (the clients reconnect on their own; the probe only decides when to say so). A long outage
gets a reminder a minute, with the number of records swallowed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import re
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

DEPENDENCY_UP = Gauge("dependency_up", "1 while the dependency answers, 0 during an outage", ["dependency"])
OUTAGES = Counter("dependency_outages", "Outages of a dependency seen by this service", ["dependency"])
FAILURES = Counter("dependency_failures", "Failures of a dependency's clients (log records swallowed)", ["dependency"])

POSTGRES, REDIS, RABBITMQ, KAFKA = "postgres", "redis", "rabbitmq", "kafka"

# reconnect loops: every WARNING+ of these loggers is about the connection
_LOGGERS = (("psycopg.pool", POSTGRES), ("aio_pika", RABBITMQ), ("aiormq", RABBITMQ))
# aiokafka warns about other things too (rebalances, commits): only these say the broker is away
_KAFKA_LOGGERS = ("aiokafka", "kafka")
_KAFKA_SIGNS = re.compile(
    r"Unable (to )?connect|Unable to (update|request) metadata|Unable to bootstrap|NodeNotReady|"
    r"KafkaConnectionError|Connection (at .* )?(refused|reset|closed)|coordinator dead|"
    r"CoordinatorNotAvailable|NotCoordinator|LeaderNotAvailable|NotLeaderForPartition|RequestTimedOut|"
    r"KafkaTimeoutError|Failed fetch messages|Group Coordinator Request failed|Got error produce response|"
    r"coordinator \(node \w+\) is either not started or not valid"
)


def _of_exception(exc: BaseException) -> str | None:
    """The dependency a driver's connection error belongs to (None: not such an error)."""
    for cls in type(exc).__mro__:
        module, name = cls.__module__, cls.__name__
        if module.startswith("redis") and name in ("ConnectionError", "TimeoutError", "BusyLoadingError"):
            return REDIS
        if module.startswith("psycopg_pool") and name == "PoolTimeout":
            return POSTGRES
        if module.startswith("psycopg") and name == "OperationalError":
            # the connection failed or was shut down (no SQLSTATE, class 08, 57P01-03), not a query
            # cancelled or a lock not granted (other OperationalErrors)
            state = getattr(exc, "sqlstate", None)
            return POSTGRES if state is None or state.startswith(("08", "57P")) else None
        if module.startswith(("aiormq", "aio_pika", "pamqp")) and ("Connection" in name or "Channel" in name):
            return RABBITMQ
        if module.startswith(("aiokafka", "kafka")) and name in (
            "KafkaConnectionError",
            "NodeNotReadyError",
            "KafkaTimeoutError",
            "RequestTimedOutError",
        ):
            return KAFKA
    return None


def dependency_of(record: logging.LogRecord) -> str | None:
    """Which dependency's outage ``record`` reports, if any."""
    if named := getattr(record, "dependency", None):
        return str(named)
    if record.levelno < logging.WARNING:
        return None
    for prefix, dependency in _LOGGERS:
        if record.name == prefix or record.name.startswith(prefix + "."):
            return dependency
    if record.name.startswith(_KAFKA_LOGGERS) and _KAFKA_SIGNS.search(record.getMessage()):
        return KAFKA
    return outage_of(record.exc_info[1]) if record.exc_info and record.exc_info[1] else None


def outage_of(exc: BaseException) -> str | None:
    """The dependency whose outage ``exc`` (or what caused it) is, if any — e.g. for an error
    handler to answer 503 rather than 500."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if found := _of_exception(current):
            return found
        current = current.__cause__ or current.__context__
    return None


def addresses(url: str) -> list[tuple[str, int]]:
    """``host:port`` pairs of a URL, a libpq key=value string or a Kafka bootstrap list."""
    if "://" in url:
        parts = urlsplit(url)
        netloc = parts.netloc.rpartition("@")[2]
        default = {"postgresql": 5432, "postgres": 5432, "redis": 6379, "amqp": 5672}.get(parts.scheme, 0)
        hosts = netloc.split(",")
    elif "=" in url:
        fields = dict(f.split("=", 1) for f in url.split() if "=" in f)
        hosts, default = [f"{fields.get('host', '127.0.0.1')}:{fields.get('port', '5432')}"], 5432
    else:
        hosts, default = url.split(","), 9092
    found = []
    for host in hosts:
        name, colon, port = host.strip().rpartition(":")
        if not colon:
            name, port = port, str(default)
        found.append((name.strip("[]") or "127.0.0.1", int(port or default)))
    return found


class _State:
    def __init__(self) -> None:
        self.down_since: float | None = None
        self.last_failure = 0.0
        self.last_reminder = 0.0
        self.swallowed = 0
        self.sources: collections.Counter[str] = collections.Counter()
        self.probe: asyncio.Task[None] | None = None


class Dependencies:
    """The service's view of its dependencies (one per process: the log filter has no other way in)."""

    def __init__(self, *, quiet: float = 3.0, probe_every: float = 1.0, remind_every: float = 60.0) -> None:
        self.quiet, self.probe_every, self.remind_every = quiet, probe_every, remind_every
        self._addresses: dict[str, list[tuple[str, int]]] = {}
        self._watched: set[str] = set()
        self._states: dict[str, _State] = {}

    def watch(self, dependency: str, address: str | Iterable[tuple[str, int]]) -> None:
        """A dependency this service uses (its clients' factories say so), at ``address``: its gauge
        reads 1 until an outage is seen."""
        self.locate(dependency, address)
        self._watched.add(dependency)
        if not self.is_down(dependency):
            DEPENDENCY_UP.labels(dependency).set(1)

    def locate(self, dependency: str, address: str | Iterable[tuple[str, int]]) -> None:
        """Where the probe finds ``dependency`` (the gauge appears with its first outage)."""
        self._addresses[dependency] = addresses(address) if isinstance(address, str) else list(address)

    def watched(self) -> list[str]:
        """The dependencies this service's clients use (``watch``), and any seen failing."""
        return sorted(self._watched | {d for d, s in self._states.items() if s.down_since is not None})

    def is_down(self, dependency: str) -> bool:
        state = self._states.get(dependency)
        return state is not None and state.down_since is not None

    def down(self, dependency: str, reason: str, source: str = "") -> None:
        """``source``: who failed (a logger's name), counted for the line that it is back."""
        state = self._states.setdefault(dependency, _State())
        now = time.monotonic()
        state.last_failure = now
        FAILURES.labels(dependency).inc()
        if state.down_since is None:
            state.down_since = state.last_reminder = now
            state.swallowed = 0
            state.sources.clear()
            DEPENDENCY_UP.labels(dependency).set(0)
            OUTAGES.labels(dependency).inc()
            log.warning(
                "%s unreachable: %s (the clients reconnect on their own; their errors are counted in"
                " dependency_failures_total, not logged, until it is back)",
                dependency,
                reason[:500],
            )
        else:
            state.swallowed += 1
            state.sources[source] += 1
            if now - state.last_reminder >= self.remind_every:
                state.last_reminder = now
                log.warning(
                    "%s still unreachable after %.0f s (%d client errors since): %s",
                    dependency,
                    now - state.down_since,
                    state.swallowed,
                    reason[:500],
                )
        if state.probe is None or state.probe.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # logged outside the event loop (a thread): the next failure starts it
                return
            # a context of its own: the line that it is back belongs to no request
            state.probe = loop.create_task(self._until_back(dependency, state), context=contextvars.Context())

    def up(self, dependency: str) -> None:
        state = self._states.get(dependency)
        if state is None or state.down_since is None:
            return
        DEPENDENCY_UP.labels(dependency).set(1)
        log.info(
            "%s is back after %.1f s (%d client errors were not logged%s)",
            dependency,
            time.monotonic() - state.down_since,
            state.swallowed,
            "".join(f"; {n} from {name or '?'}" for name, n in state.sources.most_common(3)),
        )
        state.down_since = None

    async def _until_back(self, dependency: str, state: _State) -> None:
        while state.down_since is not None:
            await asyncio.sleep(self.probe_every)
            if time.monotonic() - state.last_failure >= self.quiet and await self._answers(dependency):
                self.up(dependency)

    async def _answers(self, dependency: str) -> bool:
        """Whether something accepts connections at the dependency's address (unknown: assumed so
        once its clients stopped failing)."""
        for host, port in self._addresses.get(dependency, ()):
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
            except (OSError, TimeoutError):
                continue
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            return True
        return dependency not in self._addresses


DEPENDENCIES = Dependencies()


class DependencyFilter(logging.Filter):
    """On a log handler: a record reporting a dependency's outage becomes ``Dependencies.down`` and
    is not written (the outage's first one is told by the line ``down`` writes)."""

    def __init__(self, dependencies: Dependencies = DEPENDENCIES) -> None:
        super().__init__()
        self.dependencies = dependencies

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == __name__:
            return True
        if getattr(record, "_dependency_told", False):  # seen by the filter of another handler
            return False
        dependency = dependency_of(record)
        if dependency is None:
            return True
        record._dependency_told = True
        reason = record.getMessage().splitlines()[0] if record.msg else ""
        if record.exc_info and record.exc_info[1] is not None:
            reason = f"{reason}: {type(record.exc_info[1]).__name__}: {record.exc_info[1]}".strip(": ")
        self.dependencies.down(dependency, reason, record.name)
        return False
