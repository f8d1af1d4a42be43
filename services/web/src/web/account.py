"""The account pages: sign-up, activation, sign-in and sign-out, forgot / reset password, the
set-password link of an admin-created user, and the e-mailed password change."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect, Template

from web.common import (
    SESSION,
    PageError,
    SignInFirst,
    call,
    errors_of,
    form_of,
    go,
    identity,
    page,
    safe_next,
    settings,
    signed_in,
)


def auth_url(request: Request[Any, Any, Any], path: str) -> str:
    return f"{settings(request).auth_url}{path}"


@get("/", sync_to_thread=False)
def home(request: Request[Any, Any, Any]) -> Response[Any]:
    if identity(request) is not None:
        return go("/balance")
    if SESSION.is_stale(request, request.app.state.identity_secret):
        return Redirect("/sign-in")  # the session ended: sign in again (the stale cookie is expired)
    return page(request, "home.html")


@get("/sign-up", sync_to_thread=False)
def sign_up_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "sign_up.html")


@post("/sign-up")
async def sign_up(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    fields = form.pick("first_name", "last_name", "email", "password", "confirm_password")
    if not form.refused:
        r = await call(request, "POST", auth_url(request, "/api/v1/auth/sign-up"), signed=False, json=fields)
        if r.status_code in (201, 202):
            return page(request, "activate.html", email=fields["email"], sent=True)
        message, errors = errors_of(r)
    else:
        message, errors = "Please correct the form", form.refused
    kept = {k: v for k, v in fields.items() if "password" not in k}
    return page(request, "sign_up.html", form.status, form=kept, errors=errors, error=message)


@get("/activate", sync_to_thread=False)
def activate_page(request: Request[Any, Any, Any]) -> Template:
    q = request.query_params
    return page(request, "activate.html", sent=False, form={"code": q.get("activation_code") or q.get("code", "")})


@post("/activate")
async def activate(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    if not form.refused:
        r = await call(
            request,
            "POST",
            auth_url(request, "/api/v1/account/activate-account"),
            signed=False,
            json={"code": form.get("code").strip()},
        )
        if r.is_success:
            return go("/sign-in", "activated")
        message, errors = errors_of(r)
    else:
        message, errors = "Please correct the form", form.refused
    return page(request, "activate.html", form.status, form=form.pick("code"), errors=errors, error=message, sent=False)


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
    if not form.refused:
        forwarded = request.headers.get("x-forwarded-for") or request.headers.get("x-real-ip") or ""
        r = await call(
            request,
            "POST",
            auth_url(request, "/api/v1/auth/sign-in"),
            signed=False,
            json=form.pick("email", "password"),
            headers={"x-forwarded-for": forwarded, "user-agent": request.headers.get("user-agent", "")},
        )
        if r.is_success:
            body = r.json()
            return Redirect(back or "/balance", cookies=[SESSION.issued(body["access_token"], int(body["expires_in"]))])
        message, errors = errors_of(r)
    else:
        message, errors = "Please correct the form", form.refused
    kept = {"email": form.get("email"), "next": back or ""}
    return page(request, "sign_in.html", form.status, form=kept, errors=errors, error=message)


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
        with contextlib.suppress(SignInFirst):  # auth says the session already ended: so much the better
            await call(request, "POST", auth_url(request, "/api/v1/auth/sign-out"))
    return Redirect("/sign-in", cookies=[SESSION.expired()])


@get("/forgot-password", sync_to_thread=False)
def forgot_page(request: Request[Any, Any, Any]) -> Template:
    return page(request, "forgot.html", sent=False)


@post("/forgot-password")
async def forgot(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    if not form.refused:
        r = await call(
            request,
            "POST",
            auth_url(request, "/api/v1/account/forgot-password"),
            signed=False,
            json=form.pick("email"),
        )
        if r.is_success:
            return page(request, "reset.html", sent=True)
        message, errors = errors_of(r)
    else:
        message, errors = "Please correct the form", form.refused
    return page(request, "forgot.html", form.status, form=form.pick("email"), errors=errors, error=message, sent=False)


@get("/reset-password", sync_to_thread=False)
def reset_page(request: Request[Any, Any, Any]) -> Template:
    q = request.query_params
    return page(request, "reset.html", sent=False, form={"code": q.get("reset_code") or q.get("code", "")})


@post("/reset-password")
async def reset(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    if not form.refused:
        r = await call(
            request,
            "POST",
            auth_url(request, "/api/v1/account/reset-password"),
            signed=False,
            json=form.pick("code", "password", "confirm_password"),
        )
        if r.is_success:
            return go("/sign-in", "reset")
        message, errors = errors_of(r)
    else:
        message, errors = "Please correct the form", form.refused
    return page(request, "reset.html", form.status, form=form.pick("code"), errors=errors, error=message, sent=False)


# ------------------------------------------------------------------ an admin-created user's first password

INVALID_LINK = "This link is invalid or has expired; ask an administrator for a new one"


def link_of(user_id: str, code: str) -> tuple[str, str]:
    """The set-password link's parameters, as the e-mail carries them (a user id, a 40-character code)."""
    try:
        uid = str(uuid.UUID(user_id))
    except ValueError:
        raise PageError(400, INVALID_LINK) from None
    if len(code) != 40 or not code.isascii() or not code.isalnum():
        raise PageError(400, INVALID_LINK)
    return uid, code


@get("/set-password")
async def set_password_page(request: Request[Any, Any, Any]) -> Template:
    q = request.query_params
    user_id, code = link_of(q.get("user_id", ""), q.get("code", ""))
    r = await call(
        request,
        "GET",
        auth_url(request, "/api/v1/account/set-password-when-needed"),
        signed=False,
        params={"user_id": user_id, "hash": code},
    )
    if not r.is_success:
        raise PageError(400 if r.status_code < 500 else r.status_code, INVALID_LINK)
    return page(request, "set_password.html", form={"user_id": user_id, "code": code})


@post("/set-password")
async def set_password(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    user_id, code = link_of(form.get("user_id"), form.get("code"))
    if not form.refused:
        r = await call(
            request,
            "POST",
            auth_url(request, "/api/v1/account/set-password-when-needed"),
            signed=False,
            json={"user_id": user_id, "hash": code, **form.pick("password", "confirm_password")},
        )
        if r.is_success:
            return go("/sign-in", "password-set")
        message, errors = errors_of(r)
        if "hash" in errors or "user_id" in errors:
            raise PageError(400, INVALID_LINK)
    else:
        message, errors = "Please correct the form", form.refused
    return page(
        request, "set_password.html", form.status, form={"user_id": user_id, "code": code}, errors=errors, error=message
    )


# ------------------------------------------------------------------ the signed-in user's password change


@post("/password/change")
async def request_password_change(request: Request[Any, Any, Any]) -> Template:
    await form_of(request)
    r = await call(request, "POST", auth_url(request, "/api/v1/password/change-password"))
    if not r.is_success:
        raise PageError(r.status_code, errors_of(r)[0])
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
    if not form.refused:
        r = await call(
            request,
            "POST",
            auth_url(request, "/api/v1/password/verify-password-change"),
            json=form.pick("code", "password", "confirm_password"),
        )
        if r.is_success:
            return go("/profile", "password-changed")
        message, errors = errors_of(r)
    else:
        message, errors = "Please correct the form", form.refused
    return page(
        request, "password_change.html", form.status, form=form.pick("code"), errors=errors, error=message, sent=False
    )


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
