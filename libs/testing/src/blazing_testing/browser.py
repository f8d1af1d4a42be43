"""Headless Chromium (Debian's package, driven by Playwright) for the page tests, each browser from
a loopback address of its own.

The gateway limits page posts (sign-in, sign-up …) per client address, strictly, and auth throttles
failed sign-ins per address: every browser on this machine would otherwise share 127.0.0.1 with
every other test that drives one. So each browser goes through a tiny CONNECT proxy that opens its
connections from a random 127.x.y.z — nginx sees that address, and the test is a client of its own
(as ``edge_client`` is).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
from collections.abc import AsyncIterator

from playwright.async_api import Browser, async_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


@contextlib.asynccontextmanager
async def own_address_proxy() -> AsyncIterator[str]:
    """An HTTP CONNECT proxy on 127.0.0.1 (to localhost only) whose upstream connections come from
    one random 127.x.y.z; yields its URL for Chromium's ``--proxy-server``."""
    source = f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"  # noqa: S311

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = request.split(b"\r\n", 1)[0].split(b" ", 2)
        host, _, port = target.decode().rpartition(":")
        if method != b"CONNECT" or host != "localhost" or not port.isdigit():
            writer.write(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(port), local_addr=(source, 0))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        server.close()


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium whose every connection to https://localhost comes from its own address."""
    async with own_address_proxy() as proxy, async_playwright() as p:
        launched = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
                f"--proxy-server={proxy}",
                "--proxy-bypass-list=<-loopback>",  # through the proxy for localhost too
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()
