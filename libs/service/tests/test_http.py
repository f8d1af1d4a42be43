"""The shared HTTP behaviour every service gets: error shapes, strict bodies, request ids, identity."""

from __future__ import annotations

import gzip
import threading
import time
import uuid
from datetime import date
from typing import Annotated, Any

import msgspec
import pytest
from litestar import Request, Response, get, post
from litestar.params import Parameter
from litestar.testing import TestClient

from blazing_app import Browser
from blazing_service import (
    Checks,
    Identity,
    ServiceSettings,
    create_app,
    current_identity,
    read_json,
    require_admin,
    require_user,
    success,
)
from blazing_service import identity as identity_module
from blazing_service.body import convert
from blazing_service.errors import FieldErrors, ValidationFailed
from blazing_service.http import DRAINING, header_text, request_id_of, unsafe_target
from blazing_service.identity import sign, verify
from blazing_service.pages import browser_headers, browser_of
from blazing_service.pagination import Limit, Offset

SECRET = "test-identity-secret"
UTF8_ONLY = "A JSON body must be UTF-8 (no other charset is read)"


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
        (b'{"email": "a@b.co", "age": 30}', "application/json; charset=UTF-8", 201, "Created"),
        (b'{"email": "a@b.co", "age": 30}', 'application/json; charset="utf-8"', 201, "Created"),
        ('{"email": "a@b.co", "age": 30}'.encode("utf-16"), "application/json; charset=utf-16", 415, UTF8_ONLY),
        (b'{"email": "a@b.co", "age": 30}', "application/json; charset=latin-1", 415, UTF8_ONLY),
        (b'{"email": "' + b"x" * 300 + b'", "age": 30}', "application/json", 413, "Request body too large"),
    ],
)
def test_bad_bodies_get_clear_errors(client: Any, body: bytes, content_type: str, status: int, message: str) -> None:
    r = client.post("/signup", content=body, headers={"content-type": content_type} if content_type else {})
    assert r.status_code == status
    assert r.json()["message"] == message
    if status >= 400:
        assert r.json() == {"status": "error", "message": message}


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate, gzip", "x-unknown"])
def test_an_encoded_body_is_unsupported_media_not_malformed_json(client: Any, encoding: str) -> None:
    body = gzip.compress(b'{"email": "a@b.co", "age": 30}')
    r = client.post("/signup", content=body, headers={"content-type": "application/json", "content-encoding": encoding})
    assert (r.status_code, r.json()) == (
        415,
        {"status": "error", "message": "Content-Encoding is not accepted: send the body as it is"},
    )


def test_an_identity_encoded_body_is_read(client: Any) -> None:
    r = client.post("/signup", json={"email": "a@b.co", "age": 30}, headers={"content-encoding": "Identity"})
    assert r.status_code == 201


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


# --- hostile input (issue #17): every one a 4xx in the one shape, never a 500


@get("/page", sync_to_thread=False)
def page(limit: Limit = 20, offset: Offset = 0, q: str | None = None) -> Any:
    return success("Page", limit=limit, offset=offset, q=q)


@post("/signup-big")
async def signup_big(request: Request[Any, Any, Any]) -> Any:
    body = await read_json(request, Signup)
    return success("Created", status_code=201, email=body.email)


@pytest.fixture
def guarded() -> Any:
    settings = ServiceSettings(service="test", port=0, identity_secret=SECRET, system_events=False)
    with TestClient(app=create_app(settings, [signup, signup_big, page])) as c:
        yield c


