"""Run a service's app with uvicorn on SERVICE_HOST:SERVICE_PORT."""

from __future__ import annotations

import asyncio

import uvicorn
from litestar import Litestar

from blazing_service import logs
from blazing_service.settings import ServiceSettings


def serve(app: Litestar, settings: ServiceSettings, *, http: type[asyncio.Protocol] | str = "auto") -> None:
    """``http``: uvicorn's HTTP protocol (the gateway's answers malformed requests in JSON)."""
    logs.configure(settings.service, settings.log_level)
    uvicorn.run(
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
