"""The shared HTTP behaviour every service gets: error shapes, strict bodies, request ids, identity."""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec
import pytest
from litestar import Request, get, post
from litestar.testing import TestClient

from blazing_service import (
    Checks,
    Identity,
    ServiceSettings,
    create_app,
    current_identity,
    read_json,
    require_admin,
    success,
)
from blazing_service.body import convert
from blazing_service.errors import FieldErrors, ValidationFailed
from blazing_service.identity import sign, verify

SECRET = "test-identity-secret"


class Signup(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    age: int
    nickname: str | None = None

    def validate(self) -> FieldErrors:
        c = Checks()
        c.require("@" in self.email, "email", "Email is invalid")
        c.require(self.age >= 18, "age", "Must be an adult")
        c.length(self.nickname, "nickname", 2, 5)
        return c.errors


@post("/signup")
async def signup(request: Request[Any, Any, Any]) -> Any:
    body = await read_json(request, Signup, max_bytes=200)
    return success("Created", status_code=201, email=body.email)


@get("/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError("secret internals")


@get("/me", sync_to_thread=False)
def me(request: Request[Any, Any, Any]) -> Any:
    return success("You", user_id=str(current_identity(request).user_id))


@get("/admin", guards=[require_admin], sync_to_thread=False)
def admin() -> Any:
    return success("Admin area")


@pytest.fixture
def client() -> Any:
    settings = ServiceSettings(service="test", port=0, identity_secret=SECRET, system_events=False)
    with TestClient(app=create_app(settings, [signup, boom, me, admin])) as c:
        yield c


def test_valid_body_is_accepted(client: Any) -> None:
    r = client.post("/signup", json={"email": "a@b.co", "age": 30})
    assert r.status_code == 201
    assert r.json() == {"status": "success", "message": "Created", "email": "a@b.co"}


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "Malformed JSON body"),
        (b"[1, 2]", "application/json", 400, "The JSON body must be an object"),
        (b"", "application/json", 400, "Request body is empty"),
        (b'{"email": "a@b.co", "age": 30}', "text/plain", 415, "Content-Type must be application/json"),
        (b'{"email": "a@b.co", "age": 30}', "", 415, "Content-Type must be application/json"),
        (b'{"email": "' + b"x" * 300 + b'", "age": 30}', "application/json", 413, "Request body too large"),
    ],
)
def test_bad_bodies_get_clear_errors(client: Any, body: bytes, content_type: str, status: int, message: str) -> None:
    r = client.post("/signup", content=body, headers={"content-type": content_type} if content_type else {})
    assert r.status_code == status
    assert r.json() == {"status": "error", "message": message}


def test_wrong_type_is_a_validation_error_not_a_coercion(client: Any) -> None:
    r = client.post("/signup", json={"email": "a@b.co", "age": "30"})
    assert r.status_code == 400
    assert r.json() == {
        "status": "error",
        "message": "Validation failed",
        "errors": {"age": ["Expected `int`, got `str`"]},
    }


def test_missing_field_and_every_rule_reported(client: Any) -> None:
    assert client.post("/signup", json={"age": 30}).json()["errors"] == {"email": ["This field is required"]}
    r = client.post("/signup", json={"email": "nope", "age": 3, "nickname": "toolongname"})
    assert r.json()["errors"] == {
        "email": ["Email is invalid"],
        "age": ["Must be an adult"],
        "nickname": ["Nickname must be between 2 and 5 characters"],
    }


def test_unknown_route_wrong_method_and_crash_are_json(client: Any) -> None:
    assert client.get("/nowhere").json() == {"status": "error", "message": "Not found"}
    r = client.get("/signup")
    assert r.status_code == 405
    assert r.json() == {"status": "error", "message": "Method not allowed"}
    r = client.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"status": "error", "message": "Internal server error"}
    assert "secret internals" not in r.text


def test_request_id_is_echoed_or_made(client: Any) -> None:
    assert client.get("/health", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/health").headers["x-request-id"]
    assert uuid.UUID(made)


def test_identity_signed_by_the_gateway_is_trusted(client: Any) -> None:
    user = Identity(user_id=uuid.uuid4(), permissions=1)
    r = client.get("/me", headers=sign(user, SECRET))
    assert r.json()["user_id"] == str(user.user_id)
    assert client.get("/admin", headers=sign(user, SECRET)).status_code == 403
    admin = Identity(user_id=uuid.uuid4(), permissions=10)
    assert client.get("/admin", headers=sign(admin, SECRET)).status_code == 200


def test_forged_or_expired_identity_is_refused(client: Any) -> None:
    user = Identity(user_id=uuid.uuid4(), permissions=100)
    forged = sign(user, "not-the-secret")
    assert client.get("/me", headers=forged).status_code == 401
    assert client.get("/admin", headers=forged).status_code == 401
    tampered = sign(Identity(user_id=uuid.uuid4(), permissions=1), SECRET)
    tampered["x-identity"] = sign(user, SECRET)["x-identity"][:-4] + "AAAA"
    assert client.get("/me", headers=tampered).status_code == 401
    old = sign(user, SECRET, now=time.time() - 60)
    assert verify(old, SECRET) is None
    assert client.get("/me", headers=old).status_code == 401
    assert client.get("/me").json() == {"status": "error", "message": "Authentication required"}


def test_metrics_and_openapi_are_served(client: Any) -> None:
    client.post("/signup", json={"email": "a@b.co", "age": 30})
    metrics = client.get("/metrics").text
    assert 'path="/signup"' in metrics
    assert client.get("/schema/openapi.json").json()["info"]["title"] == "Blazing Sun test"


def test_unknown_fields_are_named_when_a_body_forbids_them() -> None:
    class Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
        name: str = "x"

    with pytest.raises(ValidationFailed) as caught:
        convert({"balance": 5}, Strict)
    assert caught.value.errors == {"balance": ["This field is not accepted"]}
