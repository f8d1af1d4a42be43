"""What the HTTP API shows of a thing that more than one service answers with (SPEC §4): each
service names its own subclass (its OpenAPI component), the fields are written once here."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec


class UserView(msgspec.Struct, frozen=True, kw_only=True):
    """A user as the API shows it: GET /api/v1/user (users) and the sign-in reply (auth), in the
    original's fields and order."""

    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    balance: int
    permissions: int
    activated: bool
    avatar_url: str | None
    created_at: datetime
    updated_at: datetime
