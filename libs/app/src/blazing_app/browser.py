"""What a page's sign-in passes on to auth about the browser."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Browser:
    """Its address (for auth's per-address throttling) and its agent (for the session list)."""

    forwarded_for: str
    user_agent: str
