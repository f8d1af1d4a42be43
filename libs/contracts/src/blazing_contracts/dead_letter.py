"""The record a consumer writes to ``events.dead_letter`` when it gives up on a Kafka record.

It keeps the original record byte for byte (key, value, headers) so that a replay can put it back
on its topic unchanged; ``event_*`` and ``aggregate_id`` are filled when the value was readable.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from blazing_contracts.errors import ContractError

SCHEMA_VERSION = 1


class RecordHeader(msgspec.Struct, frozen=True, array_like=False):
    name: str
    value: bytes


class DeadLetterRecord(msgspec.Struct, frozen=True, kw_only=True):
    dead_letter_id: UUID
    schema_version: int = SCHEMA_VERSION
    original_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[RecordHeader]
    consumer_group: str
    service: str
    error_type: str
    error_message: str
    traceback: str | None
    attempts: int
    first_failure_at: datetime
    last_failure_at: datetime
    poison: bool = False
    """True when the record could not be decoded or typed at all (no retries were made)."""
    event_id: UUID | None = None
    event_type: str | None = None
    aggregate_id: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(DeadLetterRecord)


def encode_dead_letter(record: DeadLetterRecord) -> bytes:
    return _encoder.encode(record)


def decode_dead_letter(data: bytes | str) -> DeadLetterRecord:
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ContractError(f"not a dead-letter record: {exc}") from exc
