"""What every page handler uses: the session and CSRF cookies, rendering, reading a form post
(same origin, CSRF token, hostile values), who calls the APIs, and the refusals that end a request
with a page (sign in first, an error page). What the web pages share with the ops console is
blazing_service.pages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from litestar import Request, Response
from litestar.response import Redirect, Template

from blazing_service.body import has_control_characters
from blazing_service.identity import IDENTITY_HEADER, SIGNATURE_HEADER, Identity, identity_of
from blazing_service.pages import (
    DoubleSubmit,
    PageError,
    PageSession,
    error_page_of,
    form_fields,
    from_this_site,
    notice_of,
)
from blazing_service.state import StateKey
from web.application.account import Account
from web.application.finances import Finances
from web.application.ports import Caller
from web.application.refusals import Refusal
from web.domain.money import money
from web.settings import WebSettings

log = logging.getLogger(__name__)

SESSION = PageSession("bs_session", "/")
CSRF = DoubleSubmit("bs_csrf", "csrf", "/")
MAX_FIELD = 1000
"""No form field of these pages is longer (a description is at most 1,000 characters)."""
MULTILINE: Final = frozenset({"description"})
FORM = "Please correct the form"

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


@dataclass(frozen=True)
class UseCases:
    """The pages' use cases (built by bootstrap.py)."""

    account: Account
    finances: Finances


# ------------------------------------------------------------------ request state


use_cases = StateKey[UseCases]("use_cases")
settings = StateKey[WebSettings]("settings")


def identity(request: Request[Any, Any, Any]) -> Identity | None:
    return identity_of(request)


def signed_in(request: Request[Any, Any, Any]) -> Caller:
    """The gateway-signed identity, passed on to the APIs (or: sign in first)."""
    if identity_of(request) is None:
        raise SignInFirst
    return Caller({k: request.headers[k] for k in (IDENTITY_HEADER, SIGNATURE_HEADER)})


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
    token = CSRF.token(request)
    return Template(
        name,
        context={
            "me": identity(request),
            "csrf": token,
            "notice": notice_of(request.query_params, NOTICES),
            "errors": {},
            "form": {},
            "money": money,
            **context,
        },
        status_code=status_code,
        cookies=CSRF.cookies(request, token),
    )


def go(path: str, notice: str | None = None) -> Redirect:
    assert notice is None or notice in NOTICES, notice
    return Redirect(path + (f"?{urlencode({'notice': notice})}" if notice else ""))


# ------------------------------------------------------------------ form posts


class Form:
    """A form post that came from our own page with its CSRF token: its fields (one value each)
    and the field errors of values no form of ours can send (control characters, over-long)."""

    def __init__(self, fields: dict[str, str]) -> None:
        self.fields = fields
        self.refused: dict[str, list[str]] = {}
        for name, value in fields.items():
            if len(value) > MAX_FIELD:  # not read through: a field may be a whole (1 MiB) body
                self.refused.setdefault(name, []).append(f"Must be at most {MAX_FIELD} characters")
            elif has_control_characters(value, multiline=name in MULTILINE):
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
    from_this_site(
        request,
        settings(request).public_base_url,
        "This form was not sent from this site's pages; go back, reload and try again",
    )
    form = await form_fields(request)
    if not CSRF.holds(request, str(form.get(CSRF.field) or "")):
        if SESSION.is_stale(request, settings(request).identity_secret):
            raise SignInFirst  # the session ended while the form was open: its token was that session's
        raise PageError(403, "This form expired; go back, reload and try again")
    return Form({str(k): v if isinstance(v, str) else "" for k, v in form.items() if k != CSRF.field})


async def answer_form(
    request: Request[Any, Any, Any],
    form: Form,
    template: str,
    act: Callable[[], Awaitable[Response[Any] | Refusal]],
    shown: dict[str, str],
    **context: Any,
) -> Response[Any]:
    """A form's post: what ``act`` answers when the form is valid and the application does it; else
    the form's page again (``template``, with ``shown``: what of the form is shown back) with the
    field errors or the application's refusal."""
    refused = Refusal(message=FORM, errors=form.refused)
    if not form.refused:
        done = await act()
        if not isinstance(done, Refusal):
            return done
        refused = done
    return page(request, template, form.status, form=shown, errors=refused.errors, error=refused.message, **context)


# ------------------------------------------------------------------ what ends a request


def sign_in_first(request: Request[Any, Any, Any], _: Exception) -> Response[Any]:
    """To the sign-in page, and back here afterwards when here is a page one can come back to."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = safe_next(here) if request.method == "GET" and request.url.path != "/" else None
    return Redirect("/sign-in" + (f"?{urlencode({'next': back})}" if back else ""))


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every other failure as the error page with its status (unexpected ones logged, shown as 500)."""
    shown = error_page_of(request, exc)
    response = page(request, "error.html", shown.status, message=shown.message)
    response.headers.update(shown.headers)
    return response
