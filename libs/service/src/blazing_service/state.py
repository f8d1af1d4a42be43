"""What the composition root hands the controllers through the application's state, typed.

A service declares one key per thing it puts there (``writes = StateKey[LedgerWrites]("writes")``);
bootstrap sets ``app.state.writes`` and a controller reads it with ``writes(request)``. The type is
the declaration's word, not checked when read: Protocols and generics cannot be.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from litestar.connection import ASGIConnection

T = TypeVar("T")


@dataclass(frozen=True)
class StateKey(Generic[T]):
    name: str

    def __call__(self, connection: ASGIConnection[Any, Any, Any, Any]) -> T:
        return cast(T, getattr(connection.app.state, self.name))