def test_every_missing_field_is_reported_at_once(guarded: Any) -> None:
    r = guarded.post("/signup", json={})
    assert r.status_code == 400
    assert r.json()["errors"] == {"email": ["This field is required"], "age": ["This field is required"]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a\u0000@b.co", "age": 30}, "email"),
        ({"email": "a@b.co", "age": 30, "nickname": "a\u0000b"}, "nickname"),
        ({"email": "a@b.co", "age": 30, "extra": {"deep": ["ok", "x\u0000"]}}, "extra.deep[1]"),
    ],
)
def test_nul_characters_in_any_string_are_a_field_error(guarded: Any, body: dict[str, Any], field: str) -> None:
    r = guarded.post("/signup", content=msgspec.json.encode(body), headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["errors"] == {field: ["Must not contain NUL characters"]}


@pytest.mark.parametrize("depth", [33, 1_000, 100_000])
def test_deeply_nested_json_is_refused(guarded: Any, depth: int) -> None:
    body = b'{"email": "a@b.co", "age": 30, "x": ' + b"[" * depth + b"]" * depth + b"}"
    r = guarded.post("/signup-big", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"status": "error", "message": "JSON nested deeper than 32 levels"}


@pytest.mark.parametrize("name", ["a\r\nBcc: x@y.z", "tab\there", "nul\x00", "esc\x1b[31m", "del\x7f"])
def test_control_characters_in_a_one_line_field_are_refused(name: str) -> None:
    c = Checks()
    c.length(name, "first_name", 1, 50, "First name")
    assert c.errors == {"first_name": ["First name must not contain control characters"]}


def test_a_multiline_field_takes_line_breaks_but_no_other_controls() -> None:
    c = Checks()
    c.length("line one\r\nline\ttwo", "description", 0, 100, multiline=True)
    assert c.errors == {}
    c.length("bell\x07", "description", 0, 100, multiline=True)
    assert c.errors == {"description": ["Description must not contain control characters"]}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("offset=15236270236553154560", "offset"),
        ("offset=9223372036854775808", "offset"),
        ("offset=-1", "offset"),
        ("offset=abc", "offset"),
        ("limit=101", "limit"),
        ("limit=0", "limit"),
    ],
)
def test_pagination_out_of_range_is_a_field_error(guarded: Any, query: str, field: str) -> None:
    r = guarded.get(f"/page?{query}")
    assert r.status_code == 400
    assert r.json()["message"] == "Validation failed"
    assert list(r.json()["errors"]) == [field]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/page?q=%00", "The query string must not contain NUL characters"),
        ("/page?q=a%00b&limit=5", "The query string must not contain NUL characters"),
        ("/page?q=%ff%fe", "The query string is not valid UTF-8"),
    ],
)
def test_nul_and_undecodable_paths_and_queries_are_refused(guarded: Any, target: str, message: str) -> None:
    r = guarded.get(target)
    assert r.status_code == 400
    assert r.json() == {"status": "error", "message": message}
    assert r.headers["x-request-id"]


@pytest.mark.parametrize(
    ("raw_path", "message"),
    [
        (b"/page%00", "The path must not contain NUL characters"),
        (b"/page\x00", "The path must not contain NUL characters"),
        (b"/pa%c3ge", "The path is not valid UTF-8"),
        (b"/caf%C3%A9", None),
    ],
)
def test_nul_and_undecodable_paths_are_refused(raw_path: bytes, message: str | None) -> None:
    # as uvicorn builds the scope: raw_path without the query, path percent-decoded
    scope: Any = {"type": "http", "raw_path": raw_path, "path": raw_path.decode("latin-1"), "query_string": b""}
    assert unsafe_target(scope) == message


def test_a_valid_query_with_unicode_passes(guarded: Any) -> None:
    assert guarded.get("/page?q=caf%C3%A9+au+lait&offset=1000000000").json()["q"] == "café au lait"


@pytest.mark.parametrize("value", [b"\xff\xfe", b"a" * 129, b"has space", b"<script>"])
def test_an_unusable_request_id_is_replaced_not_echoed(value: bytes) -> None:
    headers = [(b"x-request-id", value)]
    made = request_id_of(headers)
    assert uuid.UUID(made)
    assert request_id_of([(b"x-request-id", b"gw-1.2:3_4")]) == "gw-1.2:3_4"


def test_non_utf8_request_id_header_on_health_is_fine(guarded: Any) -> None:
    r = guarded.get("/health", headers=[(b"x-request-id", b"caf\xe9")])
    assert r.status_code == 200
    assert uuid.UUID(r.headers["x-request-id"])


@get("/db-down", sync_to_thread=False)
def db_down() -> None:
    import psycopg  # noqa: PLC0415 - only this test's handler needs it

    raise psycopg.OperationalError("connection to server at 127.0.0.1 port 5432 failed: Connection refused")


def test_a_dependency_outage_is_a_503_with_retry_after_not_a_500() -> None:
    settings = ServiceSettings(service="test", port=0, identity_secret=SECRET, system_events=False)
    with TestClient(app=create_app(settings, [db_down, boom])) as c:
        r = c.get("/db-down")
        assert r.status_code == 503
        assert r.headers["retry-after"] == "2"
        assert r.json() == {"status": "error", "message": "Service unavailable, try again"}
        assert c.get("/boom").status_code == 500, "a bug stays a 500"


@get("/aliased", sync_to_thread=False)
def aliased(date_from: Annotated[date | None, Parameter(query="from")] = None) -> Any:
    return success("ok")


