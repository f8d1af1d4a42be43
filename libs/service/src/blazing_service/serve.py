"""Run a service's app with uvicorn on SERVICE_HOST:SERVICE_PORT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from types import FrameType

import uvicorn
from litestar import Litestar

from blazing_service import logs
from blazing_service.http import DRAINING
from blazing_service.settings import ServiceSettings

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    """uvicorn's server that, given ``drain_seconds``, drains on the first SIGTERM before it stops:
    the app is marked draining at once (its /health answers 503, each answer closes its connection)
    and keeps serving for ``drain_seconds``, time for whoever routes to it (Docker Swarm's DNS,
    nginx's resolver, a gateway's pools) to stop sending; then the usual graceful shutdown. A second
    SIGTERM, or SIGINT, stops it at once."""

    def __init__(self, config: uvicorn.Config, app: Litestar, drain_seconds: float) -> None:
        super().__init__(config)
        self._app, self._drain_seconds, self._draining = app, drain_seconds, False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig != signal.SIGTERM or self._drain_seconds <= 0 or self._draining:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        setattr(self._app.state, DRAINING, True)
        log.info("SIGTERM: draining for %.0f s, then stopping", self._drain_seconds)
        stop = threading.Timer(self._drain_seconds, super().handle_exit, (sig, frame))
        stop.daemon = True
        stop.start()


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
    )
    server = DrainingServer(config, app, settings.drain_seconds)
    server.run()
    if not server.started:
        sys.exit(3)  # what uvicorn.run does when the app could not start (its lifespan failed)
