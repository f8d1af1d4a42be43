"""The ops domain: fingerprints, masking, filters, and dead letters from RabbitMQ headers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from blazing_contracts import DeadLetterRecord, RecordHeader
from ops.domain.dead_letters import (
    DeadLetter,
    Filter,
    decode_headers,
    encode_headers,
    fingerprint,
    from_kafka,
    from_rabbitmq,
    inherited_replays,
    mask,
    original_message_id,
    preview,
    rabbit_headers,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_the_fingerprint_is_event_type_consumer_and_error_type_not_the_message() -> None:
    a = fingerprint("user.created", "mailer.user-events", "TimeoutError")
    assert a == fingerprint("user.created", "mailer.user-events", "TimeoutError")
    assert a != fingerprint("user.created", "mailer.user-events", "ValueError")
    assert a != fingerprint("user.deleted", "mailer.user-events", "TimeoutError")
    assert a != fingerprint("user.created", "ledger.user-events", "TimeoutError")
    assert fingerprint(None, "c", "ContractError") == fingerprint(None, "c", "ContractError")


def test_personal_data_is_masked_at_any_depth_and_emails_in_any_text() -> None:
    payload = {
        "event_type": "user.created",
        "payload": {"email": "ada@example.org", "first_name": "Ada", "balance": 10, "note": "write to bob@x.io"},
        "items": [{"memo": "rent"}],
    }
    masked = mask(payload)
    assert masked["payload"] == {"email": "•••", "first_name": "•••", "balance": 10, "note": "write to b•••@x.io"}
    assert masked["items"] == [{"memo": "•••"}]
    assert masked["event_type"] == "user.created"
    shown = preview(msgspec.json.encode(payload))
    assert "ada@" not in shown
    assert "Ada" not in shown
    assert preview(b"\xff not json ada@example.org").count("ada@") == 0
    assert len(preview(msgspec.json.encode({"x": "y" * 500}))) == 160


def test_a_kafka_dead_letter_is_the_consumers_record_field_for_field_with_its_headers_as_pairs() -> None:
    record = DeadLetterRecord(
        dead_letter_id=uuid.uuid4(),
        original_topic="user.events",
        partition=2,
        offset=99,
        key=b"user-1",
        value=b"{}",
        headers=[RecordHeader("event_type", b"user.created"), RecordHeader("replay_count", b"1")],
        consumer_group="mailer.user-events",
        service="mailer",
        error_type="TimeoutError",
        error_message="no answer",
        traceback="Traceback …",
        attempts=5,
        first_failure_at=NOW,
        last_failure_at=NOW,
        poison=True,
        event_id=uuid.uuid4(),
        event_type="user.created",
        aggregate_id="user-1",
    )
    letter = from_kafka(record)
    assert (letter.source, letter.headers) == ("kafka", [("event_type", b"user.created"), ("replay_count", b"1")])
    given = set(DeadLetterRecord.__struct_fields__) - {"schema_version", "headers"}
    assert set(DeadLetter.__struct_fields__) == given | {"source", "headers"}, "every other field is the record's"
    assert {f: getattr(letter, f) for f in given} == {f: getattr(record, f) for f in given}


def test_a_job_dead_lettered_by_the_command_runner() -> None:
    job_id = uuid.uuid4()
    body = msgspec.json.encode({"job_id": str(job_id), "job_type": "send_email"})
    headers = {
        "x-error-reason": "exhausted",
        "x-error-type": "SMTPConnectError",
        "x-error-message": "connection refused",
        "x-failed-service": "mailer",
        "x-original-queue": "jobs.send_email",
        "x-job-type": "send_email",
        "x-attempts": 3,
        "x-failed-at": NOW.isoformat(),
        "x-trace": "keep me",
    }
    letter = from_rabbitmq(body, headers, "m-1", NOW)
    assert (letter.source, letter.original_topic, letter.consumer_group, letter.service) == (
        "rabbitmq",
        "jobs.send_email",
        "send_email",
        "mailer",
    )
    assert (letter.error_type, letter.attempts, letter.event_id, letter.poison) == (
        "SMTPConnectError",
        3,
        job_id,
        False,
    )
    assert letter.dead_letter_id == from_rabbitmq(body, headers, "m-1", NOW).dead_letter_id, "stored once"
    assert original_message_id(letter.headers) == "m-1"
    assert rabbit_headers(letter.headers) == {
        "x-job-type": "send_email",
        "x-original-queue": "jobs.send_email",
        "x-trace": "keep me",
    }
    assert decode_headers(encode_headers(letter.headers)) == letter.headers


def test_a_message_rabbitmq_dead_lettered_by_itself() -> None:
    headers = {"x-death": [{"queue": "jobs.create_user", "reason": "rejected", "count": 1}]}
    letter = from_rabbitmq(b"not json", headers, None, NOW)
    assert (letter.original_topic, letter.consumer_group, letter.error_type) == (
        "jobs.create_user",
        "create_user",
        "rejected",
    )
    assert (letter.event_id, letter.attempts, letter.first_failure_at) == (None, 1, NOW)


def test_a_filter_is_empty_only_without_any_condition_and_takes_known_values_only() -> None:
    assert Filter().is_empty()
    assert not Filter(ids=[uuid.UUID(int=1)]).is_empty()
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"status": "deleted"}, Filter)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"topic": "x", "drop": "table"}, Filter)


def test_a_replayed_record_that_failed_again_inherits_its_replay_count() -> None:
    assert inherited_replays([("replay_count", b"2")]) == 2, "Kafka's header"
    assert inherited_replays([("x-replay_count", b"3")]) == 3, "RabbitMQ's header"
    assert inherited_replays([("replay_count", b"not a number")]) == 0
    assert inherited_replays([("replay_count", b"-4")]) == 0
    assert inherited_replays([("other", b"1")]) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"x-attempts": "three", "x-original-queue": "jobs.send_email"},
        {"x-attempts": b"\xff", "x-original-queue": "jobs.send_email"},
        {"x-attempts": 2.5e300, "x-original-queue": "jobs.send_email"},
        {"x-death": ["not a table"]},
        {"x-death": [{"queue": "jobs.send_email", "count": "many"}]},
        {"x-failed-at": "2026-11-29T12:00:00", "x-original-queue": "jobs.send_email"},
    ],
    ids=["words", "bytes", "float", "death-not-a-table", "death-count-words", "naive-time"],
)
def test_a_jobs_dead_letter_with_odd_headers_is_still_a_dead_letter(headers: dict[str, Any]) -> None:
    """Whatever its headers say: a message that raised here was left unacknowledged, holding one of the
    consumer's prefetch slots until the channel closed, and came back to raise again (a failure time
    without its offset is not placed in any zone: the time it was received is used)."""
    letter = from_rabbitmq(b"{}", headers, "m-1", NOW)
    assert letter.attempts == 0
    assert letter.last_failure_at.tzinfo is not None


def test_a_deeply_nested_payload_is_previewed_as_it_came_and_a_job_body_so_nested_is_still_a_dead_letter() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    assert preview(deep, limit=10) == "[[[[[[[[[…"
    assert preview(b"[" * 400 + b"]" * 400, limit=10) == "[[[[[[[[[…"
    assert from_rabbitmq(deep, {"x-original-queue": "jobs.send_email"}, "m-1", NOW).value == deep
