"""system.events — service life cycle and health (aggregate id = service instance)."""

from __future__ import annotations

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import SYSTEM_EVENTS

AGGREGATE = "service"


@event("system.health_check", topic=SYSTEM_EVENTS, aggregate_type=AGGREGATE)
class HealthCheck(EventPayload, frozen=True, kw_only=True):
    service: str
    instance: str
    status: str
    """``ok``, ``degraded`` or ``failing``."""
    checks: dict[str, str] = {}


@event("system.error", topic=SYSTEM_EVENTS, aggregate_type=AGGREGATE)
class ServiceError(EventPayload, frozen=True, kw_only=True):
    service: str
    instance: str
    message: str
    error_type: str
    detail: str | None = None


@event("system.warning", topic=SYSTEM_EVENTS, aggregate_type=AGGREGATE)
class ServiceWarning(EventPayload, frozen=True, kw_only=True):
    service: str
    instance: str
    message: str
    detail: str | None = None


@event("system.service_started", topic=SYSTEM_EVENTS, aggregate_type=AGGREGATE)
class ServiceStarted(EventPayload, frozen=True, kw_only=True):
    service: str
    instance: str
    version: str


@event("system.service_stopped", topic=SYSTEM_EVENTS, aggregate_type=AGGREGATE)
class ServiceStopped(EventPayload, frozen=True, kw_only=True):
    service: str
    instance: str
    reason: str = "shutdown"
