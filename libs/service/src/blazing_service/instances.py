"""Another service's instances, for a service that calls it over HTTP (web, ops, the gateway; #20): its
URL setting may list several, comma-separated (``AUTH_URL=http://auth:8002,http://auth-2:8002``);
one URL is one instance. ``Rotation`` is the one round-robin every caller uses: the gateway's pools
(gateway/adapters/upstreams.py: probed, an instance ejected until a probe passes) and the others'
``InstancesTransport`` here. Those others address their calls to the first URL (``first_instance``);
the transport sends each to one of the instances, and when one refuses the connection or does not
accept it in time (a stopped instance; nothing was sent) it is passed over for
``PASS_OVER_SECONDS`` and the call goes to the next one; a safe call (``SAFE_METHODS``) an instance
drops unanswered goes to the next one too. A setting of one URL passes its calls through untouched."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

import httpx

PASS_OVER_SECONDS = 2.0
"""How long an instance that refused a connection gets no calls (then one is tried again)."""
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods safe to send twice (RFC 9110 §9.2.2): a call of one that an instance dropped unanswered
(killed mid-call) is asked of the next instance; any other fails, since it may have been acted on."""

Origin = tuple[bytes, bytes, int | None]
T = TypeVar("T")


class Rotation(Generic[T]):
    """Round-robin over a service's instances: each call's order starts one further on; the
    instances ``usable`` refuses are left out — unless it refuses every one, when all are tried
    (what says an instance is down may lag its restart)."""

    def __init__(self, items: Sequence[T]) -> None:
        self.items = items
        self._turn = 0

    def order(self, usable: Callable[[T], bool]) -> list[T]:
        turn, count = self._turn, len(self.items)
        self._turn = (turn + 1) % count
        rotated = [*self.items[turn:], *self.items[:turn]]
        return [i for i in rotated if usable(i)] or rotated


def instance_urls(setting: str) -> list[str]:
    """The instances a URL setting lists (comma-separated), without a trailing slash."""
    return [url.strip().rstrip("/") for url in setting.split(",") if url.strip()]


def first_instance(setting: str) -> str:
    """The URL calls are addressed to: the setting's first instance."""
    urls = instance_urls(setting)
    return urls[0] if urls else setting


def _origin(url: httpx.URL) -> Origin:
    return (url.raw_scheme, url.raw_host, url.port)


class InstancesTransport(httpx.AsyncBaseTransport):
    """Spreads the calls to each service of several instances over them (see the module)."""

    def __init__(
        self,
        settings: Iterable[str],
        inner: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner or httpx.AsyncHTTPTransport()
        self._clock = clock
        self._groups: dict[Origin, Rotation[httpx.URL]] = {}
        self._out_until: dict[Origin, float] = {}
        for setting in settings:
            urls = [httpx.URL(u) for u in instance_urls(setting)]
            if len(urls) > 1:
                self._groups[_origin(urls[0])] = Rotation(urls)

    def _order(self, key: Origin) -> list[httpx.URL]:
        """The instances to try for one call: those not passed over, each call starting at the next."""
        now = self._clock()
        return self._groups[key].order(lambda u: self._out_until.get(_origin(u), 0.0) <= now)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = _origin(request.url)
        if key not in self._groups:
            return await self._inner.handle_async_request(request)
        failure: httpx.TransportError | None = None
        for instance in self._order(key):
            request.url = request.url.copy_with(scheme=instance.scheme, host=instance.host, port=instance.port)
            request.headers["host"] = instance.netloc.decode("ascii")
            try:
                return await self._inner.handle_async_request(request)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                self._out_until[_origin(instance)] = self._clock() + PASS_OVER_SECONDS
                failure = exc
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if request.method not in SAFE_METHODS:
                    raise
                failure = exc  # dropped unanswered (an instance killed mid-call): safe to ask the next
        assert failure is not None
        raise failure

    async def aclose(self) -> None:
        await self._inner.aclose()
