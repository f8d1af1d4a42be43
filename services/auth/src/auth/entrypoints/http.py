"""Auth's HTTP API (SPEC §4.1): thin controllers, strict bodies, the API's shapes."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from auth.application.service import AuthService, RequestContext
from auth.domain.rules import email_problems, normalize_email, password_problems
from blazing_service import Checks, NotFound, current_identity, read_json, require_user, success
from blazing_service.errors import FieldErrors

SAME_REPLY_SIGN_UP = "Thanks for signing up. Check your e-mail to activate your account."
SAME_REPLY_RESEND = "If the account exists and is not activated yet, a new activation e-mail is on its way."
SAME_REPLY_FORGOT = "If the account exists, an e-mail with a reset code is on its way."


def _passwords(c: Checks, password: str, confirm: str) -> None:
    for problem in password_problems(password):
        c.require(False, "password", problem)
    c.require(password == confirm, "confirm_password", "Passwords do not match")


def _code(c: Checks, code: str, field: str = "code") -> None:
    c.require(len(code) == 40 and code.isalnum(), field, "Code must be 40 letters or digits")


class SignUp(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    password: str
    confirm_password: str
    first_name: str
    last_name: str

    def validate(self) -> FieldErrors:
        c = Checks()
        for problem in email_problems(self.email.strip()):
            c.require(False, "email", problem)
        _passwords(c, self.password, self.confirm_password)
        c.length(self.first_name.strip(), "first_name", 2, 50, "First name")
        c.length(self.last_name.strip(), "last_name", 2, 50, "Last name")
        return c.errors


class SignIn(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    password: str

    def validate(self) -> FieldErrors:
        c = Checks()
        c.require(bool(self.email.strip()) and len(self.email) <= 100, "email", "Email is required")
        c.require(bool(self.password) and len(self.password) <= 128, "password", "Password is required")
        return c.errors


class RefreshBody(msgspec.Struct, frozen=True, kw_only=True):
    refresh_token: str

    def validate(self) -> FieldErrors:
        c = Checks()
        c.require(0 < len(self.refresh_token) <= 200, "refresh_token", "Refresh token is required")
        return c.errors


class EmailBody(msgspec.Struct, frozen=True, kw_only=True):
    email: str

    def validate(self) -> FieldErrors:
        c = Checks()
        for problem in email_problems(self.email.strip()):
            c.require(False, "email", problem)
        return c.errors


class CodeBody(msgspec.Struct, frozen=True, kw_only=True):
    code: str

    def validate(self) -> FieldErrors:
        c = Checks()
        _code(c, self.code)
        return c.errors


class CodePasswordBody(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    password: str
    confirm_password: str

    def validate(self) -> FieldErrors:
        c = Checks()
        _code(c, self.code)
        _passwords(c, self.password, self.confirm_password)
        return c.errors


class SetPasswordBody(msgspec.Struct, frozen=True, kw_only=True):
    user_id: uuid.UUID
    hash: str
    password: str
    confirm_password: str

    def validate(self) -> FieldErrors:
        c = Checks()
        _code(c, self.hash, "hash")
        _passwords(c, self.password, self.confirm_password)
        return c.errors


def context(request: Request[Any, Any, Any]) -> RequestContext:
    forwarded = request.headers.get("x-forwarded-for", "")
    ip = forwarded.split(",")[0].strip() if forwarded else (request.client.host if request.client else None)
    return RequestContext(
        ip=ip, user_agent=request.headers.get("user-agent"), correlation_id=request.headers.get("x-request-id", "")
    )


def service(request: Request[Any, Any, Any]) -> AuthService:
    svc: AuthService = request.app.state.auth
    return svc


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
        status = await service(request).sign_up(
            normalize_email(body.email),
            body.password,
            body.first_name.strip(),
            body.last_name.strip(),
            context(request),
        )
        return success(SAME_REPLY_SIGN_UP, status_code=status)

    @post("/sign-in", status_code=200, summary="E-mail and password → access token, refresh token and user")
    async def sign_in(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, SignIn)
        tokens, user = await service(request).sign_in(normalize_email(body.email), body.password, context(request))
        return success(
            "Signed in",
            status_code=200,
            **msgspec.to_builtins(tokens),
            user={
                "id": str(user.user_id),
                "email": user.email,
                "first_name": user.first_name,
                "permissions": user.permissions,
            },
        )

    @post("/refresh", status_code=200, summary="Rotate the refresh token; reuse of an old one revokes the session")
    async def refresh(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, RefreshBody)
        tokens = await service(request).refresh(body.refresh_token, context(request))
        return success("Token refreshed", **msgspec.to_builtins(tokens))

    @post("/sign-out", status_code=200, guards=[require_user], summary="Revoke this session and its access token")
    async def sign_out(self, request: Request[Any, Any, Any]) -> Any:
        who = current_identity(request)
        await service(request).sign_out(who.user_id, who.session_id, "session", context(request))
        return success("Signed out")

    @post("/sign-out-all", status_code=200, guards=[require_user], summary="Revoke every other session")
    async def sign_out_all(self, request: Request[Any, Any, Any]) -> Any:
        who = current_identity(request)
        count = await service(request).sign_out(who.user_id, who.session_id, "others", context(request))
        return success("Other sessions signed out", revoked=count)

    @get("/sessions", guards=[require_user], summary="The caller's live sessions")
    async def sessions(self, request: Request[Any, Any, Any]) -> Any:
        who = current_identity(request)
        rows = await service(request).list_sessions(who.user_id)
        items = [{**msgspec.to_builtins(r), "current": r.session_id == who.session_id} for r in rows]
        return success("Sessions", items=items, total=len(items))

    @delete("/sessions/{session_id:uuid}", guards=[require_user], status_code=200, summary="Revoke one session")
    async def revoke_session(self, request: Request[Any, Any, Any], session_id: uuid.UUID) -> Any:
        who = current_identity(request)
        svc = service(request)
        if session_id not in {s.session_id for s in await svc.list_sessions(who.user_id)}:
            raise NotFound("Session not found")
        await svc.sign_out(who.user_id, session_id, "session", context(request))
        return success("Session revoked")


class AccountController(Controller):
    path = "/api/v1/account"
    tags = ["account"]

    @post("/activate-account", status_code=200, summary="Activate with the e-mailed code")
    async def activate(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, CodeBody)
        await service(request).activate(body.code, context(request))
        return success("Account activated")

    @post(
        "/resend-activation",
        status_code=200,
        summary="A new activation code (same reply whether or not the e-mail exists)",
    )
    async def resend(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, EmailBody)
        await service(request).resend_activation(normalize_email(body.email), context(request))
        return success(SAME_REPLY_RESEND)

    @post(
        "/forgot-password", status_code=200, summary="E-mail a reset code (same reply whether or not the e-mail exists)"
    )
    async def forgot(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, EmailBody)
        await service(request).forgot_password(normalize_email(body.email), context(request))
        return success(SAME_REPLY_FORGOT)

    @post("/verify-hash", status_code=200, summary="Check a code without using it up")
    async def verify_hash(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, CodeBody)
        purpose = await service(request).verify_code(body.code)
        return success("Code is valid", purpose=purpose)

    @post(
        "/reset-password", status_code=200, summary="Set a new password with the reset code; every session is revoked"
    )
    async def reset(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, CodePasswordBody)
        await service(request).reset_password(body.code, body.password, context(request))
        return success("Password reset. Sign in with your new password.")

    @get("/set-password-when-needed", summary="Check an admin-created user's set-password link")
    async def check_link(
        self,
        request: Request[Any, Any, Any],
        user_id: uuid.UUID,
        link_hash: str = Parameter(query="hash", min_length=40, max_length=40),
    ) -> Any:
        await service(request).check_set_password_link(user_id, link_hash)
        return success("Link is valid")

    @post(
        "/set-password-when-needed",
        status_code=200,
        summary="Set the password of an admin-created user and activate it",
    )
    async def set_password(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, SetPasswordBody)
        await service(request).set_password(body.user_id, body.hash, body.password, context(request))
        return success("Password set. Your account is active.")


class PasswordController(Controller):
    path = "/api/v1/password"
    tags = ["password"]
    guards = [require_user]

    @post("/change-password", status_code=200, summary="E-mail a password change code to the signed-in user")
    async def change(self, request: Request[Any, Any, Any]) -> Any:
        await service(request).request_password_change(current_identity(request).user_id, context(request))
        return success("A confirmation code is on its way to your e-mail")

    @post(
        "/verify-password-change",
        status_code=200,
        summary="Change the password with the code; other sessions are revoked",
    )
    async def verify_change(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, CodePasswordBody)
        who = current_identity(request)
        revoked = await service(request).change_password(
            who.user_id, who.session_id, body.code, body.password, context(request)
        )
        return success("Password changed", sessions_revoked=revoked)


@get("/.well-known/jwks.json", tags=["auth"], summary="Public keys that verify access tokens")
async def jwks(request: Request[Any, Any, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = service(request).keys.jwks
    return keys
