"""What the server-rendered pages (web, the ops console) share: a strict Content-Security-Policy, the
same-origin check of form posts and the signed double-submit CSRF token, the session cookie's lifecycle,
what a sign-in sends to auth and reads back, the API's refusals as the application's errors, the
error page of any failure, ``?notice=`` messages that are only ever the service's own words, and
the application of pages itself (``pages_app``: templates, error pages, the page headers).

A page session is an access token in an HttpOnly cookie that the gateway turns into a signed identity
on page paths. When the token no longer verifies (expired, revoked, garbage) the gateway forwards
the request without an identity; the cookie is then dead weight that would be sent with every page,
so every answer to such a request also expires it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import msgspec
from litestar import Litestar, Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, FormMultiDict, MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from litestar.types import Message, Scope
from litestar.utils import ensure_async_callable

from blazing_app import Browser
from blazing_app import errors as app
from blazing_service.dependencies import outage_of
from blazing_service.errors import status_of
from blazing_service.http import create_app, header_text
from blazing_service.identity import identity_of, verify
from blazing_service.runtime import Runtime
from blazing_service.settings import ServiceSettings

log = logging.getLogger(__name__)

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


def from_this_site(request: Request[Any, Any, Any], public_base_url: str, refusal: str) -> None:
    """A form post from anywhere but this site's own pages ends with a 403 page saying ``refusal``."""
    if not same_origin(request.headers, public_base_url):
        raise PageError(403, refusal)


MAX_FORM_FIELDS = 100
"""No form of the web pages has nearly as many fields (a longer form passes its own ``max_fields``)."""


async def form_fields(request: Request[Any, Any, Any], *, max_fields: int = MAX_FORM_FIELDS) -> FormMultiDict:
    """A form post's fields, read as ``request.form()`` reads them but never kept: Litestar's parser of
    url-encoded bodies is an ``lru_cache`` of 1,024 bodies (up to 1 MiB each, passwords in them) for
    the life of the process, and it splits a body into any number of fields. More than ``max_fields``
    is a 413 page, refused before the body is split. A multipart part that does not decode as text
    in its charset (bytes that are not UTF-8, a charset no codec reads) is the 400 page, never a 500
    (Litestar decodes each part as it parses and lets the codec's error through)."""
    content_type, _ = request.content_type
    if content_type != RequestEncodingType.URL_ENCODED:
        try:  # multipart is parsed as it streams (Litestar's part limit), nothing kept
            return await request.form()
        except (UnicodeError, LookupError):
            raise PageError(400, "The form's text is not in a character set it names (UTF-8)") from None
    try:  # as Litestar decodes it: the body as Latin-1, each %-escape as UTF-8
        fields = parse_qsl(
            (await request.body()).decode("latin-1"), keep_blank_values=True, separator="&", max_num_fields=max_fields
        )
    except ValueError:  # more fields than max_fields
        raise PageError(413, ERROR_MESSAGES[413]) from None
    return FormMultiDict(fields)


