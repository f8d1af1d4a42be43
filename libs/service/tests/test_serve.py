"""blazing_service.serve: with DRAIN_SECONDS, the first SIGTERM drains the instance (its /health
503, every answer closing its connection, still serving) for that long before uvicorn stops it —
what Docker Swarm's rolling updates need, since they stop a task without draining it first."""

from __future__ import annotations

import asyncio
import signal
import threading
import time

import httpx
import uvicorn

from blazing_service import ServiceSettings, create_app
from blazing_service.serve import DrainingServer

DRAIN = 1.5


def started(drain_seconds: float) -> tuple[DrainingServer, threading.Thread, str]:
    """A service's app under a DrainingServer on a free loopback port, in a thread of its own (so
    uvicorn installs no signal handler: the test plays the signal by calling ``handle_exit``)."""
    settings = ServiceSettings(service="test", port=0, identity_secret="s" * 32, system_events=False)
    app = create_app(settings, [])
    server = DrainingServer(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None), app, drain_seconds)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def test_the_first_sigterm_drains_for_drain_seconds_then_the_server_stops() -> None:
    server, thread, url = started(DRAIN)
    with httpx.Client(base_url=url, timeout=5) as client:
        assert client.get("/health").status_code == 200
        signalled = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)
        drained = client.get("/health")
        assert (drained.status_code, drained.headers["connection"]) == (503, "close")
        assert client.get("/schema/openapi.json").status_code == 200, "still serving while it drains"
    thread.join(timeout=DRAIN + 10)
    assert not thread.is_alive(), "the server did not stop after draining"
    assert time.monotonic() - signalled >= DRAIN


def test_without_drain_seconds_sigterm_stops_at_once() -> None:
    server, thread, _ = started(0)
    signalled = time.monotonic()
    server.handle_exit(signal.SIGTERM, None)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - signalled < DRAIN
