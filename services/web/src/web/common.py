"""What every page handler uses: the session and CSRF cookies, rendering, reading a form post
(same origin, CSRF token, hostile values), calling the APIs, and the refusals that end a request
with a page (sign in first, an error page)."""

from __future__ import annotations

import hmac
import logging
import secrets
from decimal import Decimal, InvalidOperation
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import httpx
from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from blazing_service.body import has_control_characters
from blazing_service.identity import IDENTITY_HEADER, SIGNATURE_HEADER, Identity, identity_of
from blazing_service.pages import PageSession, same_origin
from web.settings import WebSettings

log = logging.getLogger(__name__)

SESSION = PageSession("bs_session", "/")
CSRF = "bs_csrf"
MAX_FIELD = 1000
"""No form field of these pages is longer (a description is at most 1,000 characters)."""
MULTILINE: Final = frozenset({"description"})

NOTICES: Final = {
    "activated": "Your account is active: sign in",
    "reset": "Your password is changed: sign in",
    "password-set": "Your password is set and your account is active: sign in",
    "password-changed": "Password changed; your other sessions were signed out",
    "profile-saved": "Profile saved",
    "category-added": "Category added",
    "category-deleted": "Category deleted",
    "transaction-added": "Transaction added",
    "transaction-saved": "Transaction saved",
    "transaction-deleted": "Transaction deleted",
}
"""What ``?notice=`` may show: a key, never text from the URL (a link must not put words on our page)."""


class SignInFirst(Exception):
    """No identity the gateway vouched for (or the API no longer accepts it): to the sign-in page."""


class PageError(Exception):
    """Ends the request with the error page."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code, self.message = status_code, message


class Unavailable(PageError):
    def __init__(self) -> None:
        super().__init__(503, "The service is unavailable right now; please try again in a moment")


# ------------------------------------------------------------------ request state


def api(request: Request[Any, Any, Any]) -> httpx.AsyncClient:
    client: httpx.AsyncClient = request.app.state.client
    return client


def settings(request: Request[Any, Any, Any]) -> WebSettings:
    s: WebSettings = request.app.state.settings
    return s


def identity(request: Request[Any, Any, Any]) -> Identity | None:
    return identity_of(request)


def signed_in(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The gateway-signed identity headers, passed on to the APIs (or: sign in first)."""
    if identity_of(request) is None:
        raise SignInFirst
    return {IDENTITY_HEADER: request.headers[IDENTITY_HEADER], SIGNATURE_HEADER: request.headers[SIGNATURE_HEADER]}


def csrf_token(request: Request[Any, Any, Any]) -> str:
    """The double-submit token: the cookie's, or a new one (set with the page that shows it)."""
    token = request.cookies.get(CSRF) or getattr(request.state, "csrf", None)
    if not token:
        token = request.state.csrf = secrets.token_urlsafe(32)
    return str(token)


def safe_next(value: str | None) -> str | None:
    """A page of this site to go back to after signing in; None for anything that could lead
    elsewhere (another host, a scheme, ``//`` or ``/\\``) or carry control characters."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if has_control_characters(value) or "\\" in value:
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None


# ------------------------------------------------------------------ rendering


def page(request: Request[Any, Any, Any], name: str, status_code: int = 200, **context: Any) -> Template:
    token = csrf_token(request)
    cookies = []
    if request.cookies.get(CSRF) != token:
        cookies.append(Cookie(key=CSRF, value=token, path="/", httponly=True, secure=True, samesite="strict"))
    return Template(
        name,
        context={
            "me": identity(request),
            "csrf": token,
            "notice": NOTICES.get(request.query_params.get("notice") or ""),
            "errors": {},
            "form": {},
            **context,
        },
        status_code=status_code,
        cookies=cookies,
    )


def go(path: str, notice: str | None = None) -> Redirect:
    assert notice is None or notice in NOTICES, notice
    return Redirect(path + (f"?{urlencode({'notice': notice})}" if notice else ""))


def cents(text: str) -> int | None:
    """'12.34' → 1234; None when it is not an amount with at most two decimals."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")) or value <= 0:
        return None
    return int(value * 100)


def money(value: int) -> str:
    return f"{value / 100:,.2f}"


# ------------------------------------------------------------------ form posts


class Form:
    """A form post that came from our own page with its CSRF token: its fields (one value each)
    and the field errors of values no form of ours can send (control characters, over-long)."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        self.refused: dict[str, list[str]] = {}
        for name, value in fields.items():
            if len(value) > MAX_FIELD:
                self.refused.setdefault(name, []).append(f"Must be at most {MAX_FIELD} characters")
            if has_control_characters(value, multiline=name in MULTILINE):
                self.refused.setdefault(name, []).append("Must not contain control characters")

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)

    def pick(self, *names: str) -> dict[str, str]:
        return {n: self.fields.get(n, "") for n in names}

    @property
    def status(self) -> int:
        """The status of the form shown again: 400 for input no browser sends from our forms; a
        person's mistake gets the form back with 200 (Chromium logs any 4xx page as a console error)."""
        return 400 if self.refused else 200


async def form_of(request: Request[Any, Any, Any]) -> Form:
    if not same_origin(request.headers, settings(request).public_base_url):
        raise PageError(403, "This form was not sent from this site's pages; go back, reload and try again")
    form = await request.form()
    sent, kept = str(form.get("csrf") or ""), request.cookies.get(CSRF) or ""
    # compared as bytes: hmac refuses non-ASCII str, and a hostile token may carry any character
    if not kept or not hmac.compare_digest(sent.encode(), kept.encode()):
        raise PageError(403, "This form expired; go back, reload and try again")
    return Form({str(k): v if isinstance(v, str) else "" for k, v in form.items() if k != "csrf"})


# ------------------------------------------------------------------ the APIs


async def call(
    request: Request[Any, Any, Any], method: str, url: str, *, signed: bool = True, **kwargs: Any
) -> httpx.Response:
    """One API call. The API unreachable or failing is the 503 page; with ``signed``, a 401 means
    the session ended between the gateway and here: sign in again."""
    headers = {**kwargs.pop("headers", {}), **(signed_in(request) if signed else {})}
    try:
        r = await api(request).request(method, url, headers=headers, **kwargs)
    except httpx.HTTPError as exc:
        log.warning("%s %s failed: %r", method, url, exc)
        raise Unavailable from None
    if r.status_code >= 500:
        log.warning("%s %s answered %s", method, url, r.status_code)
        raise Unavailable
    if signed and r.status_code == 401:
        raise SignInFirst
    return r


async def load(request: Request[Any, Any, Any], url: str, **params: Any) -> dict[str, Any]:
    """A signed-in GET whose data the page needs: anything but success ends with the error page."""
    r = await call(request, "GET", url, params={k: v for k, v in params.items() if v not in (None, "")})
    if r.status_code == 404:
        raise PageError(404, "Not found: it does not exist, or it is not yours")
    if not r.is_success:
        raise PageError(r.status_code, errors_of(r)[0])
    body: dict[str, Any] = r.json()
    return body


def errors_of(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    """The API's refusal as a message and field errors, to show on the form again."""
    try:
        body = response.json()
    except ValueError:
        return "Something went wrong; please try again", {}
    if not isinstance(body, dict):
        return "Something went wrong; please try again", {}
    errors = body.get("errors")
    return str(body.get("message") or "Something went wrong"), dict(errors) if isinstance(errors, dict) else {}
