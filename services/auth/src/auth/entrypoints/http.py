"""Auth's HTTP API (SPEC §4.1): thin controllers, strict bodies, the API's shapes."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.background_tasks import BackgroundTask
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from auth.application.handlers import AuthHandlers
from auth.application.ports import RequestContext
from auth.domain.rules import password_problems
from blazing_service import Checks, ValidationFailed, current_identity, read_json, require_user, success
from blazing_service.body import has_control_characters
from blazing_service.email import MAX_LENGTH as EMAIL_MAX
from blazing_service.email import email_problems, normalize_email
from blazing_service.errors import FieldErrors
from blazing_service.http import header_text
from blazing_service.names import check_name
from blazing_service.pagination import MAX_LIMIT, Limit, Offset, page_of
from blazing_service.state import StateKey

# The original's words (upstream inventory §4.2 to §4.4); the first three answer known and unknown
# addresses alike.
SAME_REPLY_SIGN_UP = "User created successfully. Please check your email for activation code."
SAME_REPLY_RESEND = "If the email exists and is not activated, a new activation code has been sent"
SAME_REPLY_FORGOT = "If the email exists, a reset code has been sent"
PASSWORD_MAX = 128


def _passwords(c: Checks, password: str, confirm: str) -> None:
    for problem in password_problems(password):
        c.require(False, "password", problem)
    c.require(password == confirm, "confirm_password", "Passwords do not match")


def _code(c: Checks, code: str, field: str = "code") -> None:
    c.require(len(code) == 40 and code.isascii() and code.isalnum(), field, "Code must be 40 letters or digits")


def _email(c: Checks, email: str) -> None:
    for problem in email_problems(email):
        c.require(False, "email", problem)


SECRET_FIELD = re.compile(r"password|code|hash|token")


class Body(msgspec.Struct, frozen=True, kw_only=True):
    """A request body: ``read_json`` calls ``validate``, which reports every rule ``check`` finds
    broken at once, in the API's validation shape."""

    def validate(self) -> FieldErrors:
        c = Checks()
        self.check(c)
        return c.errors

    def check(self, c: Checks) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        """Passwords, codes and tokens never show in a repr (a traceback, a debugger, a log line)."""
        shown = (
            f"{name}={'***' if SECRET_FIELD.search(name) else repr(getattr(self, name))}"
            for name in self.__struct_fields__
        )
        return f"{type(self).__name__}({', '.join(shown)})"


class NewPassword(Body, frozen=True, kw_only=True):
    """A body that sets a password: the password and its confirmation, judged by the password rules."""

    password: str
    confirm_password: str

    def check(self, c: Checks) -> None:
        _passwords(c, self.password, self.confirm_password)


class SignUp(NewPassword, frozen=True, kw_only=True):
    email: str
    first_name: str
    last_name: str

    def check(self, c: Checks) -> None:
        _email(c, self.email)
        super().check(c)
        check_name(c, self.first_name, "first_name", "First name")
        check_name(c, self.last_name, "last_name", "Last name")


class SignIn(Body, frozen=True, kw_only=True):
    email: str
    password: str

    def check(self, c: Checks) -> None:
        """Presence and bounds only: an address that does not exist (whatever its form) and a
        wrong password get the same 401 (SPEC §4.1), and no strength rule applies here."""
        email = self.email.strip(" ")
        c.require(bool(email), "email", "Email is required")
        c.require(len(email) <= EMAIL_MAX, "email", f"Email must be at most {EMAIL_MAX} characters")
        c.require(not has_control_characters(email), "email", "Email must not contain control characters")
        c.require(bool(self.password), "password", "Password is required")
        c.require(len(self.password) <= PASSWORD_MAX, "password", f"Password must be at most {PASSWORD_MAX} characters")


class RefreshBody(Body, frozen=True, kw_only=True):
    refresh_token: str

    def check(self, c: Checks) -> None:
        c.require(0 < len(self.refresh_token) <= 200, "refresh_token", "Refresh token is required")


class EmailBody(Body, frozen=True, kw_only=True):
    email: str

    def check(self, c: Checks) -> None:
        _email(c, self.email)


class CodeBody(Body, frozen=True, kw_only=True):
    code: str

    def check(self, c: Checks) -> None:
        _code(c, self.code)


class CodePasswordBody(NewPassword, frozen=True, kw_only=True):
    code: str

    def check(self, c: Checks) -> None:
        _code(c, self.code)
        super().check(c)


class SetPasswordBody(NewPassword, frozen=True, kw_only=True):
    user_id: uuid.UUID
    hash: str

    def check(self, c: Checks) -> None:
        _code(c, self.hash, "hash")
        super().check(c)


def context(request: Request[Any, Any, Any]) -> RequestContext:
    """The client's address is the one the gateway forwards (it always sets X-Forwarded-For). A
    caller inside the host without one (a service, a test) has no client address to throttle —
    counting them all as 127.0.0.1 let one noisy caller lock every other out of sign-in; the
    per-account lock still applies to them."""
    forwarded = header_text(request, "x-forwarded-for") or ""
    ip = forwarded.split(",")[0].strip()[:64] or None
    return RequestContext(
        ip=ip, user_agent=header_text(request, "user-agent"), correlation_id=request.headers.get("x-request-id", "")
    )


def after_sending(
    answer: Response[Any],
    work: Callable[[str, RequestContext], Awaitable[None]],
    email: str,
    request: Request[Any, Any, Any],
) -> Response[Any]:
    """The same ``answer`` whatever the address; ``work`` (which starts its own background task)
    begins once the answer has been sent, so that nothing it does can delay or shape the answer."""
    answer.background = BackgroundTask(work, normalize_email(email), context(request))
    return answer


handlers = StateKey[AuthHandlers]("auth")

