"""Dead letters as the ops context sees them: one shape for Kafka and RabbitMQ, a failure
fingerprint to group them, the filter an operator narrows them with, the replays a dead letter
inherits, and personal-data masking."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Final, Literal

import msgspec

from blazing_contracts import DeadLetterRecord
from blazing_contracts.topology import HEADER_REPLAY_COUNT

Source = Literal["kafka", "rabbitmq"]
Status = Literal["pending", "replayed", "discarded", "quarantined"]
STATUSES: Final = ("pending", "replayed", "discarded", "quarantined")
REPLAYABLE: Final = ("pending", "replayed")
"""A replayed item may be replayed again (until quarantined); a discarded or quarantined one not."""


ERASED_PAYLOAD: Final = b'{"erased": "user.deleted"}'
"""What the payload of a dead letter that held a deleted user's data reads as (SPEC: personal data
erasure); its key, headers, error text and traceback go too, the rest stays as evidence."""
ERASED_TEXT: Final = "(erased with the user's data)"


def holds_user(source: str, aggregate_id: str | None, value: bytes, user_id: uuid.UUID, email: str | None) -> bool:
    """Whether a dead letter holds the user's data: an event of the user's own streams (each of
    users, auth and the ledger has one aggregate per user, its id), or a job whose body names the
    user's id or address. Erased already: no more."""
    if value == ERASED_PAYLOAD:
        return False
    if aggregate_id == str(user_id):
        return True
    named = [str(user_id).encode(), *((email.encode(), email.lower().encode()) if email else ())]
    return source == "rabbitmq" and any(n in value for n in named)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    dead_letter_id: uuid.UUID
    # where it failed: the topic or job queue, and which consumer of which service gave up on it
    source: Source
    original_topic: str
    partition: int | None = None
    offset: int | None = None
    """Where the record was on Kafka; a RabbitMQ job has neither."""
    consumer_group: str
    service: str
    # what failed, byte for byte, and what of it could be read
    key: bytes | None = None
    value: bytes
    headers: list[tuple[str, bytes]]
    event_id: uuid.UUID | None
    event_type: str | None
    aggregate_id: str | None
    # why, how often, since when
    error_type: str
    error_message: str
    traceback: str | None
    poison: bool
    attempts: int
    first_failure_at: datetime
    last_failure_at: datetime

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.event_type, self.consumer_group, self.error_type)


def inherited_replays(headers: list[tuple[str, bytes]]) -> int:
    """A replayed record that failed again arrives as a new dead letter carrying the replay count
    header: it keeps counting towards quarantine instead of starting over."""
    for name, value in headers:
        if name in (HEADER_REPLAY_COUNT, f"x-{HEADER_REPLAY_COUNT}"):  # Kafka, RabbitMQ
            try:
                return max(0, int(value.decode()))
            except ValueError:
                return 0
    return 0


def fingerprint(event_type: str | None, consumer: str, error_type: str) -> str:
    """Same failure, same group: event type + consumer + error type (not the message, which
    carries ids and values)."""
    text = f"{event_type or '(undecodable)'}|{consumer}|{error_type}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_FROM_RECORD: Final = tuple(f for f in DeadLetter.__struct_fields__ if f not in ("source", "headers"))
"""What a consumer's dead-letter record gives as it is: every field but the headers (which become
pairs) and the source. Picked by name, so that a field the contract adds later is not an error here."""


def from_kafka(record: DeadLetterRecord) -> DeadLetter:
    return DeadLetter(
        source="kafka",
        headers=[(h.name, h.value) for h in record.headers],
        **{name: getattr(record, name) for name in _FROM_RECORD},
    )


