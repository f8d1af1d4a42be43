"""RabbitMQ helpers for tests: sending commands as a producer would, and finding dead letters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aio_pika

from blazing_contracts.topology import JOBS_DEAD_LETTER_QUEUE


async def dead_letters(
    url: str,
    match: Callable[[aio_pika.abc.AbstractIncomingMessage], bool],
    count: int = 1,
    within: float = 30.0,
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Takes the matching messages off jobs.dead_letter (others are put back untouched)."""
    found: list[aio_pika.abc.AbstractIncomingMessage] = []
    deadline = time.monotonic() + within
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(JOBS_DEAD_LETTER_QUEUE, ensure=True)
        while len(found) < count:
            others: list[Any] = []
            while (message := await queue.get(fail=False, no_ack=False)) is not None:
                if match(message):
                    found.append(message)
                    await message.ack()
                else:
                    others.append(message)
            for other in others:
                await other.nack(requeue=True)
            if len(found) >= count:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} dead letters found")
            await asyncio.sleep(0.2)
    return found
