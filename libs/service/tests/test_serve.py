"""blazing_service.serve: draining before a stop cuts no request.

- SIGUSR1 (a rolling deploy): the instance stops listening — a new connection is refused, which
  nginx passes on to the other instance — yet serves every connection it has, those still waiting
  in the accept queue included.
- With DRAIN_SECONDS, the first SIGTERM drains the instance (its /health 503, every answer closing
  its connection, still serving) for that long before uvicorn stops it — what Docker Swarm's rolling
  updates need, since they stop a task without draining it first.
- A draining instance told to stop waits for its callers' pooled connections: a request sent on one
  at that moment is answered, not cut."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import threading
import time

import httpx
import pytest
import uvicorn

from blazing_service import ServiceSettings, create_app
from blazing_service.serve import CALLERS_IDLE_SECONDS, KEEP_ALIVE_SECONDS, DrainingServer
from blazing_testing import REPO_ROOT

DRAIN = 1.5


def started(drain_seconds: float) -> tuple[DrainingServer, threading.Thread, str]:
    """A service's app under a DrainingServer on a free loopback port, in a thread of its own (so
    uvicorn installs no signal handler: the test plays the signal by calling ``handle_exit``)."""
    settings = ServiceSettings(service="test", port=0, identity_secret="s" * 32, system_events=False)
    app = create_app(settings, [])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, timeout_keep_alive=int(KEEP_ALIVE_SECONDS))
    server = DrainingServer(config, app, drain_seconds)
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


def request(conn: socket.socket, path: str = "/health") -> bytes:
    """One HTTP/1.1 request on a raw connection, and its whole answer (the server closes it after)."""
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    answer = b""
    while chunk := conn.recv(65536):
        answer += chunk
    return answer


def test_sigusr1_stops_listening_and_serves_the_connections_already_queued() -> None:
    """The connection that reached the accept queue just before the drain is served, not reset (as
    closing the listening socket alone would); one made after it is refused, which nginx and the
    gateways pass to the other instance since nothing was sent."""
    server, thread, url = started(0)
    host, port = url.removeprefix("http://").split(":")
    loop = server.servers[0].get_loop()
    queued = threading.Event()
    loop.call_soon_threadsafe(queued.wait, 5)  # the loop is held: nothing is accepted meanwhile
    loop.call_soon_threadsafe(server.drain)
    with socket.create_connection((host, int(port)), timeout=5) as waiting:
        waiting.sendall(b"")  # the kernel completed the handshake: the connection waits in the queue
        queued.set()
        answer = request(waiting)
    assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
    assert b"connection: close" in answer.lower()
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        raise AssertionError("a connection made after the drain was accepted")
    except ConnectionRefusedError:
        pass
    server.handle_exit(signal.SIGTERM, None)
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_draining_instance_told_to_stop_answers_a_request_sent_on_a_pooled_connection() -> None:
    """nginx keeps an idle connection pooled up to 4 s: cut at the stop, a request it sent on it at
    that instant would be lost. The server waits for its callers to close them (at most
    CALLERS_IDLE_SECONDS), serving what comes meanwhile, and stops as soon as they have.

    The connection has served a request before the drain, as a pooled one has. A connection the
    event loop had taken off the queue but not yet set up when the listener closed is another case:
    asyncio drops it (a CI run failed on that race here, a fresh connection drained at once); it is
    not solved, only kept out of this test."""
    server, thread, url = started(0)
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as pooled:
        assert kept_alive_request(pooled).startswith(b"HTTP/1.1 200")
        server.servers[0].get_loop().call_soon_threadsafe(server.drain)
        time.sleep(0.2)
        stopping = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)
        time.sleep(0.5)
        assert thread.is_alive(), "the server stopped under its caller's pooled connection"
        answer = request(pooled)
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
    thread.join(timeout=10)
    assert not thread.is_alive(), "the server did not stop once its caller closed its connection"
    assert time.monotonic() - stopping < 3, "it waited past its last connection"


def callers_idle_limits() -> dict[str, float]:
    """How long each caller of a service keeps an idle pooled connection."""
    limits = {"httpx": float(httpx.Limits().keepalive_expiry or 0)}  # the gateways' pools: their own test
    for template in ("deploy/local/nginx/nginx.conf.template", "deploy/compose/nginx/default.conf.template"):
        found = re.findall(r"^\s*keepalive_timeout (\d+)s;", (REPO_ROOT / template).read_text(), re.MULTILINE)
        limits |= {f"{template} #{n}": float(v) for n, v in enumerate(found)}
    return limits


def test_every_caller_lets_go_of_an_idle_connection_before_the_server_does() -> None:
    """The server closing an idle connection as its caller sends a request on it loses the request
    (a POST cannot be asked again: a 502). uvicorn's 5 s was httpx's own 5 s, and 1 s over nginx's
    and the gateways' pools, which a loaded event loop eats."""
    limits = callers_idle_limits()
    assert len(limits) >= 3, limits
    assert all(2 * limit <= KEEP_ALIVE_SECONDS for limit in limits.values()), limits
    assert max(limits.values()) < CALLERS_IDLE_SECONDS, "a draining instance waits for every caller"


def kept_alive_request(conn: socket.socket) -> bytes:
    """One request on a connection that stays open, and its answer (read to its Content-Length)."""
    conn.sendall(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer and (chunk := conn.recv(65536)):
        answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
    while len(body) < length and (chunk := conn.recv(65536)):
        body += chunk
    return head + b"\r\n\r\n" + body


@pytest.mark.slow  # waits out the callers' idle limits in real time
def test_a_connection_idle_longer_than_any_caller_keeps_one_is_still_served() -> None:
    server, thread, url = started(0)
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as pooled:
        assert kept_alive_request(pooled).startswith(b"HTTP/1.1 200")
        time.sleep(max(callers_idle_limits().values()) + 0.5)
        assert kept_alive_request(pooled).startswith(b"HTTP/1.1 200"), "closed while its caller could use it"
    server.handle_exit(signal.SIGINT, None)
    thread.join(timeout=10)
