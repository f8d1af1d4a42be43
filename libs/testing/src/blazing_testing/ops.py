"""Finding dead letters where the ops service stored them (it consumes events.dead_letter and
jobs.dead_letter, so tests look in its database rather than at the broker)."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from blazing_contracts import (
    DeadLetterRecord,
    RecordHeader,
    encode_dead_letter,
    encode_event,
    record_headers,
)
from blazing_testing.events import health_check
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


def dead_letter_record(
    original_topic: str, consumer_group: str, n: int, error_type: str = "TimeoutError", instance: str | None = None
) -> bytes:
    """A dead-letter record as a consumer would write it for a health-check event that failed,
    with an e-mail address in its error text (lists must mask it); ``instance`` is its aggregate id."""
    instance = instance or f"ops-test-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    event = health_check(
        instance, service="ops-test", producer="ops-test", correlation_id=f"ops-test-{instance}", occurred_at=now
    )
    return encode_dead_letter(
        DeadLetterRecord(
            dead_letter_id=uuid.uuid4(),
            original_topic=original_topic,
            partition=n % 3,
            offset=n,
            key=event.aggregate_id.encode(),
            value=encode_event(event),
            headers=[RecordHeader(k, v.encode()) for k, v in record_headers(event).items()],
            consumer_group=consumer_group,
            service="ops-test",
            error_type=error_type,
            error_message=f"upstream timed out after 5 s (user {n}@example.org)",
            traceback=None,
            attempts=5,
            first_failure_at=now,
            last_failure_at=now,
            event_id=event.event_id,
            event_type=event.event_type,
            aggregate_id=event.aggregate_id,
        )
    )
