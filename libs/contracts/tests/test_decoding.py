"""Decoding refuses what is not a valid message with a ContractError (the consumers' poison)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import msgspec
import pytest

from blazing_contracts import (
    ContractError,
    SendEmail,
    decode_command,
    decode_event,
    encode_command,
    encode_event,
    make_command,
    make_event,
    record_headers,
    topic_of,
)
from blazing_contracts.events.transaction import TransactionCreated
from blazing_contracts.events.user import UserCreated
from blazing_contracts.registry import EventPayload, Registry

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def golden(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((GOLDEN / name).read_text())
    return data


def test_make_event_fills_type_version_and_topic() -> None:
    user_id = uuid4()
    event = make_event(
        UserCreated(user_id=user_id, email="a@b.co", first_name="Ann", last_name="Bee", permissions=1, activated=False),
        event_id=uuid4(),
        aggregate_id=str(user_id),
        aggregate_version=1,
        occurred_at=datetime.now(UTC),
        producer="users",
        correlation_id="req-1",
    )
    assert event.event_type == "user.created"
    assert event.schema_version == 1
    assert event.aggregate_type == "user"
    assert topic_of(event) == "user.events"
    assert decode_event(encode_event(event)) == event
    assert record_headers(event, "00-abc-def-01") == {
        "event_type": "user.created",
        "schema_version": "1",
        "correlation_id": "req-1",
        "traceparent": "00-abc-def-01",
    }


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b"[]", b"{}", b'{"event_type": 5}', b"\xff\xfe\x00"],
)
def test_garbage_is_a_contract_error(data: bytes) -> None:
    with pytest.raises(ContractError):
        decode_event(data)


def test_unknown_event_type_is_a_contract_error() -> None:
    doc = golden("events/user.created.v1.json")
    doc["event_type"] = "user.teleported"
    with pytest.raises(ContractError, match="unknown event type"):
        decode_event(json.dumps(doc))


def test_unknown_schema_version_is_a_contract_error() -> None:
    doc = golden("events/user.created.v1.json")
    doc["schema_version"] = 99
    with pytest.raises(ContractError, match="schema_version"):
        decode_event(json.dumps(doc))


def test_invalid_payload_is_a_contract_error() -> None:
    doc = golden("events/transaction.created.v1.json")
    payload = doc["payload"]
    assert isinstance(payload, dict)
    payload["amount"] = -5
    with pytest.raises(ContractError, match=r"invalid transaction\.created"):
        decode_event(json.dumps(doc))


def test_retyped_field_in_a_golden_is_refused() -> None:
    doc = golden("events/user.created.v1.json")
    payload = doc["payload"]
    assert isinstance(payload, dict)
    payload["permissions"] = "1"
    with pytest.raises(ContractError):
        decode_event(json.dumps(doc))


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    doc = golden("events/user.created.v1.json")
    doc["added_later"] = True
    payload = doc["payload"]
    assert isinstance(payload, dict)
    payload["nickname"] = "new field from a newer producer"
    assert isinstance(decode_event(json.dumps(doc)).payload, UserCreated)


def test_amounts_must_be_positive_cents() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(
            {
                "transaction_id": str(uuid4()),
                "user_id": str(uuid4()),
                "category_id": str(uuid4()),
                "type": "expense",
                "amount": 0,
                "memo": "m",
                "occurred_on": "2026-01-01",
                "balance_after": 0,
            },
            type=TransactionCreated,
        )


def test_upcaster_turns_old_payload_into_current() -> None:
    registry = Registry()

    class RenamedV1(EventPayload, frozen=True, kw_only=True):
        full_name: str

    class RenamedV2(EventPayload, frozen=True, kw_only=True):
        first_name: str
        last_name: str

    def v1_to_v2(data: dict[str, object]) -> dict[str, object]:
        first, _, last = str(data.pop("full_name")).partition(" ")
        return {**data, "first_name": first, "last_name": last}

    registry.register(RenamedV1, "x.renamed", "x.events", "x", 1, None)
    registry.register(RenamedV2, "x.renamed", "x.events", "x", 2, v1_to_v2)
    payload = registry.decode_payload("x.renamed", 1, b'{"full_name": "Ada Lovelace"}')
    assert payload == RenamedV2(first_name="Ada", last_name="Lovelace")
    with pytest.raises(ValueError, match="needs an upcaster"):
        registry.register(RenamedV2, "x.other", "x.events", "x", 2, None)


def test_command_round_trip_and_refusals() -> None:
    command = make_command(
        SendEmail(to_email="a@b.co", to_name="Ann", template="welcome", variables={"first_name": "Ann"}),
        job_id=uuid4(),
        created_at=datetime.now(UTC),
        correlation_id="req-2",
        priority=5,
    )
    assert command.job_type == "send_email"
    data = encode_command(command)
    assert decode_command(data, expected_job_type="send_email") == command
    with pytest.raises(ContractError, match="expected a create_user"):
        decode_command(data, expected_job_type="create_user")
    doc = json.loads(data)
    doc["payload"]["template"] = "no_such_template"
    with pytest.raises(ContractError, match="invalid send_email"):
        decode_command(json.dumps(doc))
    doc = json.loads(data)
    doc["priority"] = 9
    with pytest.raises(ContractError):
        decode_command(json.dumps(doc))
    doc = json.loads(data)
    doc["job_type"] = "launch_rocket"
    with pytest.raises(ContractError, match="unknown job type"):
        decode_command(json.dumps(doc))