def test_a_field_error_names_the_parameter_as_the_client_sends_it() -> None:
    settings = ServiceSettings(service="test", port=0, identity_secret=SECRET, system_events=False)
    with TestClient(app=create_app(settings, [aliased])) as c:
        r = c.get("/aliased?from=bad")
        assert r.status_code == 400
        assert list(r.json()["errors"]) == ["from"]


HANDLER_THREADS: list[str] = []


@get("/whose", guards=[require_user], sync_to_thread=False)
def whose(request: Request[Any, Any, Any]) -> Any:
    HANDLER_THREADS.append(threading.current_thread().name)  # the event loop's (sync_to_thread=False)
    return success("Yours", user_id=str(current_identity(request).user_id))


def test_a_guarded_request_checks_its_identity_once_on_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """#19: the guards are coroutines (a plain function guard ran in a worker thread on every
    request) and the guard and the handler share one HMAC check."""
    checked: list[str] = []

    def recording_verify(headers: Any, secret: str, now: float | None = None) -> Identity | None:
        checked.append(threading.current_thread().name)
        return verify(headers, secret, now)

    monkeypatch.setattr(identity_module, "verify", recording_verify)
    settings = ServiceSettings(service="test", port=0, identity_secret=SECRET, system_events=False)
    user_id = uuid.uuid4()
    with TestClient(app=create_app(settings, [whose])) as client:
        r = client.get("/whose", headers=sign(Identity(user_id=user_id, permissions=1), SECRET))
        assert client.get("/whose").status_code == 401
    assert r.json()["user_id"] == str(user_id)
    assert checked == [HANDLER_THREADS[0]] * 2  # one check per request, each on the loop


@get("/public-thing", sync_to_thread=False)
def public_thing() -> Response[bytes]:
    return Response(b"x", media_type="text/plain", headers={"cache-control": "public, max-age=60"})


def test_no_answer_is_kept_in_a_cache_unless_its_handler_says_so() -> None:
    """Sign-in's tokens, a balance, a profile page: no browser history or shared cache keeps them."""
    settings = ServiceSettings(service="test", port=0, identity_secret=SECRET, system_events=False)
    with TestClient(app=create_app(settings, [signup, public_thing])) as c:
        assert c.get("/health").headers["cache-control"] == "no-store"
        assert c.post("/signup", json={}).headers["cache-control"] == "no-store", "errors too"
        assert c.get("/nowhere").headers["cache-control"] == "no-store"
        assert c.get("/public-thing").headers.get_list("cache-control") == ["public, max-age=60"]


def test_a_draining_instance_fails_its_health_and_still_serves() -> None:
    """Draining (blazing_service.serve: SIGUSR1 before a rolling deploy stops it): /health
    answers 503 so the gateway sends it nothing new, while what reaches it is still served — each
    answer closing its connection, so that no caller keeps one the stop would cut."""
    settings = ServiceSettings(service="test", port=0, identity_secret=SECRET, system_events=False)
    app = create_app(settings, [public_thing])
    with TestClient(app=app) as c:
        alive = c.get("/health")
        assert alive.json() == {"status": "success", "message": "test is alive"}
        assert "connection" not in alive.headers
        setattr(app.state, DRAINING, True)  # what the signal's handler does
        drained = c.get("/health")
        assert (drained.status_code, drained.json()) == (503, {"status": "error", "message": "test is draining"})
        served = c.get("/public-thing")
        assert (served.status_code, served.headers["connection"]) == (200, "close")
        assert c.get("/nowhere").headers["connection"] == "close", "answers no handler made too"


def test_a_header_is_read_as_the_utf8_text_the_gateway_passes_on() -> None:
    """The framework reads header bytes as Latin-1: a user agent "Café ☀" was "CafÃ© â\x98\x80"."""
    headers = [(b"user-agent", "Café ☀".encode()), (b"x-forwarded-for", b"203.0.113.9"), (b"x-odd", b"\xff")]
    request: Request[Any, Any, Any] = Request({"type": "http", "headers": headers})  # type: ignore[typeddict-item]
    assert header_text(request, "user-agent") == "Café ☀"
    assert header_text(request, "x-forwarded-for") == "203.0.113.9"
    assert header_text(request, "x-odd") == "\ufffd"
    assert header_text(request, "x-absent") is None
    assert browser_of(request) == Browser(forwarded_for="203.0.113.9", user_agent="Café ☀")
    assert browser_headers(browser_of(request)) == {
        b"x-forwarded-for": b"203.0.113.9",
        b"user-agent": "Café ☀".encode(),
    }
