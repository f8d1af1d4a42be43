"""The rows both ops stores write and read (adapters/rows.py), and the PostgreSQL insert that takes
them column by column — no server: the stores themselves are held to one contract by
tests/integration/test_adapters.py."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from ops.adapters.postgres import _INSERT
from ops.adapters.rows import INSERTED, LISTED, listed, new_row, replayable_of
from ops.domain.dead_letters import DeadLetter, encode_headers, fingerprint
from ops.domain.replays import Replayable

T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def letter(**changes: object) -> DeadLetter:
    fields: dict[str, object] = {
        "dead_letter_id": uuid.UUID(int=7),
        "source": "kafka",
        "original_topic": "user.events",
        "partition": 1,
        "offset": 42,
        "key": b"k",
        "value": b'{"email": "ada@example.org"}',
        "headers": [("event_type", b"user.created"), ("replay_count", b"2")],
        "consumer_group": "mailer.user-events",
        "service": "mailer",
        "error_type": "TimeoutError",
        "error_message": "no answer for ada@example.org\x00",
        "traceback": "Traceback\x00 …",
        "attempts": 3,
        "poison": False,
        "event_id": uuid.UUID(int=8),
        "event_type": "user.created",
        "aggregate_id": "agg-1",
        "first_failure_at": T0,
        "last_failure_at": T0,
    }
    return DeadLetter(**(fields | changes))  # type: ignore[arg-type]


def test_a_new_row_is_the_dead_letter_without_nul_with_its_fingerprint_and_inherited_replays() -> None:
    item = letter()
    row = new_row(item)
    assert tuple(row) == INSERTED
    assert row["headers"] == encode_headers(item.headers)
    assert row["error_message"] == "no answer for ada@example.org"
    assert row["traceback"] == "Traceback …"
    assert row["fingerprint"] == fingerprint("user.created", "mailer.user-events", "TimeoutError")
    assert row["replay_count"] == 2
    assert (row["dead_letter_id"], row["offset"], row["value"]) == (item.dead_letter_id, 42, item.value)
    assert new_row(letter(traceback="", headers=[]))["traceback"] is None
    assert new_row(letter(headers=[]))["replay_count"] == 0


def test_the_insert_takes_the_new_row_columns_in_their_order() -> None:
    columns = re.search(r"INSERT INTO dead_letters \(([^)]*)\)", _INSERT)
    casts = re.search(r"unnest\(([^)]*)\)", _INSERT)
    assert columns is not None
    assert casts is not None
    assert tuple(c.strip().strip('"') for c in columns[1].split(",")) == INSERTED
    types = [c.strip().removeprefix("%s::").removesuffix("[]") for c in casts[1].split(",")]
    assert dict(zip(INSERTED, types, strict=True)) == {
        **dict.fromkeys(INSERTED, "text"),
        "dead_letter_id": "uuid",
        "event_id": "uuid",
        "partition": "int",
        "offset": "bigint",
        "attempts": "int",
        "replay_count": "int",
        "key": "bytea",
        "value": "bytea",
        "headers": "jsonb",
        "poison": "bool",
        "first_failure_at": "timestamptz",
        "last_failure_at": "timestamptz",
    }


def test_a_listed_row_masks_the_error_and_shows_a_masked_preview_of_the_payload() -> None:
    stored = new_row(letter()) | {"received_at": T0, "status": "pending"}
    shown = listed(stored)
    assert list(shown) == [*LISTED, "preview"]
    assert shown["error_message"] == "no answer for a•••@example.org"
    assert shown["preview"] == '{"email":"•••"}'


def test_what_a_replay_sends_again_is_the_stored_record() -> None:
    stored = new_row(letter())
    assert replayable_of(stored | {"key": memoryview(b"k"), "value": memoryview(b"{}")}) == Replayable(
        dead_letter_id=uuid.UUID(int=7),
        source="kafka",
        original_topic="user.events",
        key=b"k",
        value=b"{}",
        headers=[("event_type", b"user.created"), ("replay_count", b"2")],
        replay_count=2,
    )
    assert replayable_of(stored | {"key": None}).key is None


def test_a_new_row_keeps_no_nul_anywhere_and_no_number_postgresql_cannot_hold() -> None:
    """One record PostgreSQL refuses fails its whole batch, which comes again and again: the
    dead-letter processor would store nothing more. A consumer copies the failed record's header
    names and the event's aggregate id and type as they came; a record on the topic is any JSON."""
    nul = "\x00"
    row = new_row(
        letter(
            original_topic=f"user{nul}.events",
            headers=[(f"event{nul}_type", b"user.created\x00")],
            consumer_group=f"mailer{nul}",
            service=f"mail{nul}er",
            error_type=f"Timeout{nul}Error",
            event_type=f"user{nul}.created",
            aggregate_id=f"agg{nul}-1",
            partition=2**40,
            offset=-(2**70),
            attempts=2**31,
        )
    )
    texts = [v for v in row.values() if isinstance(v, str)] + [name for name, _ in row["headers"]]
    assert [t for t in texts if nul in t] == []
    assert (row["original_topic"], row["aggregate_id"], row["headers"][0][0]) == ("user.events", "agg-1", "event_type")
    assert row["fingerprint"] == fingerprint("user.created", "mailer", "TimeoutError")
    assert (row["partition"], row["offset"], row["attempts"]) == (2**31 - 1, -(2**63), 2**31 - 1)
