"""The local stack's configuration, read exactly as `make up` reads it (defaults, .env, environment)."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[4]


class StackEnv(Mapping[str, str]):
    def __init__(self, values: dict[str, str]) -> None:
        self._values = values

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def var(self) -> Path:
        return REPO_ROOT / "var"

    @property
    def maildir(self) -> Path:
        return self.var / "mail"

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self['KAFKA_HOST']}:{self['KAFKA_PORT']}"

    @property
    def rabbitmq_url(self) -> str:
        vhost = self["RABBITMQ_VHOST"].replace("/", "%2F")
        return (
            f"amqp://{self['RABBITMQ_USER']}:{self['RABBITMQ_PASSWORD']}"
            f"@{self['RABBITMQ_HOST']}:{self['RABBITMQ_PORT']}/{vhost}"
        )

    def database_url(self, service: str) -> str:
        return self[f"{service.upper()}_DATABASE_URL"]

    @property
    def admin_database_url(self) -> str:
        return (
            f"postgresql://{self['POSTGRES_USER']}:{self['POSTGRES_PASSWORD']}"
            f"@{self['POSTGRES_HOST']}:{self['POSTGRES_PORT']}/{self['POSTGRES_DB']}"
        )


@functools.cache
def stack_env() -> StackEnv:
    """Runs the stack's own loader so tests and `make up` can never disagree."""
    script = f'. "{REPO_ROOT}/deploy/local/lib.sh"; load_env; env -0'
    out = subprocess.run(  # noqa: S603 - fixed command, no user input
        ["/bin/bash", "-c", script], check=True, capture_output=True, env=dict(os.environ)
    ).stdout
    pairs = (item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return StackEnv(dict(pairs))


def edge_client(env: StackEnv | None = None, *, timeout: float = 30.0, **kwargs: object) -> httpx.AsyncClient:
    """An HTTPS client of https://localhost (nginx → gateway) trusting the stack's certificate,
    from a loopback address of its own (127.x.y.z), so that it counts as its own client for the
    per-client rate limits."""
    env = env or stack_env()
    context = ssl.create_default_context(cafile=str(env.var / "nginx/ssl/server.crt"))
    source = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"  # noqa: S311
    transport = httpx.AsyncHTTPTransport(verify=context, local_address=source)
    return httpx.AsyncClient(base_url="https://localhost", transport=transport, timeout=timeout, **kwargs)  # type: ignore[arg-type]


def control(*args: str, env: Mapping[str, str] | None = None) -> None:
    """Runs ``deploy/local/stack.sh ARGS`` (e.g. ``control("stop", "kafka")``), failing loudly."""
    subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [str(REPO_ROOT / "deploy/local/stack.sh"), *args],
        check=True,
        capture_output=True,
        env={**os.environ, **(env or {})},
    )


@asynccontextmanager
async def stopped(component: str) -> AsyncIterator[None]:
    """``component`` (a name of ``stack.sh``: svc-users, kafka, smtp …) stopped for the block and
    started again after it, whatever happened in it."""
    await asyncio.to_thread(control, "stop", component)
    try:
        yield
    finally:
        await asyncio.to_thread(control, "start", component)


@asynccontextmanager
async def restarted(component: str, env: Mapping[str, str]) -> AsyncIterator[None]:
    """``component`` running with ``env`` added to its environment for the block, then as the
    stack configures it again."""
    await asyncio.to_thread(control, "stop", component)
    await asyncio.to_thread(control, "start", component, env=env)
    try:
        yield
    finally:
        await asyncio.to_thread(control, "stop", component)
        await asyncio.to_thread(control, "start", component)


def free_port() -> int:
    """A loopback port nothing listens on now (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
