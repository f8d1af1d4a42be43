"""The instances behind each service (#20): pooled connections to each, requests spread round-robin
over the healthy ones, a dead or draining instance ejected within 2 s (the probe interval and its
timeout; at once when a connection to it is refused) and taken back when it answers its /health
again. A service of one instance is not probed: there is no other to send its requests to.

A service's URL setting (``USERS_URL``, …) lists its instances, comma-separated; one URL is one
instance, as before."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import aiohttp

from blazing_service.instances import Rotation

log = logging.getLogger(__name__)
PROBE_SECONDS = 1.0
"""How often each instance's /health is asked: a dead instance gets no requests after at most this
plus the probe's timeout."""
PROBE_TIMEOUT = aiohttp.ClientTimeout(total=0.8)
KEEPALIVE_SECONDS = 4.0
"""How long an idle pooled connection to an instance is kept: less than the instance's own keep-alive
(blazing_service.serve.KEEP_ALIVE_SECONDS), so that no request is sent on a connection the instance
is closing at that moment."""


@dataclass(eq=False)
class Instance:
    url: str
    session: aiohttp.ClientSession
    healthy: bool = True


@dataclass(eq=False)
class Upstream:
    """One service's instances."""

    name: str
    instances: list[Instance]
    _rotation: Rotation[Instance] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rotation = Rotation(self.instances)

    def order(self) -> Iterator[Instance]:
        """The instances to try for one request: the healthy ones, each request starting at the next
        (round-robin); when none is known healthy, every one of them (the probes may lag a restart)."""
        yield from self._rotation.order(lambda i: i.healthy)

    def refused(self, instance: Instance) -> None:
        """A connection to ``instance`` was refused: no request goes there until a probe passes."""
        if instance.healthy:
            log.info("%s instance %s refused a connection: ejected", self.name, instance.url)
        instance.healthy = False

    async def probe(self) -> None:
        """Asks every instance's /health once (concurrently) and marks each healthy or not (a
        service of one instance is left as it is)."""
        if len(self.instances) < 2:
            return

        async def check(instance: Instance) -> None:
            try:
                async with instance.session.get("/health", timeout=PROBE_TIMEOUT) as response:
                    healthy = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                healthy = False
            if healthy != instance.healthy:
                log.info("%s instance %s %s", self.name, instance.url, "is back" if healthy else "is ejected")
            instance.healthy = healthy

        await asyncio.gather(*(check(i) for i in self.instances))

    async def close(self) -> None:
        for instance in self.instances:
            await instance.session.close()


def upstream_pools(instances: Mapping[str, list[str]], read_timeout: float) -> dict[str, Upstream]:
    """A pool per service, one client session (its own connection pool) per instance; made on the
    running loop."""
    timeout = aiohttp.ClientTimeout(total=None, connect=2.0, sock_read=read_timeout)

    def session(url: str) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            base_url=url,
            timeout=timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            connector=aiohttp.TCPConnector(limit=256, keepalive_timeout=KEEPALIVE_SECONDS),
        )

    return {name: Upstream(name, [Instance(url, session(url)) for url in urls]) for name, urls in instances.items()}
