"""Run a service's app with uvicorn on SERVICE_HOST:SERVICE_PORT, and drain it before it stops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys
import threading
import time
from types import FrameType

import uvicorn
from litestar import Litestar

from blazing_service import logs
from blazing_service.http import DRAINING
from blazing_service.settings import ServiceSettings

log = logging.getLogger(__name__)

KEEP_ALIVE_SECONDS = 15.0
"""How long an idle connection stays open: well over what any caller keeps one pooled (nginx and the
gateways' pools 4 s, httpx 5 s), so that the caller always lets go first. uvicorn's own 5 s left
httpx no margin and the others 1 s, which a loaded event loop eats: a request sent on a connection
the server was closing at that instant is lost, and a POST cannot be asked again (a 502)."""
CALLERS_IDLE_SECONDS = 6.0
"""The longest a draining instance waits, once told to stop, for its callers to close their pooled
connections: longer than any of them keeps one idle (nginx and the gateways' pools: 4 s, httpx:
5 s). Cutting an idle pooled connection races a request its caller may be sending on it at that
instant, which nginx cannot pass on (a POST, or any request without buffering)."""


class DrainingServer(uvicorn.Server):
    """uvicorn's server that drains before it stops, so that a rolling deploy cuts no request.

    - SIGUSR1 (a rolling deploy, deploy/compose/local.sh and deploy/local/stack.sh): the instance
      drains and stops listening. Its /health answers 503 and each answer closes its connection;
      every connection it already has is served, those waiting to be accepted included; a new one is
      refused, which nginx and the gateways' pools pass to the other instance at once (nothing was
      sent). nginx has no health check: a refused connection is the one signal it takes.
    - SIGTERM with ``drain_seconds`` (Docker Swarm, which stops a task without draining it): the
      instance drains while still listening for that long (the swarm's DNS and virtual IP keep
      sending it connections a while), then stops.
    - Stopping a draining instance: it stops listening, then waits (``CALLERS_IDLE_SECONDS`` at most)
      for its callers to close their connections before uvicorn's graceful shutdown. A second
      SIGTERM, or SIGINT, stops it at once."""

    def __init__(self, config: uvicorn.Config, app: Litestar, drain_seconds: float) -> None:
        super().__init__(config)
        self._app, self._drain_seconds = app, drain_seconds
        self._pending: set[asyncio.Task[object]] = set()

    @property
    def draining(self) -> bool:
        return bool(self._app.state.get(DRAINING))

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # not where signals cannot be had (a server run off the main thread, as in tests)
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, self.drain)

    def drain(self) -> None:
        """Drain and stop listening (SIGUSR1; on the server's loop)."""
        if not self.draining:
            log.info("SIGUSR1: draining, no longer listening")
        setattr(self._app.state, DRAINING, True)
        self.stop_listening()

    def stop_listening(self) -> None:
        """Closes the listening sockets — after accepting every connection already waiting in their
        queue (closing a socket resets those: a request its caller had sent would be lost). On the
        server's loop, with no await: nothing else accepts meanwhile."""
        loop = asyncio.get_running_loop()
        for server in self.servers:
            for listener in server.sockets:
                with socket.fromfd(listener.fileno(), listener.family, listener.type) as queue:
                    while True:
                        try:
                            connection, _ = queue.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        connection.setblocking(False)
                        task = loop.create_task(loop.connect_accepted_socket(self._protocol, connection))
                        self._pending.add(task)
                        task.add_done_callback(self._pending.discard)
            server.close()

    def _protocol(self) -> asyncio.Protocol:
        """A connection's protocol, as uvicorn's ``startup`` makes it."""
        return self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )

    def _connected(self) -> bool:
        """Whether a caller still holds a connection (or one accepted is being set up), unless a
        second signal asked to stop at once."""
        return bool(self.server_state.connections or self._pending) and not self.force_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._drain_seconds <= 0 or self.draining:
            super().handle_exit(sig, frame)
            return
        setattr(self._app.state, DRAINING, True)
        log.info("SIGTERM: draining for %.0f s, then stopping", self._drain_seconds)
        stop = threading.Timer(self._drain_seconds, super().handle_exit, (sig, frame))
        stop.daemon = True
        stop.start()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.draining and not self.force_exit:
            self.stop_listening()
            deadline = time.monotonic() + CALLERS_IDLE_SECONDS
            while self._connected() and time.monotonic() < deadline:  # noqa: ASYNC110 (uvicorn's state: no event)
                await asyncio.sleep(0.05)
        await super().shutdown(sockets)


def serve(app: Litestar, settings: ServiceSettings, *, http: type[asyncio.Protocol] | str = "auto") -> None:
    """``http``: uvicorn's HTTP protocol (the gateway's answers malformed requests in JSON)."""
    logs.configure(settings.service, settings.log_level)
    config = uvicorn.Config(
        app,
        http=http,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=10,
        timeout_keep_alive=int(KEEP_ALIVE_SECONDS),
    )
    server = DrainingServer(config, app, settings.drain_seconds)
    server.run()
    if not server.started:
        sys.exit(3)  # what uvicorn.run does when the app could not start (its lifespan failed)
