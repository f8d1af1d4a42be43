"""The users HTTP API (SPEC §4.2). A user sees and changes only their own data unless an admin; an
admin acts at the level their account holds now, never above it (``domain.user``)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from blazing_service import (
    Checks,
    Forbidden,
    NotFound,
    current_identity,
    read_json,
    require_admin,
    require_super_admin,
    require_user,
    success,
)
from blazing_service.email import email_problems, normalize_email
from blazing_service.errors import FieldErrors
from blazing_service.names import check_name
from blazing_service.pagination import Limit, Offset
from users.application.service import UsersService
from users.domain import user as u

# The original's words (upstream inventory §4.5, §4.7).
INVALID_LEVEL = "Invalid permission level. Must be 1, 10, 50, or 100"
NOTHING = "At least one field is required (first_name or last_name)"
NOT_YET = "; the user's sessions end as soon as the auth service confirms"
LATE = {202: ResponseSpec(None, description="Done; auth has not confirmed the end of the user's sessions yet")}


def _names(c: Checks, first: str | None, last: str | None) -> None:
    check_name(c, first, "first_name", "First name")
    check_name(c, last, "last_name", "Last name")


def _strip(value: str | None) -> str | None:
    return value.strip() if value is not None else None


class ProfilePatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    first_name: str | None = None
    last_name: str | None = None

    def validate(self) -> FieldErrors:
        c = Checks()
        c.require(self.first_name is not None or self.last_name is not None, "body", NOTHING)
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
    permissions: int = u.BASIC

    def validate(self) -> FieldErrors:
        c = Checks()
        for problem in email_problems(self.email):
            c.require(False, "email", problem)
        _names(c, self.first_name, self.last_name)
        c.require(self.permissions in u.PERMISSIONS, "permissions", INVALID_LEVEL)
        return c.errors


class PermissionsBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    permissions: int

    def validate(self) -> FieldErrors:
        c = Checks()
        c.require(self.permissions in u.PERMISSIONS, "permissions", INVALID_LEVEL)
        return c.errors


def users(request: Request[Any, Any, Any]) -> UsersService:
    svc: UsersService = request.app.state.users
    return svc


def correlation(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("x-request-id", "")


async def actor(request: Request[Any, Any, Any]) -> u.Actor:
    who = current_identity(request)
    return await users(request).actor(who.user_id, who.permissions)


async def admin(request: Request[Any, Any, Any], level: int = u.ADMIN) -> u.Actor:
    """The caller, if their account holds an admin level now (or exactly ``level``: super admin)."""
    found = await actor(request)
    if not (found.administers if level == u.ADMIN else found.level == level):
        raise Forbidden(u.INSUFFICIENT)
    return found


async def other_user(request: Request[Any, Any, Any], user_id: uuid.UUID) -> u.Actor:
    """The caller acting on ``user_id``: themselves, or an admin — to anyone else it is not found."""
    found = await actor(request)
    if found.user_id != user_id and not found.administers:
        raise NotFound("User not found")
    return found


class UserController(Controller):
    path = "/api/v1/user"
    tags = ["user"]
    guards = [require_user]

    @get("/", summary="The caller's profile")
    async def me(self, request: Request[Any, Any, Any]) -> Any:
        profile = await users(request).profile(current_identity(request).user_id)
        return success("User retrieved successfully", user=profile)

    @get("/{user_id:uuid}", summary="A profile: your own, or any as an admin")
    async def one(self, request: Request[Any, Any, Any], user_id: uuid.UUID) -> Any:
        await other_user(request, user_id)
        return success("User retrieved successfully", user=await users(request).profile(user_id))

    @patch("/", summary="Change some of first_name, last_name (balance is not writable)")
    async def patch_me(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, ProfilePatch)
        who = current_identity(request)
        await users(request).update_profile(
            who.user_id,
            _strip(body.first_name),
            _strip(body.last_name),
            actor=who.user_id,
            by_admin=False,
            correlation_id=correlation(request),
        )
        return success("User updated successfully", user=await users(request).profile(who.user_id))

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
        return success("User updated successfully", user=await users(request).profile(who.user_id))

    @post(
        "/",
        guards=[require_admin],
        summary="Admin: create a user (at most your own level) who sets a password from an e-mailed link",
    )
    async def create(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, AdminCreate)
        creator = await admin(request)
        user_id = uuid.uuid4()
        await users(request).create(
            user_id=user_id,
            email=normalize_email(body.email),
            first_name=body.first_name.strip(),
            last_name=body.last_name.strip(),
            permissions=body.permissions,
            created_by=creator.user_id,
            correlation_id=correlation(request),
            actor=creator,
        )
        return success("User created successfully", status_code=201, user=await users(request).profile(user_id))

    @delete(
        "/{user_id:uuid}",
        status_code=200,
        responses=LATE,
        summary="Delete a user (yourself, or as an admin anyone below your level); their sessions end at once",
    )
    async def remove(self, request: Request[Any, Any, Any], user_id: uuid.UUID) -> Any:
        by = await other_user(request, user_id)
        if await users(request).delete(user_id, by, correlation(request)):
            return success("User deleted successfully")
        return success("User deleted successfully" + NOT_YET, status_code=202)


class AdminController(Controller):
    path = "/api/v1/admin/users"
    tags = ["admin"]
    guards = [require_admin]

    @get("/", summary="Admin: users, paginated, searchable by e-mail or name")
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        q: Annotated[str | None, Parameter(max_length=100)] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Any:
        await admin(request)
        items, total = await users(request).search(q, limit, offset)
        return success("Users retrieved successfully", items=items, total=total, limit=limit, offset=offset)

    @patch(
        "/{user_id:uuid}/permissions",
        guards=[require_super_admin],
        responses=LATE,
        summary="Super admin: set another user's permissions; their sessions end at once",
    )
    async def permissions(self, request: Request[Any, Any, Any], user_id: uuid.UUID) -> Any:
        body = await read_json(request, PermissionsBody)
        by = await admin(request, u.SUPER_ADMIN)
        done = await users(request).set_permissions(user_id, body.permissions, by, correlation(request))
        profile = await users(request).profile(user_id)
        if done:
            return success("User permissions updated", user=profile)
        return success("User permissions updated" + NOT_YET, status_code=202, user=profile)
