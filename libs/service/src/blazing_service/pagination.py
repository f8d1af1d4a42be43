"""The query parameters every listing takes: ``limit`` ≤ 100 and a bounded ``offset`` (SPEC §4).

An unbounded offset reaches PostgreSQL as a bigint and fails there (a 500); bounded here it is a 400
with a field error like any other invalid parameter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from litestar.params import Parameter

MAX_LIMIT = 100
MAX_OFFSET = 1_000_000_000

Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}")]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description=f"Items to skip, 0 to {MAX_OFFSET}")]


def page_of(items: Sequence[Any], limit: int, offset: int) -> dict[str, Any]:
    """One page of a list held whole (a user's categories, their sessions: a few dozen at most), with
    what every listing answers beside its items."""
    return {"items": list(items[offset : offset + limit]), "total": len(items), "limit": limit, "offset": offset}
