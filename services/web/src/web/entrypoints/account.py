"""The account pages: sign-up, activation, sign-in and sign-out, forgot / reset password, the
set-password link of an admin-created user, and the e-mailed password change."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.response import Redirect, Template

from blazing_service.pages import browser_of
from web.application.account import link_of
from web.application.refusals import Refusal
from web.entrypoints.common import (
    SESSION,
    SignInFirst,
    answer_form,
    form_of,
    go,
    identity,
    page,
    safe_next,
    signed_in,
    use_cases,
)


@get("/", sync_to_thread=False)
def home(request: Request[Any, Any, Any]) -> Response[Any]:
    if identity(request) is not None:
        return go("/balance")
    if SESSION.is_stale(request, request.app.state.identity_secret):
        return Redirect("/sign-in")  # the session ended: sign in again (the stale cookie is expired)
    return page(request, "home.html")


def form_page(path: str, template: str, *, code_from: str | None = None) -> HTTPRouteHandler:
    """The GET of a form's page: ``template`` with nothing sent yet and, for a form that takes an
    e-mailed code, the code a link of the e-mail brings (as ``code_from``, or ``code``) filled in."""

    def show(request: Request[Any, Any, Any]) -> Template:
        q = request.query_params
        form = {"code": q.get(code_from) or q.get("code", "")} if code_from else {}
        return page(request, template, sent=False, form=form)

    return get(path, sync_to_thread=False)(show)


sign_up_page = form_page("/sign-up", "sign_up.html")
activate_page = form_page("/activate", "activate.html", code_from="activation_code")
forgot_page = form_page("/forgot-password", "forgot.html")
reset_page = form_page("/reset-password", "reset.html", code_from="reset_code")


@post("/sign-up")
async def sign_up(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    fields = form.pick("first_name", "last_name", "email", "password", "confirm_password")

    async def act() -> Response[Any] | Refusal:
        sent = await use_cases(request).account.sign_up(*fields.values())
        return sent or page(request, "activate.html", email=fields["email"], sent=True)

    kept = {k: v for k, v in fields.items() if "password" not in k}
    return await answer_form(request, form, "sign_up.html", act, kept)


@post("/activate")
async def activate(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)

    async def act() -> Response[Any] | Refusal:
        return await use_cases(request).account.activate(form.get("code")) or go("/sign-in", "activated")

    return await answer_form(request, form, "activate.html", act, form.pick("code"), sent=False)


@get("/sign-in", sync_to_thread=False)
def sign_in_page(request: Request[Any, Any, Any]) -> Response[Any]:
    back = safe_next(request.query_params.get("next"))
    if identity(request) is not None:
        return Redirect(back or "/balance")
    return page(request, "sign_in.html", form={"next": back or ""})


@post("/sign-in")
async def sign_in(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    back = safe_next(form.get("next"))

    async def act() -> Response[Any] | Refusal:
        done = await use_cases(request).account.sign_in(form.get("email"), form.get("password"), browser_of(request))
        if isinstance(done, Refusal):
            return done
        return Redirect(back or "/balance", cookies=[SESSION.issued(done.access_token, done.expires_in)])

    return await answer_form(request, form, "sign_in.html", act, {"email": form.get("email"), "next": back or ""})


@get("/sign-out", sync_to_thread=False)
def sign_out_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """A link to /sign-out shows the button (signing out on a GET would let any page sign you out)."""
    if identity(request) is None:
        return Redirect("/sign-in")  # a stale session cookie is expired on the way
    return page(request, "sign_out.html")


@post("/sign-out")
async def sign_out(request: Request[Any, Any, Any]) -> Response[Any]:
    await form_of(request)
    if identity(request) is not None:
        await use_cases(request).account.sign_out(signed_in(request))
    return Redirect("/sign-in", cookies=[SESSION.expired()])


@post("/forgot-password")
async def forgot(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)

    async def act() -> Response[Any] | Refusal:
        return await use_cases(request).account.forgot_password(form.get("email")) or page(
            request, "reset.html", sent=True
        )

    return await answer_form(request, form, "forgot.html", act, form.pick("email"), sent=False)


@post("/reset-password")
async def reset(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)

    async def act() -> Response[Any] | Refusal:
        sent = form.pick("code", "password", "confirm_password")
        return await use_cases(request).account.reset_password(*sent.values()) or go("/sign-in", "reset")

    return await answer_form(request, form, "reset.html", act, form.pick("code"), sent=False)


# ------------------------------------------------------------------ an admin-created user's first password


@get("/set-password")
async def set_password_page(request: Request[Any, Any, Any]) -> Template:
    q = request.query_params
    link = await use_cases(request).account.check_link(q.get("user_id", ""), q.get("code", ""))
    return page(request, "set_password.html", form={"user_id": link.user_id, "code": link.code})


@post("/set-password")
async def set_password(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    link = link_of(form.get("user_id"), form.get("code"))

    async def act() -> Response[Any] | Refusal:
        refused = await use_cases(request).account.set_password(
            link, form.get("password"), form.get("confirm_password")
        )
        return refused or go("/sign-in", "password-set")

    return await answer_form(request, form, "set_password.html", act, {"user_id": link.user_id, "code": link.code})


# ------------------------------------------------------------------ the signed-in user's password change


@post("/password/change")
async def request_password_change(request: Request[Any, Any, Any]) -> Template:
    await form_of(request)
    await use_cases(request).account.request_password_change(signed_in(request))
    return page(request, "password_change.html", sent=True)


@get("/password/verify")
async def password_change_page(request: Request[Any, Any, Any]) -> Template:
    signed_in(request)
    return page(request, "password_change.html", sent=False, form={"code": request.query_params.get("code", "")})


@post("/password/verify")
async def change_password(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    if identity(request) is None:
        raise SignInFirst

    async def act() -> Response[Any] | Refusal:
        sent = form.pick("code", "password", "confirm_password")
        refused = await use_cases(request).account.change_password(signed_in(request), *sent.values())
        return refused or go("/profile", "password-changed")

    return await answer_form(request, form, "password_change.html", act, form.pick("code"), sent=False)


HANDLERS = [
    home,
    sign_up_page,
    sign_up,
    activate_page,
    activate,
    sign_in_page,
    sign_in,
    sign_out_page,
    sign_out,
    forgot_page,
    forgot,
    reset_page,
    reset,
    set_password_page,
    set_password,
    request_password_change,
    password_change_page,
    change_password,
]
