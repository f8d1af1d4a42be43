"""The query parameters every listing takes: ``limit`` ≤ 100 and a bounded ``offset`` (SPEC §4), and
the text a searchable listing matches (``q``).

An unbounded offset reaches PostgreSQL as a bigint and fails there (a 500); bounded here it is a 400
with a field error like any other invalid parameter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from litestar.params import Parameter

MAX_LIMIT = 100
MAX_OFFSET = 1_000_000_000
MAX_SEARCH = 100

Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT}")]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description=f"Items to skip, 0 to {MAX_OFFSET}")]
Search = Annotated[
    str | None, Parameter(max_length=MAX_SEARCH, description=f"Text to look for, at most {MAX_SEARCH} characters")
]


def page(items: Sequence[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    """What every listing answers: one page of items, how many there are in all, and the page asked."""
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def page_of(items: Sequence[Any], limit: int, offset: int) -> dict[str, Any]:
    """One page of a list held whole (a user's categories, their sessions: a few dozen at most)."""
    return page(list(items[offset : offset + limit]), len(items), limit, offset)
