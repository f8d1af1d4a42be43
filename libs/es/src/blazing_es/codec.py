"""Internal (stored) events: a service's own Structs, named and versioned, with upcasters.

Stored events are not contract events: a service keeps its private vocabulary in its store and
translates to ``blazing_contracts`` at one place when it publishes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import msgspec

from blazing_es.errors import UnknownEventError
from blazing_es.events import StoredEvent

E = TypeVar("E", bound=msgspec.Struct)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventCodec(Generic[E]):
    """Maps ``(event_type, schema_version)`` ↔ Struct class; upcasts old versions on read."""

    def __init__(self) -> None:
        self._current: dict[str, tuple[int, type[E]]] = {}
        self._names: dict[type[E], tuple[str, int]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._encoder = msgspec.json.Encoder()

    @classmethod
    def of(cls, names: Mapping[str, type[E]]) -> EventCodec[E]:
        """A codec of ``name → class`` at version 1 each (register later versions and upcasters on it)."""
        codec: EventCodec[E] = cls()
        for name, event_type in names.items():
            codec.register(name, event_type)
        return codec

    def register(self, name: str, cls: type[E], version: int = 1) -> None:
        self._current[name] = (version, cls)
        self._names[cls] = (name, version)

    def upcaster(self, name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorates a function turning ``name`` v``from_version`` data into v``from_version + 1``."""

        def add(fn: Upcaster) -> Upcaster:
            self._upcasters[(name, from_version)] = fn
            return fn

        return add

    def encode(self, event: E) -> tuple[str, int, bytes]:
        name, version = self._names[type(event)]
        return name, version, self._encoder.encode(event)

    def decode(self, stored: StoredEvent) -> E:
        try:
            version, cls = self._current[stored.event_type]
        except KeyError:
            raise UnknownEventError(f"no class registered for {stored.event_type!r}") from None
        if stored.schema_version == version:
            return msgspec.json.decode(stored.data, type=cls)
        data: dict[str, Any] = msgspec.json.decode(stored.data)
        for v in range(stored.schema_version, version):
            step = self._upcasters.get((stored.event_type, v))
            if step is None:
                raise UnknownEventError(f"no upcaster for {stored.event_type} v{v}")
            data = step(data)
        return msgspec.convert(data, type=cls)
