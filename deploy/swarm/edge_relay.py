"""The swarm stack's edge relay (deploy/swarm/swarm.sh): a container on the stack's attachable overlay
network that forwards each TCP connection it accepts to a name there (nginx's VIP), so that the host
reaches the stack's nginx on a loopback port without the stack publishing one.

    python3 edge_relay.py LISTEN_PORT=HOST:PORT [...]
"""

from __future__ import annotations

import asyncio
import contextlib
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def forward(host: str, port: int):  # type: ignore[no-untyped-def]
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    return handle


async def main(routes: list[str]) -> None:
    servers = []
    for route in routes:
        listen, target = route.split("=", 1)
        host, port = target.rsplit(":", 1)
        servers.append(await asyncio.start_server(forward(host, int(port)), "0.0.0.0", int(listen)))  # noqa: S104
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
