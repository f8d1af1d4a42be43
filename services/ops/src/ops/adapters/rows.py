"""The ops tables' rows as both stores write and read them (adapters/postgres.py and its fake,
adapters/memory.py): one translation, so that the fake keeps what PostgreSQL keeps and shows what
it shows."""

from __future__ import annotations

from typing import Final

import msgspec

from ops.application.ports import Row
from ops.domain.dead_letters import DeadLetter, decode_headers, encode_headers, inherited_replays, mask_text, preview
from ops.domain.replays import Replayable

INSERTED: Final = (*DeadLetter.__struct_fields__, "fingerprint", "replay_count")
"""The columns a new dead letter fills, in this order."""

LISTED: Final = (
    "dead_letter_id",
    "source",
    "original_topic",
    "consumer_group",
    "service",
    "event_type",
    "aggregate_id",
    "error_type",
    "error_message",
    "attempts",
    "poison",
    "fingerprint",
    "status",
    "replay_count",
    "received_at",
    "last_failure_at",
)
"""The listing's columns (the payload is shown as a masked preview)."""

JOB: Final = (
    "job_id",
    "selector",
    "rate_per_s",
    "status",
    "total",
    "replayed",
    "quarantined",
    "failed",
    "error",
    "created_by",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
)
"""A replay job's columns as the API and the console show them."""


_TEXTS: Final = ("original_topic", "consumer_group", "service", "error_type", "error_message", "traceback")
_NAMES: Final = ("event_type", "aggregate_id")
_INT4: Final = 2**31 - 1
_INT8: Final = 2**63 - 1


def _bounded(value: int, limit: int) -> int:
    return max(-limit - 1, min(value, limit))


def storable(item: DeadLetter) -> DeadLetter:
    """A dead letter as PostgreSQL can keep it: no NUL character in its texts or header names (text
    and jsonb refuse them) and its numbers within their columns' ranges. A record refused would fail
    its whole batch, which would come again and again (a consumer copies the failed record's header
    names, event type and aggregate id as they came; a record on the topic may say anything)."""
    return msgspec.structs.replace(
        item,
        **{name: getattr(item, name).replace("\x00", "") for name in _TEXTS if getattr(item, name)},
        **{name: getattr(item, name).replace("\x00", "") or None for name in _NAMES if getattr(item, name)},
        headers=[(name.replace("\x00", ""), value) for name, value in item.headers],
        partition=None if item.partition is None else _bounded(item.partition, _INT4),
        offset=None if item.offset is None else _bounded(item.offset, _INT8),
        attempts=_bounded(item.attempts, _INT4),
    )


def new_row(item: DeadLetter) -> Row:
    """A new dead letter's INSERTED columns: its fields (storable) with the headers as JSON (base64
    values), its fingerprint and the replays it inherits."""
    item = storable(item)
    return msgspec.structs.asdict(item) | {
        "headers": encode_headers(item.headers),
        "traceback": item.traceback or None,
        "fingerprint": item.fingerprint,
        "replay_count": inherited_replays(item.headers),
    }


def listed(row: Row) -> Row:
    """A stored dead letter as a list shows it: the LISTED columns, its error masked and its payload
    (``value``) as a masked preview."""
    shown = {column: row[column] for column in LISTED}
    return shown | {"error_message": mask_text(row["error_message"]), "preview": preview(bytes(row["value"]))}


def replayable_of(row: Row) -> Replayable:
    """What a replay job sends again of a stored dead letter."""
    return Replayable(
        dead_letter_id=row["dead_letter_id"],
        source=row["source"],
        original_topic=row["original_topic"],
        key=bytes(row["key"]) if row["key"] is not None else None,
        value=bytes(row["value"]),
        headers=decode_headers(row["headers"]),
        replay_count=row["replay_count"],
    )