class DoubleSubmit:
    """The CSRF token of the forms, a signed double submit: a random nonce and its HMAC over the
    session the token was issued for (the signed-in session's id; none before signing in), keyed by
    the identity secret. It lives in an HttpOnly, Secure, SameSite=Strict cookie and is repeated in a
    hidden field of every form; a post is refused unless the field is the cookie's and the cookie's
    token was issued for the request's own session. A token planted in the cookie (by a sibling
    subdomain, say) is not one this site signed for the victim's session; one issued before signing
    in is replaced on the first page after it."""

    def __init__(self, cookie: str = "bs_csrf", field: str = "csrf", path: str = "/") -> None:
        self.cookie, self.field, self.path = cookie, field, path

    def token(self, request: Request[Any, Any, Any]) -> str:
        """The request's token: its cookie's while it is valid for the request's session, or a new
        one (set with the page that shows it)."""
        token = request.cookies.get(self.cookie) or getattr(request.state, "csrf", None)
        if not token or not self._issued_here(request, str(token)):
            nonce = secrets.token_urlsafe(24)
            token = request.state.csrf = f"{nonce}.{self._mac(request, nonce)}"
        return str(token)

    def cookies(self, request: Request[Any, Any, Any], token: str) -> list[Cookie]:
        """The cookie to set with a page showing ``token`` (none when the browser holds it already)."""
        if request.cookies.get(self.cookie) == token:
            return []
        return [Cookie(key=self.cookie, value=token, path=self.path, httponly=True, secure=True, samesite="strict")]

    def holds(self, request: Request[Any, Any, Any], sent: str) -> bool:
        kept = request.cookies.get(self.cookie) or ""
        # compared as bytes: hmac refuses non-ASCII str, and a hostile token may carry any character
        return bool(kept) and hmac.compare_digest(sent.encode(), kept.encode()) and self._issued_here(request, kept)

    def _issued_here(self, request: Request[Any, Any, Any], token: str) -> bool:
        nonce, _, mac = token.partition(".")
        return bool(nonce) and hmac.compare_digest(mac.encode(), self._mac(request, nonce).encode())

    @staticmethod
    def _mac(request: Request[Any, Any, Any], nonce: str) -> str:
        identity = identity_of(request)
        session = b"" if identity is None else str(identity.session_id or identity.user_id).encode()
        key = str(request.app.state.identity_secret).encode()
        digest = hmac.new(key, b"csrf\0" + nonce.encode() + b"\0" + session, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


# ------------------------------------------------------------------ signing in through auth


def browser_of(request: Request[Any, Any, Any]) -> Browser:
    """The browser of a page's sign-in, as its request tells: its address and its user agent."""
    forwarded = header_text(request, "x-forwarded-for") or header_text(request, "x-real-ip") or ""
    return Browser(forwarded_for=forwarded, user_agent=header_text(request, "user-agent") or "")


def browser_headers(browser: Browser) -> dict[bytes, bytes]:
    """The browser's address and agent as the sign-in's headers to auth, in UTF-8 bytes (httpx
    encodes text headers as ASCII: an agent with any other character failed the sign-in)."""
    return {b"x-forwarded-for": browser.forwarded_for.encode(), b"user-agent": browser.user_agent.encode()}


class SignedInUser(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    email: str
    permissions: int


class SignedIn(msgspec.Struct, frozen=True, kw_only=True):
    """Auth's answer to a successful sign-in, as far as a page session needs it."""

    access_token: str
    expires_in: int
    session_id: uuid.UUID
    user: SignedInUser


_REFUSALS: dict[int, type[app.ApplicationError]] = {
    401: app.Unauthenticated,
    403: app.Forbidden,
    404: app.NotFound,
    409: app.Conflict,
    412: app.Stale,
    422: app.Refused,
}
UNAVAILABLE = "The service is unavailable right now; please try again in a moment"


def refusal_of(status: int, body: bytes) -> app.ApplicationError:
    """An API's refusal (a 4xx in the one error shape) as the application's error of that status,
    with the API's message and field errors; a 5xx is ``Unavailable``."""
    if status >= 500:
        return app.Unavailable(UNAVAILABLE)
    message, errors = "Something went wrong; please try again", {}
    try:
        parsed = msgspec.json.decode(body)
    except msgspec.DecodeError:
        parsed = None
    if isinstance(parsed, dict):
        message = str(parsed.get("message") or "Something went wrong")
        found = parsed.get("errors")
        errors = (
            {str(k): [str(m) for m in v] for k, v in found.items() if isinstance(v, list)}
            if isinstance(found, dict)
            else {}
        )
    if status == 400:
        return app.Invalid(errors, message)
    if status == 429:
        return app.Throttled(1, message)
    return _REFUSALS.get(status, app.ApplicationError)(message)


def fields_of(exc: app.ApplicationError) -> dict[str, list[str]]:
    """The field errors of a refusal (none but a validation failure's)."""
    return exc.errors if isinstance(exc, app.Invalid) else {}


# ------------------------------------------------------------------ what ends a page request


class PageError(Exception):
    """Ends a page request with the error page."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code, self.message = status_code, message


ERROR_MESSAGES = {
    400: "This request is not valid",
    403: "This is not allowed",
    404: "There is no such page",
    405: "This page does not take that kind of request",
    413: "What you sent is too large",
    429: "Too many requests; wait a moment and try again",
}


class ErrorPage(msgspec.Struct, frozen=True, kw_only=True):
    status: int
    message: str
    errors: dict[str, list[str]] = {}
    headers: dict[str, str] = {}


def error_page_of(request: Request[Any, Any, Any], exc: Exception) -> ErrorPage:
    """What the error page of a failure says: a person's words for a refusal, 503 for a dependency's
    outage, and for anything unexpected a 500 (logged) — never a stack trace."""
    allow = {
        k: v for k, v in ((exc.headers or {}) if isinstance(exc, HTTPException) else {}).items() if k.lower() == "allow"
    }
    if isinstance(exc, PageError):
        return ErrorPage(status=exc.status_code, message=exc.message)
    if isinstance(exc, app.ApplicationError):
        return ErrorPage(status=status_of(exc), message=exc.message, errors=fields_of(exc))
    if isinstance(exc, ValidationException):
        return ErrorPage(status=400, message=ERROR_MESSAGES[400])
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        message = ERROR_MESSAGES.get(exc.status_code, "This request cannot be served")
        return ErrorPage(status=exc.status_code, message=message, headers=allow)
    if outage_of(exc) is not None:  # logged once by blazing_service.dependencies
        return ErrorPage(status=503, message=UNAVAILABLE, headers={"Retry-After": "2"})
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ErrorPage(status=500, message="Something went wrong on our side; please try again")


def notice_of(params: Mapping[str, Any], notices: Mapping[str, str]) -> str | None:
    """The message ``?notice=KEY`` names — one of the service's own, never text from the URL; one
    with a ``{count}`` shows ``?count=`` only when it is a plain number."""
    template = notices.get(str(params.get("notice") or ""))
    if template is None or "{count}" not in template:
        return template
    count = str(params.get("count") or "0")
    if not count.isascii() or not count.isdigit() or len(count) > 12:
        return None
    return template.format(count=int(count))


ErrorHandler = Callable[[Request[Any, Any, Any], Exception], Response[Any]]


def pages_app(
    settings: ServiceSettings,
    routes: Sequence[Any],
    *,
    templates: Path,
    error_page: ErrorHandler,
    session: PageSession,
    applies: Callable[[str], bool] = lambda _path: True,
    handlers: Mapping[type[Exception], Callable[..., Response[Any]]] | None = None,
    runtime: Runtime | None = None,
    description: str = "",
) -> Litestar:
    """A service application that serves pages: Jinja templates from ``templates``, every failure
    the ``handlers`` do not take as ``error_page``, and the page headers (the CSP, a stale session
    cookie expired) on every answer to a path ``applies`` accepts — through a ``before_send`` hook,
    which sees the 404s of unknown paths too."""
    application = create_app(
        settings,
        routes,
        runtime=runtime,
        description=description,
        template_config=TemplateConfig(directory=templates, engine=JinjaTemplateEngine),
        exception_handlers={
            **(handlers or {}),
            PageError: error_page,
            app.ApplicationError: error_page,
            HTTPException: error_page,
            Exception: error_page,
        },
    )
    application.before_send.append(
        ensure_async_callable(page_headers(session, settings.identity_secret, applies=applies))
    )
    return application
