"""The inbox: exactly-once effects for at-least-once deliveries.

A consumer claims an event id in the same transaction as the handler's effects. A redelivered or
replayed event finds its id already claimed and is skipped; a handler that fails rolls the claim
back with its effects, so a retry applies it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from psycopg import AsyncConnection, sql

_CLAIM: Final = sql.SQL("INSERT INTO es_inbox (consumer, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING")


@dataclass(eq=False)
class Inbox:
    consumer: str

    async def claim(self, conn: AsyncConnection[Any], event_id: UUID) -> bool:
        """True the first time this consumer sees ``event_id`` (inside the caller's transaction)."""
        cursor = await conn.execute(_CLAIM, (self.consumer, event_id), prepare=True)
        return cursor.rowcount == 1
