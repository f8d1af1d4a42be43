"""Another service's instances, for a service that calls it over HTTP (web, ops; #20): its URL setting
may list several, comma-separated (``AUTH_URL=http://auth:8002,http://auth-2:8002``), as the
gateway's settings do. Calls are made to the first URL (``first_instance``); the client's
``InstancesTransport`` sends each to one of the instances, round-robin, and when one refuses the
connection or does not accept it in time (a stopped instance; nothing was sent) it is passed over
for ``PASS_OVER_SECONDS`` and the call goes to the next one. A setting of one URL is one instance,
as before: its calls pass through untouched."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import httpx

PASS_OVER_SECONDS = 2.0
"""How long an instance that refused a connection gets no calls (then one is tried again)."""

Origin = tuple[bytes, bytes, int | None]


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
        self._groups: dict[Origin, list[httpx.URL]] = {}
        self._turn: dict[Origin, int] = {}
        self._out_until: dict[Origin, float] = {}
        for setting in settings:
            urls = [httpx.URL(u) for u in instance_urls(setting)]
            if len(urls) > 1:
                self._groups[_origin(urls[0])] = urls

    def _order(self, key: Origin) -> list[httpx.URL]:
        """The instances to try for one call: those not passed over, each call starting at the next;
        every one of them when all are passed over."""
        group = self._groups[key]
        turn = self._turn.get(key, 0)
        self._turn[key] = (turn + 1) % len(group)
        rotated = group[turn:] + group[:turn]
        now = self._clock()
        return [u for u in rotated if self._out_until.get(_origin(u), 0.0) <= now] or rotated

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
        assert failure is not None
        raise failure

    async def aclose(self) -> None:
        await self._inner.aclose()
