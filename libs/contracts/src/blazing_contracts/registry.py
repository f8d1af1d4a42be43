"""Which payload Struct belongs to which event type and schema version, and how old versions are
upcast. Payload classes register themselves with :func:`event`.

Evolution rules (msgspec's compatible changes): a new field gets a default; a field is never
retyped, renamed or removed within a version; unknown fields are ignored, never forbidden.
A breaking change is a new version registered with an upcaster from the previous one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import msgspec

from blazing_contracts.errors import ContractError


class EventPayload(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every event payload. A stream's base (``UserEvent``, ``TransactionEvent``…) names
    its topic and aggregate type once, for every event declared on it (not fields: class constants)."""

    TOPIC: ClassVar[str]
    AGGREGATE_TYPE: ClassVar[str]


PayloadT = TypeVar("PayloadT", bound=type[EventPayload])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class EventSpec:
    event_type: str
    topic: str
    aggregate_type: str
    versions: dict[int, type[EventPayload]] = field(default_factory=dict)
    upcasters: dict[int, Upcaster] = field(default_factory=dict)
    """``upcasters[n]`` turns a version ``n`` payload (as plain data) into version ``n + 1``."""

    @property
    def current_version(self) -> int:
        return max(self.versions)

    @property
    def current(self) -> type[EventPayload]:
        return self.versions[self.current_version]


class Registry:
    def __init__(self) -> None:
        self._specs: dict[str, EventSpec] = {}
        self._by_class: dict[type[EventPayload], EventSpec] = {}

    def register(
        self,
        cls: type[EventPayload],
        event_type: str,
        topic: str,
        aggregate_type: str,
        version: int,
        upcast_from_previous: Upcaster | None,
    ) -> None:
        spec = self._specs.setdefault(event_type, EventSpec(event_type, topic, aggregate_type))
        if spec.topic != topic or spec.aggregate_type != aggregate_type:
            raise ValueError(f"{event_type}: topic/aggregate differ between versions")
        if version in spec.versions:
            raise ValueError(f"{event_type} v{version} registered twice")
        if version > 1:
            if upcast_from_previous is None:
                raise ValueError(f"{event_type} v{version} needs an upcaster from v{version - 1}")
            spec.upcasters[version - 1] = upcast_from_previous
        spec.versions[version] = cls
        self._by_class[cls] = spec

    def spec(self, event_type: str) -> EventSpec:
        try:
            return self._specs[event_type]
        except KeyError:
            raise ContractError(f"unknown event type {event_type!r}") from None

    def spec_of(self, cls: type[EventPayload]) -> EventSpec:
        return self._by_class[cls]

    def specs(self) -> list[EventSpec]:
        return sorted(self._specs.values(), key=lambda s: s.event_type)

    def decode_payload(self, event_type: str, version: int, raw: msgspec.Raw | bytes) -> EventPayload:
        spec = self.spec(event_type)
        if version not in spec.versions:
            raise ContractError(f"unknown schema_version {version} of {event_type}")
        try:
            if version == spec.current_version:
                return msgspec.json.decode(raw, type=spec.current)
            # Validate against the version it claims to be, then upcast step by step.
            old = msgspec.json.decode(raw, type=spec.versions[version])
            data: dict[str, Any] = msgspec.to_builtins(old)
            for v in range(version, spec.current_version):
                data = spec.upcasters[v](data)
            return msgspec.convert(data, type=spec.current)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ContractError(f"invalid {event_type} v{version} payload: {exc}") from exc


REGISTRY = Registry()


def event(
    event_type: str,
    *,
    topic: str | None = None,
    aggregate_type: str | None = None,
    version: int = 1,
    upcast_from_previous: Upcaster | None = None,
) -> Callable[[PayloadT], PayloadT]:
    """Class decorator registering a payload Struct as ``event_type`` at ``version``, on the topic
    and aggregate type given here or else its stream base's (``TOPIC``, ``AGGREGATE_TYPE``)."""

    def register(cls: PayloadT) -> PayloadT:
        on = topic or getattr(cls, "TOPIC", None)
        of = aggregate_type or getattr(cls, "AGGREGATE_TYPE", None)
        if on is None or of is None:
            raise ValueError(f"{event_type}: no topic or aggregate type (give them, or derive from a stream base)")
        REGISTRY.register(cls, event_type, on, of, version, upcast_from_previous)
        return cls

    return register
