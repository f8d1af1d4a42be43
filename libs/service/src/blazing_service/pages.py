"""What the server-rendered pages (web, the ops console) share: a strict Content-Security-Policy, the
same-origin check of form posts, and the session cookie's lifecycle.

A page session is an access token in an HttpOnly cookie that the gateway turns into a signed identity
on page paths. When the token no longer verifies (expired, revoked, garbage) the gateway forwards
the request without an identity; the cookie is then dead weight that would be sent with every page,
so every answer to such a request also expires it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import Message, Scope

from blazing_service.identity import verify

STRICT_CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
"""No script at all, no inline style: the pages are plain HTML forms and one stylesheet."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL; None for anything else (``null``, relative)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


def same_origin(headers: Mapping[str, str], public_base_url: str) -> bool:
    """Whether a form post comes from this site's own pages: its ``Origin`` — or, when the browser sent
    none, its ``Referer`` — is the configured public origin. ``Origin: null`` (sandboxed frames,
    data: URLs, some redirects) and a post with neither header are refused: no browser of ours
    sends a form without one of them."""
    expected = origin_of(public_base_url)
    sent = headers.get("origin")
    if sent is None:
        sent = headers.get("referer")
    return expected is not None and sent is not None and origin_of(sent) == expected


class PageSession:
    """The cookie a page session lives in (name and path), issued and expired with the same attributes."""

    def __init__(self, name: str, path: str) -> None:
        self.name, self.path = name, path

    def issued(self, token: str, max_age: int) -> Cookie:
        return Cookie(
            key=self.name,
            value=token,
            path=self.path,
            max_age=max_age,
            httponly=True,
            secure=True,
            samesite="strict",
        )

    def expired(self) -> Cookie:
        return self.issued("", 0)

    def is_stale(self, connection: ASGIConnection[Any, Any, Any, Any], secret: str) -> bool:
        """The request carries the cookie, but the gateway vouched for no identity: the token in it
        failed verification (expired, revoked, malformed)."""
        return bool(connection.cookies.get(self.name)) and verify(connection.headers, secret) is None


def page_headers(
    session: PageSession, secret: str, *, applies: Callable[[str], bool], csp: str = STRICT_CSP
) -> Callable[[Message, Scope], None]:
    """A ``before_send`` hook (it sees every answer, 404s and error pages included) for the paths
    ``applies`` accepts: adds the CSP, and expires the session cookie when it is stale — unless the
    answer sets that cookie itself (a sign-in)."""

    def hook(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope["type"] != ScopeType.HTTP or not applies(scope["path"]):
            return
        headers = MutableScopeHeaders.from_message(message)
        headers["content-security-policy"] = csp
        if not session.is_stale(ASGIConnection(scope), secret):
            return
        prefix = f"{session.name}=".lower()
        if any(v.lstrip().lower().startswith(prefix) for v in headers.getall("set-cookie", [])):
            return
        name, value = session.expired().to_encoded_header()
        headers.add(name.decode("latin-1"), value.decode("latin-1"))

    return hook
