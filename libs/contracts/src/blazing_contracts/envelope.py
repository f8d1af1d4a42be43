"""The event envelope (SPEC §2.1) and the typed decoding of any event on any topic.

Decoding is two-step: the envelope is read with its payload left raw, then the payload is decoded
as the Struct registered for ``(event_type, schema_version)``. An older payload version is
upcast to the current one before it is typed, so consumers only ever see current payloads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec

from blazing_contracts import topology
from blazing_contracts.errors import ContractError
from blazing_contracts.registry import REGISTRY, EventPayload

P = TypeVar("P")


class EventEnvelope(msgspec.Struct, Generic[P], frozen=True, kw_only=True):
    """Every Kafka record value on the five event topics."""

    event_id: UUID
    event_type: str
    schema_version: int
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    producer: str
    correlation_id: str
    causation_id: str | None = None
    actor_id: UUID | None = None
    payload: P


AnyEvent = EventEnvelope[EventPayload]

_encoder = msgspec.json.Encoder()
_raw_decoder = msgspec.json.Decoder(EventEnvelope[msgspec.Raw])


def encode_event(event: EventEnvelope[Any]) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> AnyEvent:
    """Decodes and types an event; raises ContractError for anything that is not a valid event."""
    try:
        raw = _raw_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ContractError(f"not an event envelope: {exc}") from exc
    payload = REGISTRY.decode_payload(raw.event_type, raw.schema_version, raw.payload)
    current = REGISTRY.spec(raw.event_type).current_version
    return msgspec.structs.replace(raw, payload=payload, schema_version=current)  # type: ignore[arg-type]


def make_event(
    payload: EventPayload,
    *,
    event_id: UUID,
    aggregate_id: str,
    aggregate_version: int,
    occurred_at: datetime,
    producer: str,
    correlation_id: str,
    causation_id: str | None = None,
    actor_id: UUID | None = None,
) -> AnyEvent:
    """Wraps a payload; type, version and aggregate type come from the payload's registration."""
    spec = REGISTRY.spec_of(type(payload))
    return EventEnvelope(
        event_id=event_id,
        event_type=spec.event_type,
        schema_version=spec.current_version,
        aggregate_type=spec.aggregate_type,
        aggregate_id=aggregate_id,
        aggregate_version=aggregate_version,
        occurred_at=occurred_at,
        producer=producer,
        correlation_id=correlation_id,
        causation_id=causation_id,
        actor_id=actor_id,
        payload=payload,
    )


def topic_of(event: EventEnvelope[Any]) -> str:
    return REGISTRY.spec(event.event_type).topic


def record_headers(event: EventEnvelope[Any], traceparent: str | None = None) -> dict[str, str]:
    """The Kafka headers of SPEC §2.1 for an event."""
    headers = {
        topology.HEADER_EVENT_TYPE: event.event_type,
        topology.HEADER_SCHEMA_VERSION: str(event.schema_version),
        topology.HEADER_CORRELATION_ID: event.correlation_id,
    }
    if traceparent:
        headers[topology.HEADER_TRACEPARENT] = traceparent
    return headers