post_ok = partial(post, status_code=200)
"""A POST of this API that answers 200 (the original's API): every one but sign-up, which creates."""


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/sign-up",
        responses={202: ResponseSpec(None, description="Accepted; the profile is still being created")},
        summary="Register; answers the same whether or not the e-mail is known",
    )
    async def sign_up(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, SignUp)
        signed_up = await handlers(request).sign_up(
            normalize_email(body.email),
            body.password,
            body.first_name.strip(),
            body.last_name.strip(),
            context(request),
        )
        # 202: the users service has not created the profile yet (it will)
        return success(SAME_REPLY_SIGN_UP, status_code=201 if signed_up.confirmed else 202)

    @post_ok("/sign-in", summary="E-mail and password → access token, refresh token and user")
    async def sign_in(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, SignIn)
        signed_in = await handlers(request).sign_in(normalize_email(body.email), body.password, context(request))
        # ``token``: the original's name of the access token, for its clients
        return success(
            "Signed in successfully",
            status_code=200,
            token=signed_in.tokens.access_token,
            **msgspec.to_builtins(signed_in.tokens),
            user=signed_in.account,
        )

    @post_ok("/refresh", summary="Rotate the refresh token; reuse of an old one revokes the session")
    async def refresh(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, RefreshBody)
        tokens = await handlers(request).refresh(body.refresh_token)
        return success("Token refreshed successfully", **msgspec.to_builtins(tokens))

    @post_ok("/sign-out", guards=[require_user], summary="Revoke this session and its access token")
    async def sign_out(self, request: Request[Any, Any, Any]) -> Any:
        who = current_identity(request)
        await handlers(request).sign_out(who.user_id, who.session_id, "session", context(request))
        return success("Signed out successfully")

    @post_ok("/sign-out-all", guards=[require_user], summary="Revoke every other session")
    async def sign_out_all(self, request: Request[Any, Any, Any]) -> Any:
        who = current_identity(request)
        count = await handlers(request).sign_out(who.user_id, who.session_id, "others", context(request))
        return success("Other sessions signed out", revoked=count)

    @get("/sessions", guards=[require_user], summary="The caller's live sessions")
    async def sessions(self, request: Request[Any, Any, Any], limit: Limit = MAX_LIMIT, offset: Offset = 0) -> Any:
        who = current_identity(request)
        rows = await handlers(request).list_sessions(who.user_id)
        items = [{**msgspec.to_builtins(r), "current": r.session_id == who.session_id} for r in rows]
        return success("Sessions", **page_of(items, limit, offset))

    @delete("/sessions/{session_id:uuid}", guards=[require_user], status_code=200, summary="Revoke one session")
    async def revoke_session(self, request: Request[Any, Any, Any], session_id: uuid.UUID) -> Any:
        who = current_identity(request)
        await handlers(request).revoke_session(who.user_id, session_id, context(request))
        return success("Session revoked")


class AccountController(Controller):
    path = "/api/v1/account"
    tags = ["account"]

    @post_ok("/activate-account", summary="Activate with the e-mailed code")
    async def activate(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, CodeBody)
        await handlers(request).activate(body.code, context(request))
        return success("Account activated successfully")

    @post_ok("/resend-activation", summary="A new activation code (same reply whether or not the e-mail exists)")
    async def resend(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, EmailBody)
        return after_sending(success(SAME_REPLY_RESEND), handlers(request).resend_activation, body.email, request)

    @post_ok("/forgot-password", summary="E-mail a reset code (same reply whether or not the e-mail exists)")
    async def forgot(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, EmailBody)
        return after_sending(success(SAME_REPLY_FORGOT), handlers(request).forgot_password, body.email, request)

    @post_ok("/verify-hash", summary="Check a reset or password-change code without using it up (404: no such code)")
    async def verify_hash(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, CodeBody)
        purpose = await handlers(request).verify_code(body.code)
        return success("Code verified successfully", code=body.code, purpose=purpose)

    @post_ok("/reset-password", summary="Set a new password with the reset code; every session is revoked")
    async def reset(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, CodePasswordBody)
        await handlers(request).reset_password(body.code, body.password, context(request))
        return success("Password reset successfully")

    @get("/set-password-when-needed", summary="Check an admin-created user's set-password link")
    async def check_link(
        self,
        request: Request[Any, Any, Any],
        user_id: uuid.UUID,
        link_hash: str = Parameter(query="hash"),
    ) -> Any:
        c = Checks()
        _code(c, link_hash, "hash")
        if c.errors:
            raise ValidationFailed(c.errors)
        await handlers(request).check_set_password_link(user_id, link_hash)
        return success("Link verified successfully", code=link_hash)

    @post_ok("/set-password-when-needed", summary="Set the password of an admin-created user and activate it")
    async def set_password(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, SetPasswordBody)
        await handlers(request).set_password(body.user_id, body.hash, body.password, context(request))
        return success("Password set and account activated")


class PasswordController(Controller):
    path = "/api/v1/password"
    tags = ["password"]
    guards = [require_user]

    @post_ok("/change-password", summary="E-mail a password change code to the signed-in user")
    async def change(self, request: Request[Any, Any, Any]) -> Any:
        await handlers(request).request_password_change(current_identity(request).user_id, context(request))
        return success("Password change code sent to your email")

    @post_ok("/verify-password-change", summary="Change the password with the code; other sessions are revoked")
    async def verify_change(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, CodePasswordBody)
        who = current_identity(request)
        revoked = await handlers(request).change_password(
            who.user_id, who.session_id, body.code, body.password, context(request)
        )
        return success("Password changed successfully", sessions_revoked=revoked)


@get("/.well-known/jwks.json", tags=["auth"], summary="Public keys that verify access tokens")
async def jwks(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return handlers(request).public_keys()
