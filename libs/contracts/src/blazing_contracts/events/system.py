"""system.events — service life cycle and health (aggregate id = service instance)."""

from __future__ import annotations

from blazing_contracts.registry import EventPayload, event
from blazing_contracts.topology import SYSTEM_EVENTS

AGGREGATE = "service"


class ServiceEvent(EventPayload, frozen=True, kw_only=True):
    """Which running copy of a service it is about (the aggregate)."""

    TOPIC = SYSTEM_EVENTS
    AGGREGATE_TYPE = AGGREGATE
    service: str
    instance: str


@event("system.health_check")
class HealthCheck(ServiceEvent, frozen=True, kw_only=True):
    status: str
    """``ok``, ``degraded`` or ``failing``."""
    checks: dict[str, str] = {}


@event("system.error")
class ServiceError(ServiceEvent, frozen=True, kw_only=True):
    message: str
    error_type: str
    detail: str | None = None


@event("system.warning")
class ServiceWarning(ServiceEvent, frozen=True, kw_only=True):
    message: str
    detail: str | None = None


@event("system.service_started")
class ServiceStarted(ServiceEvent, frozen=True, kw_only=True):
    version: str


@event("system.service_stopped")
class ServiceStopped(ServiceEvent, frozen=True, kw_only=True):
    reason: str = "shutdown"
