"""Who did what: every operator action goes to the append-only audit log with its actor."""

from __future__ import annotations

import uuid

import msgspec


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    """Who did something: the admin's id and e-mail (or a system part, without an id)."""

    name: str
    user_id: uuid.UUID | None = None