def unreadable_kafka(
    value: bytes, key: bytes | None, topic: str, partition: int, offset: int, error: str, at: datetime
) -> DeadLetter:
    """A record on the dead-letter topic that is not a dead-letter record is kept too (never
    dropped), as poison of the dead-letter topic itself."""
    return DeadLetter(
        dead_letter_id=uuid.uuid5(uuid.NAMESPACE_URL, f"kafka://{topic}/{partition}/{offset}"),
        source="kafka",
        original_topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        headers=[],
        consumer_group="ops.dead-letters",
        service="ops",
        error_type="ContractError",
        error_message=error[:4000],
        traceback=None,
        attempts=0,
        poison=True,
        event_id=None,
        event_type=None,
        aggregate_id=None,
        first_failure_at=at,
        last_failure_at=at,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def from_rabbitmq(body: bytes, headers: dict[str, Any], message_id: str | None, received_at: datetime) -> DeadLetter:
    """A jobs dead letter: ours carry ``x-error-*`` headers; one RabbitMQ dead-lettered by itself
    (rejected, expired) carries ``x-death``."""
    deaths = headers.get("x-death")
    death = deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else {}
    queue = _text(headers.get("x-original-queue")) or _text(death.get("queue")) or "unknown"
    job_type = _text(headers.get("x-job-type")) or queue.removeprefix("jobs.")
    failed_at = _text(headers.get("x-failed-at"))
    try:
        failed = datetime.fromisoformat(failed_at) if failed_at else received_at
    except ValueError:
        failed = received_at
    if failed.tzinfo is None:  # a time without its offset is no time we can place
        failed = received_at
    event_id: uuid.UUID | None = None
    try:
        job = msgspec.json.decode(body)
        raw_id = job.get("job_id") if isinstance(job, dict) else None
        event_id = uuid.UUID(str(raw_id)) if raw_id else None
    except (msgspec.DecodeError, ValueError, RecursionError):
        pass
    identity = message_id or hashlib.sha256(body + repr(sorted(headers.items())).encode()).hexdigest()
    return DeadLetter(
        dead_letter_id=uuid.uuid5(uuid.NAMESPACE_URL, f"rabbitmq://{queue}/{identity}/{failed_at}"),
        source="rabbitmq",
        original_topic=queue,
        value=body,
        headers=[
            *((k, _header_bytes(v)) for k, v in headers.items()),
            *([(ORIGINAL_MESSAGE_ID, message_id.encode())] if message_id else []),
        ],
        consumer_group=job_type,
        service=_text(headers.get("x-failed-service")) or "unknown",
        error_type=_text(headers.get("x-error-type")) or _text(death.get("reason")) or "rejected",
        error_message=(_text(headers.get("x-error-message")) or "dead-lettered by RabbitMQ")[:4000],
        traceback=_text(headers.get("x-error-traceback")),
        attempts=_count(headers.get("x-attempts")) or _count(death.get("count")),
        poison=_text(headers.get("x-error-reason")) == "poison",
        event_id=event_id,
        event_type=f"job.{job_type}",
        aggregate_id=None,
        first_failure_at=failed,
        last_failure_at=failed,
    )


def _count(value: Any) -> int:
    """A count a header gives: a whole number, or its digits as text; anything else is none."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _text(value) or ""
    return int(text) if text.isascii() and text.isdigit() else 0


def _header_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return msgspec.json.encode(value, enc_hook=str)


ORIGINAL_MESSAGE_ID: Final = "x-original-message-id"
_FAILURE_HEADERS: Final = frozenset(
    {"x-death", "x-failed-service", "x-failed-at", "x-attempts", "x-replay_id", "x-replay_count", ORIGINAL_MESSAGE_ID}
)


def original_message_id(stored: list[tuple[str, bytes]]) -> str | None:
    return next((v.decode() for k, v in stored if k == ORIGINAL_MESSAGE_ID), None)


def rabbit_headers(stored: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The headers to send a job back with: the original ones, without the failure's own."""
    out: dict[str, Any] = {}
    for name, value in stored:
        if name.startswith("x-error-") or name in _FAILURE_HEADERS:
            continue
        out[name] = value.decode("utf-8", "replace")
    return out


def encode_headers(headers: list[tuple[str, bytes]]) -> list[list[str]]:
    return [[name, base64.b64encode(value).decode()] for name, value in headers]


def decode_headers(stored: list[list[str]]) -> list[tuple[str, bytes]]:
    return [(name, base64.b64decode(value)) for name, value in stored]


# --------------------------------------------------------------------------- filters


Instant = Annotated[datetime, msgspec.Meta(tz=True)]
"""A point in time a filter names: RFC 3339 with its offset (a time without one is ambiguous)."""


class Filter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """What an operator narrows the dead letters to (every field optional, all must hold)."""

    topic: str | None = None
    event_type: str | None = None
    consumer_group: str | None = None
    service: str | None = None
    error: str | None = None
    aggregate_id: str | None = None
    fingerprint: str | None = None
    status: Status | None = None
    source: Source | None = None
    since: Instant | None = None
    until: Instant | None = None
    ids: list[uuid.UUID] | None = None
    """The rules of each field are the same in every store (adapters/postgres.py, adapters/memory.py):
    text fields match exactly, ``error`` is a case-insensitive substring of the error's message or
    type, ``since`` / ``until`` bound the last failure (from, to excluded)."""

    def is_empty(self) -> bool:
        return all(getattr(self, f) in (None, "", []) for f in self.__struct_fields__)


# --------------------------------------------------------------------------- masking

PERSONAL_KEYS: Final = frozenset(
    {
        "email",
        "first_name",
        "last_name",
        "name",
        "full_name",
        "phone",
        "ip",
        "ip_address",
        "user_agent",
        "memo",
        "description",
        "password",
        "new_password",
        "token",
        "code",
        "activation_code",
        "reset_code",
        "refresh_token",
        "access_token",
        "to",
        "address",
    }
)
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_text(text: str) -> str:
    return _EMAIL.sub(lambda m: f"{m.group(1)}•••@{m.group(2)}", text)


def mask(value: Any) -> Any:
    """The payload with personal data masked: personal keys' values hidden, e-mail addresses in
    any text shortened to their first letter and domain."""
    if isinstance(value, dict):
        return {k: ("•••" if k in PERSONAL_KEYS and v not in (None, "") else mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


MAX_DEPTH: Final = 100
"""How deeply nested a payload may be to be read as JSON (a deeper one is shown as it came): masking
and showing it recurse through it, and Python stops recursing at about 1,000 levels."""


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def json_payload(value: bytes) -> Any:
    """A payload read as JSON; None when it is not JSON or is nested deeper than MAX_DEPTH (msgspec
    raises RecursionError, not DecodeError, at its own limit)."""
    try:
        decoded = msgspec.json.decode(value)
    except (msgspec.DecodeError, RecursionError):
        return None
    return None if _deeper_than(decoded, MAX_DEPTH) else decoded


def preview(value: bytes, limit: int = 160) -> str:
    """A one-line, masked look at a payload for lists."""
    decoded = json_payload(value)
    if decoded is not None:
        text = msgspec.json.encode(mask(decoded)).decode()
    else:
        text = mask_text(value[: limit * 2].decode("utf-8", "replace"))
    return text if len(text) <= limit else text[: limit - 1] + "…"
