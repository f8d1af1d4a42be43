"""The web pages (SPEC §4.5): server-rendered, no script at all, a strict Content-Security-Policy.

Sessions: the access token in an HttpOnly, Secure, SameSite=Strict cookie that the gateway accepts
on page paths only (so every page is checked like an API call: signature, expiry, revocation); the
pages call the APIs with the identity the gateway signed. A cookie the gateway no longer vouches for
is expired with whatever page answers. Form posts: the Origin (or Referer) must be this site, and
every form carries the token of a double-submit cookie (SameSite=Strict as well).

Every failure is a page: an unknown path, a wrong method, a refused input, an API that is down —
never JSON and never a stack trace (the shared input guard's 400 for NUL bytes aside, which runs
before any page code).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from litestar import Litestar, Request, Response, Router
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.utils import ensure_async_callable

from blazing_service import create_app
from blazing_service.errors import ApiError, status_of
from blazing_service.pages import page_headers
from web import account, finances
from web.common import SESSION, PageError, SignInFirst, page, safe_next
from web.settings import WebSettings

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent

MESSAGES = {
    400: "This request is not valid",
    403: "This is not allowed",
    404: "There is no such page",
    405: "This page does not take that kind of request",
    413: "What you sent is too large",
    429: "Too many requests; wait a moment and try again",
}


def sign_in_first(request: Request[Any, Any, Any], _: SignInFirst) -> Response[Any]:
    """To the sign-in page, and back here afterwards when here is a page one can come back to."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = safe_next(here) if request.method == "GET" and request.url.path != "/" else None
    return Redirect("/sign-in" + (f"?{urlencode({'next': back})}" if back else ""))


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every other failure as the error page with its status (unexpected ones logged, shown as 500)."""
    if isinstance(exc, PageError):
        status, message = exc.status_code, exc.message
    elif isinstance(exc, ApiError):
        status, message = status_of(exc), exc.message
    elif isinstance(exc, ValidationException):
        status, message = 400, MESSAGES[400]
    elif isinstance(exc, HTTPException) and exc.status_code < 500:
        status, message = exc.status_code, MESSAGES.get(exc.status_code, "This request cannot be served")
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        status, message = 500, "Something went wrong on our side; please try again"
    response = page(request, "error.html", status, message=message)
    if isinstance(exc, HTTPException) and exc.headers and "allow" in {k.lower() for k in exc.headers}:
        response.headers["allow"] = next(v for k, v in exc.headers.items() if k.lower() == "allow")
    return response


def build_app(settings: WebSettings) -> Litestar:
    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=15) as client:
            app.state.client = client
            yield

    pages = Router(
        path="/",
        include_in_schema=False,  # pages, not an API: the APIs they call are documented by their services
        route_handlers=[
            *account.HANDLERS,
            *finances.HANDLERS,
            create_static_files_router(path="/static", directories=[HERE / "static"], include_in_schema=False),
        ],
    )
    app = create_app(
        settings,
        [pages],
        lifespan=[lifespan],
        description="Server-rendered pages: sign-up to the balance chart.",
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        exception_handlers={
            SignInFirst: sign_in_first,
            PageError: error_page,
            ApiError: error_page,
            HTTPException: error_page,
            Exception: error_page,
        },
    )
    # a before_send hook sees every answer (404s of unknown paths too, which no middleware does)
    app.before_send.append(
        ensure_async_callable(page_headers(SESSION, settings.identity_secret, applies=lambda _path: True))
    )
    return app
