"""Contract events as their producer would publish them, for the tests that put one on a topic,
in an outbox or before a consumer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from blazing_contracts import AnyEvent, EventPayload, make_event
from blazing_contracts.events.system import HealthCheck


def event_of(
    payload: EventPayload,
    *,
    aggregate_id: str | None = None,
    producer: str = "test",
    correlation_id: str = "test",
    occurred_at: datetime | None = None,
) -> AnyEvent:
    """``payload`` in its envelope: a fresh event id, the first version of its aggregate (a fresh
    one unless named), occurring now unless said."""
    return make_event(
        payload,
        event_id=uuid.uuid4(),
        aggregate_id=aggregate_id or str(uuid.uuid4()),
        aggregate_version=1,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id,
    )


def health_check(
    instance: str,
    status: str = "ok",
    *,
    service: str = "test",
    producer: str = "test",
    correlation_id: str = "test",
    occurred_at: datetime | None = None,
) -> AnyEvent:
    """A ``system.health_check`` of ``instance``, the aggregate it is keyed by."""
    return event_of(
        HealthCheck(service=service, instance=instance, status=status),
        aggregate_id=instance,
        producer=producer,
        correlation_id=correlation_id,
        occurred_at=occurred_at,
    )
