"""Finding dead letters where the ops service stored them (it consumes events.dead_letter and
jobs.dead_letter, so tests look in its database rather than at the broker)."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import psycopg
from psycopg.rows import dict_row

from blazing_testing.stack import StackEnv


async def stored_dead_letters(
    env: StackEnv, where: str, params: tuple[Any, ...] = (), count: int = 1, within: float = 30.0
) -> list[dict[str, Any]]:
    """Waits until at least ``count`` stored dead letters match ``where`` (SQL over the
    dead_letters table); returns them oldest first, with ``headers`` as a name → text dict."""
    deadline = time.monotonic() + within
    async with await psycopg.AsyncConnection.connect(env.database_url("ops"), autocommit=True) as conn:
        while True:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT * FROM dead_letters WHERE {where} ORDER BY received_at", params)  # noqa: S608
            rows = await cur.fetchall()
            if len(rows) >= count:
                for row in rows:
                    row["headers"] = {
                        name: base64.b64decode(value).decode("utf-8", "replace") for name, value in row["headers"]
                    }
                return rows
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(rows)} of {count} dead letter(s) stored within {within} s ({where})")
            await asyncio.sleep(0.2)
