"""Hostile and careless input on every users route (issue #17 items 6, 13, 15, 17): a 4xx in the one
error shape with the field at fault, never a 500, nothing written; every missing field named at once."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from blazing_service.identity import Identity, sign
from blazing_testing import stack_env
from blazing_testing.accounts import admin_account

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
USERS = f"http://127.0.0.1:{ENV['USERS_PORT']}"
HUGE = "15236270236553154560"
HOSTILE: list[Any] = [
    "\u0000",
    "a\u0000b",
    "Ada\r\nBcc: victim@example.org",
    "Ada\nLovelace",
    "\u001b[31m",
    "Ada\u202e",
    "x" * 10_000,
    10**30,
    1.5e308,
    None,
    [],
    {"deep": [[[["x"]]]]},
    True,
    "\U0001f600" * 60,
    "@.",
]


class AsAdmin(httpx.Auth):
    """Identity headers of a real super admin, signed afresh for every request (they live 30 s)."""

    def __init__(self, user_id: uuid.UUID) -> None:
        self.user_id = user_id

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers.update(sign(Identity(user_id=self.user_id, permissions=100), ENV["GATEWAY_IDENTITY_SECRET"]))
        yield request


@pytest.fixture(scope="module")
async def admin() -> AsAdmin:
    """A real super admin (users checks the level the account holds now, not just the claim)."""
    async with httpx.AsyncClient(timeout=30) as c:
        _, session = await admin_account(c, base=AUTH)
    return AsAdmin(uuid.UUID(session["user"]["id"]))


@pytest.fixture
async def client(admin: AsAdmin) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=USERS, timeout=30, auth=admin) as c:
        yield c


def create_body(**changes: Any) -> dict[str, Any]:
    email = f"hostile-{uuid.uuid4().hex[:10]}@example.org"
    return {"email": email, "first_name": "Ada", "last_name": "Byron", **changes}


def error_of(r: httpx.Response) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    body: dict[str, Any] = r.json()
    assert body["status"] == "error"
    return body


@pytest.mark.parametrize(
    ("method", "field"),
    [
        ("PATCH", "first_name"),
        ("PATCH", "last_name"),
        ("PUT", "first_name"),
        ("PUT", "last_name"),
        ("POST", "first_name"),
        ("POST", "last_name"),
        ("POST", "email"),
        ("POST", "permissions"),
    ],
)
async def test_hostile_values_are_field_errors(client: httpx.AsyncClient, method: str, field: str) -> None:
    for value in HOSTILE:
        if (field == "permissions" and value is None) or (field != "email" and value == "@."):
            continue  # a default, and a (strange but) fine name
        body = create_body() if method == "POST" else {"first_name": "Ada", "last_name": "Byron"}
        body[field] = value
        r = await client.request(
            method, "/api/v1/user", content=json.dumps(body), headers={"content-type": "application/json"}
        )
        if method == "PATCH" and value is None:  # PATCH: null = leave unchanged
            assert r.status_code == 200, r.text
            continue
        if field == "email" and method == "POST":
            assert r.status_code == 400, (value, r.text)
        found = error_of(r)
        if r.status_code == 400 and found["message"] == "Validation failed":
            assert field in found["errors"], (value, found)


@pytest.mark.parametrize(
    "email",
    ["@.", "a@b", "a..b@c.co", ".a@b.co", "a@-b.co", "a@b.co\n", "j\u00f6@x.io", "x" * 10_000 + "@example.org"],
)
async def test_admin_create_uses_the_strict_email_rule(client: httpx.AsyncClient, email: str) -> None:
    r = await client.post("/api/v1/user", json=create_body(email=email))
    assert r.status_code == 400, r.text
    assert "email" in r.json()["errors"]


@pytest.mark.parametrize(
    ("method", "path", "missing"),
    [
        ("PUT", "/api/v1/user", ["first_name", "last_name"]),
        ("POST", "/api/v1/user", ["email", "first_name", "last_name"]),
        ("PATCH", f"/api/v1/admin/users/{uuid.uuid4()}/permissions", ["permissions"]),
    ],
)
async def test_every_missing_field_is_named_at_once(
    client: httpx.AsyncClient, method: str, path: str, missing: list[str]
) -> None:
    for body in ({}, dict.fromkeys(missing)):  # a null counts as missing, as in the original
        r = await client.request(method, path, json=body)
        assert r.status_code == 400, r.text
        assert sorted(r.json()["errors"]) == sorted(missing), body


@pytest.mark.parametrize(
    "query",
    [
        f"offset={HUGE}",
        "offset=9223372036854775808",
        "offset=9223372036854775807",
        "offset=-1",
        "offset=abc",
        "limit=0",
        "limit=101",
        f"limit={HUGE}",
        "q=" + "x" * 101,
        "q=%00",
        "q=a%00b",
        "q=%ff",
        "q=%ED%A0%80",
    ],
)
async def test_listing_queries_are_400(client: httpx.AsyncClient, query: str) -> None:
    r = await client.get(f"/api/v1/admin/users?{query}")
    assert r.status_code == 400, r.text
    error_of(r)


@pytest.mark.parametrize("query", ["q=%25", "q=_", "q=%5C", "q=%27%3B--", "q=%E2%80%AE", "limit=100&offset=1000000000"])
async def test_listing_queries_that_are_just_odd_work(client: httpx.AsyncClient, query: str) -> None:
    r = await client.get(f"/api/v1/admin/users?{query}")
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/user/not-a-uuid"),
        ("GET", "/api/v1/user/" + "9" * 300),
        ("DELETE", "/api/v1/user/not-a-uuid"),
        ("PATCH", "/api/v1/admin/users/not-a-uuid/permissions"),
        ("GET", "/api/v1/user/%00"),
        ("GET", f"/api/v1/user/{uuid.uuid4()}"),
        ("DELETE", f"/api/v1/user/{uuid.uuid4()}"),
        ("PATCH", f"/api/v1/admin/users/{uuid.uuid4()}/permissions"),
    ],
)
async def test_ids_that_name_no_user_are_4xx(client: httpx.AsyncClient, method: str, path: str) -> None:
    r = await client.request(method, path, json={"permissions": 1} if method == "PATCH" else None)
    assert r.status_code in (400, 404, 405), r.text
    error_of(r)
