"""The users HTTP API (SPEC §4.2). A user sees and changes only their own data unless an admin."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.params import Parameter

from blazing_service import (
    Checks,
    Identity,
    NotFound,
    current_identity,
    read_json,
    require_admin,
    require_super_admin,
    require_user,
    success,
)
from blazing_service.errors import FieldErrors
from users.application.service import UsersService
from users.domain.user import PERMISSIONS

EMAIL_MAX = 100


def _names(c: Checks, first: str | None, last: str | None) -> None:
    c.length(first.strip() if first is not None else None, "first_name", 2, 50, "First name")
    c.length(last.strip() if last is not None else None, "last_name", 2, 50, "Last name")


class ProfilePatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    first_name: str | None = None
    last_name: str | None = None

    def validate(self) -> FieldErrors:
        c = Checks()
        c.require(self.first_name is not None or self.last_name is not None, "body", "Nothing to change")
        _names(c, self.first_name, self.last_name)
        return c.errors


class ProfilePut(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    first_name: str
    last_name: str

    def validate(self) -> FieldErrors:
        c = Checks()
        _names(c, self.first_name, self.last_name)
        return c.errors


class AdminCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    email: str
    first_name: str
    last_name: str
    permissions: int = 1

    def validate(self) -> FieldErrors:
        c = Checks()
        c.require(
            len(self.email) <= EMAIL_MAX and "@" in self.email and "." in self.email.split("@")[-1],
            "email",
            "Email is invalid",
        )
        _names(c, self.first_name, self.last_name)
        c.require(self.permissions in PERMISSIONS, "permissions", "Permissions must be 1, 10, 50 or 100")
        return c.errors


class PermissionsBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    permissions: int

    def validate(self) -> FieldErrors:
        c = Checks()
        c.require(self.permissions in PERMISSIONS, "permissions", "Permissions must be 1, 10, 50 or 100")
        return c.errors


def users(request: Request[Any, Any, Any]) -> UsersService:
    svc: UsersService = request.app.state.users
    return svc


def correlation(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("x-request-id", "")


def may_see(who: Identity, user_id: uuid.UUID) -> bool:
    return who.user_id == user_id or who.is_admin


class UserController(Controller):
    path = "/api/v1/user"
    tags = ["user"]
    guards = [require_user]

    @get("/", summary="The caller's profile")
    async def me(self, request: Request[Any, Any, Any]) -> Any:
        profile = await users(request).profile(current_identity(request).user_id)
        return success("Profile", user=profile)

    @get("/{user_id:uuid}", summary="A profile: your own, or any as an admin")
    async def one(self, request: Request[Any, Any, Any], user_id: uuid.UUID) -> Any:
        if not may_see(current_identity(request), user_id):
            raise NotFound("User not found")
        return success("Profile", user=await users(request).profile(user_id))

    @patch("/", summary="Change some of first_name, last_name (balance is not writable)")
    async def patch_me(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, ProfilePatch)
        who = current_identity(request)
        await users(request).update_profile(
            who.user_id,
            body.first_name.strip() if body.first_name else None,
            body.last_name.strip() if body.last_name else None,
            actor=who.user_id,
            by_admin=False,
            correlation_id=correlation(request),
        )
        return success("Profile updated", user=await users(request).profile(who.user_id))

    @put("/", summary="Replace first_name and last_name")
    async def put_me(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, ProfilePut)
        who = current_identity(request)
        await users(request).update_profile(
            who.user_id,
            body.first_name.strip(),
            body.last_name.strip(),
            actor=who.user_id,
            by_admin=False,
            correlation_id=correlation(request),
        )
        return success("Profile updated", user=await users(request).profile(who.user_id))

    @post("/", guards=[require_admin], summary="Admin: create a user who sets a password from an e-mailed link")
    async def create(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, AdminCreate)
        who = current_identity(request)
        user_id = uuid.uuid4()
        await users(request).create(
            user_id=user_id,
            email=body.email.strip().lower(),
            first_name=body.first_name.strip(),
            last_name=body.last_name.strip(),
            permissions=body.permissions,
            created_by=who.user_id,
            correlation_id=correlation(request),
        )
        return success(
            "User created; a set-password e-mail is on its way",
            status_code=201,
            user=await users(request).profile(user_id),
        )

    @delete("/{user_id:uuid}", status_code=200, summary="Delete a user (yourself, or anyone as an admin)")
    async def remove(self, request: Request[Any, Any, Any], user_id: uuid.UUID) -> Any:
        who = current_identity(request)
        if not may_see(who, user_id):
            raise NotFound("User not found")
        await users(request).delete(user_id, who.user_id, correlation(request))
        return success("User deleted")


class AdminController(Controller):
    path = "/api/v1/admin/users"
    tags = ["admin"]
    guards = [require_admin]

    @get("/", summary="Admin: users, paginated, searchable by e-mail or name")
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, Parameter(max_length=100)] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        offset: Annotated[int, Parameter(ge=0)] = 0,
    ) -> Any:
        items, total = await users(request).search(q, limit, offset)
        return success("Users", items=items, total=total, limit=limit, offset=offset)

    @patch("/{user_id:uuid}/permissions", guards=[require_super_admin], summary="Super admin: set permissions")
    async def permissions(self, request: Request[Any, Any, Any], user_id: uuid.UUID) -> Any:
        body = await read_json(request, PermissionsBody)
        await users(request).set_permissions(
            user_id, body.permissions, current_identity(request).user_id, correlation(request)
        )
        return success("Permissions updated", user=await users(request).profile(user_id))
