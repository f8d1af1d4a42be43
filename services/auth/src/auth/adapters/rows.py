"""The row a credential's state is kept as in the credentials read model — one shape for the
PostgreSQL table and its in-memory fake."""

from __future__ import annotations

from typing import Any

from auth.domain.credential import Credential


def credential_row(state: Credential, version: int) -> dict[str, Any]:
    """The columns a save writes (``version``: the stream version the state is at)."""
    return {
        "email": state.email,
        "first_name": state.first_name,
        "password_hash": state.password_hash,
        "status": state.status,
        "permissions": state.permissions,
        "must_set_password": state.must_set_password,
        "failed_attempts": state.failed_attempts,
        "window_start": state.window_start,
        "locked_until": state.locked_until,
        "version": version,
    }
