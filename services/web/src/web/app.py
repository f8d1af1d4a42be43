"""The web pages (SPEC §4.5): server-rendered, no script at all, a strict Content-Security-Policy.

Sessions: the access token in an HttpOnly, Secure, SameSite=Strict cookie that the gateway accepts
on page paths only (so every page is checked like an API call: signature, expiry, revocation); the
pages call the APIs with the identity the gateway signed. CSRF: every form carries the token of a
double-submit cookie (SameSite=Strict as well); a post without the matching token is refused.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from litestar import Litestar, Request, Response, Router, get, post
from litestar.contrib.jinja import JinjaTemplateEngine
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from blazing_service import create_app
from blazing_service.identity import IDENTITY_HEADER, SIGNATURE_HEADER, Identity, identity_of
from web.settings import WebSettings

HERE = Path(__file__).resolve().parent
SESSION, CSRF = "bs_session", "bs_csrf"
CSP = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class SignInFirst(Exception):
    pass


class BadCsrf(Exception):
    pass


def security_headers(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CSP.encode()))  # nginx adds the other headers
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, with_headers)

    return middleware


# ------------------------------------------------------------------ helpers


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


async def form_of(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    sent, kept = str(form.get("csrf") or ""), request.cookies.get(CSRF) or ""
    if not kept or not hmac.compare_digest(sent, kept):
        raise BadCsrf
    return {k: str(v) for k, v in form.items() if k != "csrf"}


def page(request: Request[Any, Any, Any], name: str, status_code: int = 200, **context: Any) -> Template:
    token = csrf_token(request)
    cookies = []
    if request.cookies.get(CSRF) != token:
        cookies.append(Cookie(key=CSRF, value=token, path="/", httponly=True, secure=True, samesite="strict"))
    return Template(
        name,
        context={"me": identity(request), "csrf": token, "notice": request.query_params.get("notice"), **context},
        status_code=status_code,
        cookies=cookies,
    )


def errors_of(response: httpx.Response) -> tuple[str, dict[str, list[str]]]:
    """The API's refusal as a message and field errors, to show on the form again (the page itself
    answers 200: it is the form, with what to correct — a browser logs any 4xx page as an error)."""
    try:
        body = response.json()
    except ValueError:
        return "Something went wrong; please try again", {}
    return str(body.get("message") or "Something went wrong"), dict(body.get("errors") or {})


def cents(text: str) -> int | None:
    """'12.34' → 1234; None when it is not an amount with at most two decimals."""
    try:
        value = Decimal(text.strip().replace(",", "."))
    except InvalidOperation:
        return None
    if value != value.quantize(Decimal("0.01")) or value <= 0:
        return None
    return int(value * 100)


def money(value: int) -> str:
    return f"{value / 100:,.2f}"


def go(path: str, notice: str | None = None) -> Redirect:
    return Redirect(path + (f"?{urlencode({'notice': notice})}" if notice else ""))


# ------------------------------------------------------------------ anonymous pages


@get("/", sync_to_thread=False)
def home(request: Request[Any, Any, Any]) -> Response[Any]:
    if identity(request) is not None:
        return go("/balance")
    return page(request, "home.html")


@get("/sign-up", sync_to_thread=False)
def sign_up_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "sign_up.html", form={}, errors={})


@post("/sign-up")
async def sign_up(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    r = await api(request).post(f"{settings(request).auth_url}/api/v1/auth/sign-up", json=form)
    if r.status_code in (201, 202):
        return page(request, "activate.html", email=form.get("email", ""), errors={}, sent=True)
    message, errors = errors_of(r)
    return page(request, "sign_up.html", form=form, errors=errors, error=message)


@get("/activate", sync_to_thread=False)
def activate_page(request: Request[Any, Any, Any]) -> Template:
    q = request.query_params
    return page(request, "activate.html", errors={}, sent=False, code=q.get("activation_code") or q.get("code", ""))


@post("/activate")
async def activate(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    r = await api(request).post(
        f"{settings(request).auth_url}/api/v1/account/activate-account", json={"code": form.get("code", "").strip()}
    )
    if r.is_success:
        return go("/sign-in", "Your account is active: sign in")
    message, errors = errors_of(r)
    return page(request, "activate.html", errors=errors, error=message, sent=False)


@get("/sign-in", sync_to_thread=False)
def sign_in_page(request: Request[Any, Any, Any]) -> Response[Any]:
    if identity(request) is not None:
        return go("/balance")
    return page(request, "sign_in.html", form={}, errors={})


@post("/sign-in")
async def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    forwarded = request.headers.get("x-forwarded-for") or request.headers.get("x-real-ip") or ""
    r = await api(request).post(
        f"{settings(request).auth_url}/api/v1/auth/sign-in",
        json={"email": form.get("email", ""), "password": form.get("password", "")},
        headers={"x-forwarded-for": forwarded, "user-agent": request.headers.get("user-agent", "")},
    )
    if not r.is_success:
        message, errors = errors_of(r)
        form.pop("password", None)
        return page(request, "sign_in.html", form=form, errors=errors, error=message)
    body = r.json()
    return Redirect(
        "/balance",
        cookies=[
            Cookie(
                key=SESSION,
                value=body["access_token"],
                path="/",
                max_age=int(body["expires_in"]),
                httponly=True,
                secure=True,
                samesite="strict",
            )
        ],
    )


@get("/forgot-password", sync_to_thread=False)
def forgot_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "forgot.html", errors={}, sent=False)


@post("/forgot-password")
async def forgot(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    r = await api(request).post(
        f"{settings(request).auth_url}/api/v1/account/forgot-password", json={"email": form.get("email", "")}
    )
    if r.is_success:
        return page(request, "reset.html", errors={}, sent=True)
    message, errors = errors_of(r)
    return page(request, "forgot.html", errors=errors, error=message, sent=False)


@get("/reset-password", sync_to_thread=False)
def reset_page(request: Request[Any, Any, Any]) -> Template:
    q = request.query_params
    return page(request, "reset.html", errors={}, sent=False, code=q.get("reset_code") or q.get("code", ""))


@post("/reset-password")
async def reset(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    r = await api(request).post(f"{settings(request).auth_url}/api/v1/account/reset-password", json=form)
    if r.is_success:
        return go("/sign-in", "Your password is changed: sign in")
    message, errors = errors_of(r)
    return page(request, "reset.html", errors=errors, error=message, sent=False)


# ------------------------------------------------------------------ signed-in pages


@post("/sign-out")
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    await form_of(request)
    if identity(request) is not None:
        await api(request).post(f"{settings(request).auth_url}/api/v1/auth/sign-out", headers=signed_in(request))
    return Redirect("/sign-in", cookies=[Cookie(key=SESSION, value="", path="/", max_age=0)])


async def load(request: Request[Any, Any, Any], url: str, **params: Any) -> dict[str, Any]:
    r = await api(request).get(url, headers=signed_in(request), params={k: v for k, v in params.items() if v})
    if r.status_code == 401:
        raise SignInFirst
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


@get("/profile")
async def profile(request: Request[Any, Any, Any]) -> Template:
    user = (await load(request, f"{settings(request).users_url}/api/v1/user"))["user"]
    return page(request, "profile.html", user=user, errors={}, money=money)


@post("/profile")
async def update_profile(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    changes = {k: v.strip() for k, v in form.items() if k in ("first_name", "last_name")}
    r = await api(request).patch(f"{settings(request).users_url}/api/v1/user", json=changes, headers=signed_in(request))
    if r.is_success:
        return go("/profile", "Profile saved")
    user = (await load(request, f"{settings(request).users_url}/api/v1/user"))["user"]
    message, errors = errors_of(r)
    return page(
        request,
        "profile.html",
        user={**user, **changes},
        errors=errors,
        error=message,
        money=money,
    )


def chart(months: list[dict[str, Any]]) -> dict[str, Any]:
    """Monthly income and expense bars as SVG geometry (server-side: no script, no inline style)."""
    totals: dict[str, list[int]] = {}
    for row in months:
        pair = totals.setdefault(row["month"], [0, 0])
        pair[0] += row["income"]
        pair[1] += row["expense"]
    top = max((max(v) for v in totals.values()), default=0) or 1
    bars, width = [], 48
    for i, (month, (income, expense)) in enumerate(sorted(totals.items())[-12:]):
        x = 10 + i * (width + 12)
        bars.append(
            {
                "month": month,
                "x": x,
                "income": {"y": 170 - 150 * income / top, "h": 150 * income / top, "value": money(income)},
                "expense": {"y": 170 - 150 * expense / top, "h": 150 * expense / top, "value": money(expense)},
            }
        )
    return {"bars": bars, "width": max(200, 20 + len(bars) * (width + 12)), "bar": width // 2}


@get("/balance")
async def balance(request: Request[Any, Any, Any]) -> Template:
    s = settings(request)
    data = await load(request, f"{s.ledger_url}/api/v1/balance")
    months = (await load(request, f"{s.ledger_url}/api/v1/reports/monthly"))["months"]
    return page(request, "balance.html", data=data, chart=chart(months), money=money)


@get("/categories")
async def categories(request: Request[Any, Any, Any]) -> Template:
    items = (await load(request, f"{settings(request).ledger_url}/api/v1/categories"))["items"]
    return page(request, "categories.html", items=items, errors={}, form={}, money=money)


@post("/categories")
async def create_category(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    body = {"name": form.get("name", ""), **({"description": form["description"]} if form.get("description") else {})}
    r = await api(request).post(
        f"{settings(request).ledger_url}/api/v1/categories", json=body, headers=signed_in(request)
    )
    if r.is_success:
        return go("/categories", "Category added")
    items = (await load(request, f"{settings(request).ledger_url}/api/v1/categories"))["items"]
    message, errors = errors_of(r)
    return page(
        request,
        "categories.html",
        items=items,
        errors=errors,
        error=message,
        form=form,
        money=money,
    )


@post("/categories/{category_id:uuid}/delete")
async def delete_category(request: Request[Any, Any, Any], category_id: uuid.UUID) -> Response[Any]:
    await form_of(request)
    r = await api(request).delete(
        f"{settings(request).ledger_url}/api/v1/categories/{category_id}", headers=signed_in(request)
    )
    return go("/categories", "Category deleted" if r.is_success else errors_of(r)[0])


def transaction_json(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    amount = cents(form.get("amount", ""))
    if amount is None:
        errors["amount"] = ["Enter an amount greater than 0 with at most two decimals, like 12.50"]
    body: dict[str, Any] = {
        "category_id": form.get("category_id", ""),
        "type": form.get("type", ""),
        "amount": amount or 0,
        "memo": form.get("memo", ""),
    }
    if form.get("occurred_on"):
        body["occurred_on"] = form["occurred_on"]
    if form.get("description"):
        body["description"] = form["description"]
    return body, errors


async def transactions_page(request: Request[Any, Any, Any], status_code: int = 200, **context: Any) -> Template:
    s = settings(request)
    q = request.query_params
    filters = {k: q.get(k, "") for k in ("type", "category_id", "from", "to", "q")}
    listing = await load(request, f"{s.ledger_url}/api/v1/transactions", limit=100, **filters)
    cats = (await load(request, f"{s.ledger_url}/api/v1/categories"))["items"]
    names = {c["id"]: c["name"] for c in cats}
    return page(
        request,
        "transactions.html",
        status_code=status_code,
        items=listing["items"],
        total=listing["total"],
        categories=cats,
        names=names,
        filters=filters,
        money=money,
        **{"errors": {}, "form": {}, **context},
    )


@get("/transactions")
async def transactions(request: Request[Any, Any, Any]) -> Template:
    return await transactions_page(request)


@post("/transactions")
async def create_transaction(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    body, errors = transaction_json(form)
    if not errors:
        r = await api(request).post(
            f"{settings(request).ledger_url}/api/v1/transactions", json=body, headers=signed_in(request)
        )
        if r.is_success:
            return go("/transactions", "Transaction added")
        message, errors = errors_of(r)
        return await transactions_page(request, errors=errors, error=message, form=form)
    return await transactions_page(request, errors=errors, error="Please correct the form", form=form)


@get("/transactions/{transaction_id:uuid}/edit")
async def edit_transaction_page(request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Template:
    s = settings(request)
    item = (await load(request, f"{s.ledger_url}/api/v1/transactions/{transaction_id}"))["transaction"]
    cats = (await load(request, f"{s.ledger_url}/api/v1/categories"))["items"]
    form = {**item, "amount": f"{item['amount'] / 100:.2f}"}
    return page(request, "edit_transaction.html", item=item, form=form, categories=cats, errors={})


@post("/transactions/{transaction_id:uuid}")
async def update_transaction(request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Response[Any]:
    form = await form_of(request)
    s = settings(request)
    body, errors = transaction_json(form)
    message = "Please correct the form"
    if not errors:
        r = await api(request).patch(
            f"{s.ledger_url}/api/v1/transactions/{transaction_id}", json=body, headers=signed_in(request)
        )
        if r.is_success:
            return go("/transactions", "Transaction saved")
        message, errors = errors_of(r)
    item = (await load(request, f"{s.ledger_url}/api/v1/transactions/{transaction_id}"))["transaction"]
    cats = (await load(request, f"{s.ledger_url}/api/v1/categories"))["items"]
    return page(
        request,
        "edit_transaction.html",
        item=item,
        form=form,
        categories=cats,
        errors=errors,
        error=message,
    )


@post("/transactions/{transaction_id:uuid}/delete")
async def delete_transaction(request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Response[Any]:
    await form_of(request)
    r = await api(request).delete(
        f"{settings(request).ledger_url}/api/v1/transactions/{transaction_id}", headers=signed_in(request)
    )
    return go("/transactions", "Transaction deleted" if r.is_success else errors_of(r)[0])


# ------------------------------------------------------------------ the app


def sign_in_first(request: Request[Any, Any, Any], _: SignInFirst) -> Response[Any]:
    return Redirect("/sign-in", cookies=[Cookie(key=SESSION, value="", path="/", max_age=0)])


def bad_csrf(request: Request[Any, Any, Any], _: BadCsrf) -> Response[Any]:
    return page(request, "error.html", status_code=403, message="This form expired; go back, reload and try again")


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
            home,
            sign_up_page,
            sign_up,
            activate_page,
            activate,
            sign_in_page,
            sign_in,
            forgot_page,
            forgot,
            reset_page,
            reset,
            sign_out,
            profile,
            update_profile,
            balance,
            categories,
            create_category,
            delete_category,
            transactions,
            create_transaction,
            edit_transaction_page,
            update_transaction,
            delete_transaction,
            create_static_files_router(path="/static", directories=[HERE / "static"], include_in_schema=False),
        ],
    )
    return create_app(
        settings,
        [pages],
        lifespan=[lifespan],
        description="Server-rendered pages: sign-up to the balance chart.",
        template_config=TemplateConfig(directory=HERE / "templates", engine=JinjaTemplateEngine),
        exception_handlers={SignInFirst: sign_in_first, BadCsrf: bad_csrf},
        middleware=[security_headers],
    )
