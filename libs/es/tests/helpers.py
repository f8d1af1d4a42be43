from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec

from blazing_es import NewEvent


class Deposited(msgspec.Struct, frozen=True, kw_only=True):
    amount: int


def new_event(amount: int = 1, event_type: str = "deposited") -> NewEvent:
    return NewEvent(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        data=msgspec.json.encode(Deposited(amount=amount)),
        occurred_at=datetime.now(UTC),
        metadata={"correlation_id": "test"},
    )


def stream() -> str:
    return f"account-{uuid.uuid4()}"
