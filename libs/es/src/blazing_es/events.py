"""The event store's records as plain data: no driver, no I/O — what the pure parts of the core
(the runner, the in-memory ports, the codec) and the PostgreSQL store share."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final
from uuid import UUID

import msgspec

JsonDict = dict[str, Any]
ERASED: Final = b'{"erased": true}'
"""What an erased (redacted) event's data reads as."""


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event to append: its type, schema version and encoded JSON data."""

    event_id: UUID
    event_type: str
    schema_version: int
    data: bytes
    occurred_at: datetime
    metadata: JsonDict = {}


class StoredEvent(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    tx_id: int
    stream_id: str
    version: int
    aggregate_type: str
    event_id: UUID
    event_type: str
    schema_version: int
    data: bytes
    metadata: JsonDict
    occurred_at: datetime


class Checkpoint(msgspec.Struct, frozen=True):
    """A place in the global order of ``es_events``: ``(tx_id, position)``."""

    tx_id: int = 0
    position: int = 0


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    stream_id: str
    version: int
    state_type: str
    state: bytes
