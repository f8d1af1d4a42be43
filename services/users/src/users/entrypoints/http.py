"""The users HTTP API (SPEC §4.2): each route validates its request, calls one handler and renders
its result. A user sees and changes only their own data unless an admin; an admin acts at the level
their account holds now, never above it (``application.access``, ``domain.user``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.openapi import ResponseSpec

from blazing_service import (
    Checks,
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
from blazing_service.pagination import Limit, Offset, Search, page
from blazing_service.state import StateKey
from users.application.commands import ChangePermissions, CreateUser, DeleteUser, UpdateProfile
from users.application.ports import Caller
from users.application.queries import UsersQueries
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


@dataclass(frozen=True, kw_only=True)
class Handlers:
    """The use cases the HTTP API calls (built by the composition root)."""

    queries: UsersQueries
    create: CreateUser
    update_profile: UpdateProfile
    change_permissions: ChangePermissions
    delete: DeleteUser


users = StateKey[Handlers]("users")


def caller(request: Request[Any, Any, Any]) -> Caller:
    who = current_identity(request)
    return Caller(user_id=who.user_id, permissions=who.permissions)


def correlation(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("x-request-id") or str(uuid.uuid4())


class UserController(Controller):
    path = "/api/v1/user"
    tags = ["user"]
    guards = [require_user]

    @get("/", summary="The caller's profile")
    async def me(self, request: Request[Any, Any, Any]) -> Any:
        return success("User retrieved successfully", user=await users(request).queries.me(caller(request)))

    @get("/{user_id:uuid}", summary="A profile: your own, or any as an admin")
    async def one(self, request: Request[Any, Any, Any], user_id: uuid.UUID) -> Any:
        profile = await users(request).queries.profile(caller(request), user_id)
        return success("User retrieved successfully", user=profile)

    @patch("/", summary="Change some of first_name, last_name (balance is not writable)")
    async def patch_me(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, ProfilePatch)
        profile = await users(request).update_profile(
            caller(request), _strip(body.first_name), _strip(body.last_name), correlation(request)
        )
        return success("User updated successfully", user=profile)

    @put("/", summary="Replace first_name and last_name")
    async def put_me(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, ProfilePut)
        profile = await users(request).update_profile(
            caller(request), body.first_name.strip(), body.last_name.strip(), correlation(request)
        )
        return success("User updated successfully", user=profile)

    @post(
        "/",
        guards=[require_admin],
        summary="Admin: create a user (at most your own level) who sets a password from an e-mailed link",
    )
    async def create(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, AdminCreate)
        profile = await users(request).create.by_admin(
            caller(request),
            normalize_email(body.email),
            body.first_name.strip(),
            body.last_name.strip(),
            body.permissions,
            correlation(request),
        )
        return success("User created successfully", status_code=201, user=profile)

    @delete(
        "/{user_id:uuid}",
        status_code=200,
        responses=LATE,
        summary="Delete a user (yourself, or as an admin anyone below your level); their sessions end at once",
    )
    async def remove(self, request: Request[Any, Any, Any], user_id: uuid.UUID) -> Any:
        if await users(request).delete(caller(request), user_id, correlation(request)):
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
        q: Search = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Any:
        items, total = await users(request).queries.search(caller(request), q, limit, offset)
        return success("Users retrieved successfully", **page(items, total, limit, offset))

    @patch(
        "/{user_id:uuid}/permissions",
        guards=[require_super_admin],
        responses=LATE,
        summary="Super admin: set another user's permissions; their sessions end at once",
    )
    async def permissions(self, request: Request[Any, Any, Any], user_id: uuid.UUID) -> Any:
        body = await read_json(request, PermissionsBody)
        changed = await users(request).change_permissions(
            caller(request), user_id, body.permissions, correlation(request)
        )
        if changed.confirmed:
            return success("User permissions updated", user=changed.profile)
        return success("User permissions updated" + NOT_YET, status_code=202, user=changed.profile)
