"""The web pages' composition root (SPEC §4.5: server-rendered, no script at all, a strict
Content-Security-Policy): the API client, the pages' use cases on it, the page handlers and what
ends a request with a page, built from the settings.

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

from pathlib import Path

import httpx
from litestar import Litestar, Router
from litestar.static_files import create_static_files_router

from blazing_service.instances import InstancesTransport, first_instance
from blazing_service.pages import pages_app
from blazing_service.runtime import Runtime
from web.adapters.api import HttpApi
from web.application.account import Account
from web.application.finances import Finances
from web.application.ports import Api, SessionEnded
from web.entrypoints import account, finances
from web.entrypoints.common import SESSION, SignInFirst, UseCases, error_page, sign_in_first
from web.settings import WebSettings

HERE = Path(__file__).resolve().parent


def build_app(settings: WebSettings) -> Litestar:
    runtime = Runtime(settings)
    # each URL setting may list several instances of its service (blazing_service.instances)
    urls = (settings.auth_url, settings.users_url, settings.ledger_url)
    client = httpx.AsyncClient(timeout=15, transport=InstancesTransport(urls))
    runtime.on_stop(client.aclose)
    auth_url, users_url, ledger_url = (first_instance(url) for url in urls)
    api: Api = HttpApi(client, auth_url=auth_url, users_url=users_url, ledger_url=ledger_url)
    pages = Router(
        path="/",
        include_in_schema=False,  # pages, not an API: the APIs they call are documented by their services
        route_handlers=[
            *account.HANDLERS,
            *finances.HANDLERS,
            create_static_files_router(path="/static", directories=[HERE / "static"], include_in_schema=False),
        ],
    )
    app = pages_app(
        settings,
        [pages],
        runtime=runtime,
        description="Server-rendered pages: sign-up to the balance chart.",
        templates=HERE / "templates",
        error_page=error_page,
        session=SESSION,
        handlers={SignInFirst: sign_in_first, SessionEnded: sign_in_first},
    )
    app.state.use_cases = UseCases(account=Account(api), finances=Finances(api, api))
    return app
