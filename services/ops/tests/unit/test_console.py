"""The console's sign-in as a browser posts it — the page handler, the application and auth's client
(its HTTP answered by the test), the storage in memory — no server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from blazing_es.memory import TablesDatabase
from blazing_service.identity import SUPER_ADMIN, Identity, sign
from ops import settings
from ops.adapters.auth import AuthClient
from ops.adapters.memory import InMemoryOpsReads, InMemoryOpsUnitOfWork, OpsTables
from ops.application.dead_letters import DeadLetterQueries, DiscardDeadLetters, StoreDeadLetters, ViewDeadLetter
from ops.application.operators import SignIn, SignOut
from ops.application.replays import ReplayCommands
from ops.bootstrap import ops_app
from ops.domain.dead_letters import unreadable_kafka
from ops.entrypoints.http import Handlers
from ops.entrypoints.pages import Console

Auth = Callable[[httpx.Request], httpx.Response]
ORIGIN = {"origin": "https://localhost"}
FORM = {"email": "admin@example.org", "password": "pw"}


def signed_in(permissions: int) -> httpx.Response:
    user = {"id": str(uuid.uuid4()), "email": "admin@example.org", "permissions": permissions}
    body = {"access_token": "the-token", "expires_in": 900, "session_id": str(uuid.uuid4()), "user": user}
    return httpx.Response(200, json=body)


class ConsoleApp:
    def __init__(self, auth: Auth) -> None:
        self.db = TablesDatabase(tables=OpsTables())
        self.requests: list[httpx.Request] = []

        def answer(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return auth(request)

        client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        config = settings.load({"GATEWAY_IDENTITY_SECRET": "s", "SYSTEM_EVENTS": "false"})
        uow, reads = (lambda: InMemoryOpsUnitOfWork(self.db)), InMemoryOpsReads(self.db)
        auth_client = AuthClient(client, "http://auth.test", config.identity_secret)
        handlers = Handlers(
            queries=DeadLetterQueries(reads),
            view=ViewDeadLetter(reads, uow),
            discard=DiscardDeadLetters(uow),
            replays=ReplayCommands(uow, reads),
            sign_in=SignIn(auth_client, uow),
            sign_out=SignOut(auth_client, uow),
        )
        self.app = ops_app(config, handlers, [Console])


@pytest.fixture
def console() -> Iterator[Callable[[Auth], tuple[ConsoleApp, TestClient[Any]]]]:
    clients: list[TestClient[Any]] = []

    def make(auth: Auth) -> tuple[ConsoleApp, TestClient[Any]]:
        made = ConsoleApp(auth)
        clients.append(TestClient(made.app).__enter__())
        return made, clients[-1]

    yield make
    for c in clients:
        c.__exit__(None, None, None)


def test_an_admin_gets_the_console_cookie_and_the_sign_in_is_audited(console: Any) -> None:
    made, c = console(lambda _: signed_in(100))
    r = c.post("/ops/sign-in", data=FORM, headers={**ORIGIN, "x-forwarded-for": "203.0.113.9"}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (302, "/ops/")
    [cookie] = r.headers.get_list("set-cookie")
    assert cookie.startswith("bs_ops=the-token;")
    assert {"httponly", "secure", "samesite=strict", "path=/ops", "max-age=900"} <= {
        p.strip().lower() for p in cookie.split(";")
    }
    [sent] = made.requests
    assert (sent.url.path, sent.headers["x-forwarded-for"]) == ("/api/v1/auth/sign-in", "203.0.113.9")
    assert [(e["action"], e["actor"]) for e in made.db.tables.audit] == [("signed_in", "admin@example.org")]


def test_someone_who_is_not_an_admin_gets_the_form_again_and_no_session(console: Any) -> None:
    made, c = console(lambda request: signed_in(1) if request.url.path.endswith("sign-in") else httpx.Response(200))
    r = c.post("/ops/sign-in", data=FORM, headers=ORIGIN)
    assert r.status_code == 403
    assert "The ops console is for admins only" in r.text
    assert "set-cookie" not in r.headers
    assert [q.url.path for q in made.requests] == ["/api/v1/auth/sign-in", "/api/v1/auth/sign-out"]
    assert made.db.tables.audit == []


def test_auths_refusal_is_shown_on_the_form_with_its_status(console: Any) -> None:
    _, c = console(lambda _: httpx.Response(401, json={"status": "error", "message": "Invalid email or password"}))
    r = c.post("/ops/sign-in", data=FORM, headers=ORIGIN)
    assert r.status_code == 401
    assert "Invalid email or password" in r.text
    assert "Sign in to the ops console" in r.text


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize(
    "auth", [refuse_connection, lambda _: httpx.Response(502, text="bad gateway")], ids=["unreachable", "failing"]
)
def test_auth_away_is_the_503_page_never_a_500(console: Any, auth: Auth) -> None:
    _, c = console(auth)
    r = c.post("/ops/sign-in", data=FORM, headers=ORIGIN)
    assert r.status_code == 503
    assert r.headers["content-type"].startswith("text/html")
    assert "Sign-in is unavailable right now" in r.text


def test_a_sign_in_from_another_site_is_refused_before_auth_is_asked(console: Any) -> None:
    made, c = console(lambda _: signed_in(100))
    r = c.post("/ops/sign-in", data=FORM, headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    assert "not sent from the console" in r.text
    assert made.requests == []


def admin() -> dict[str, str]:
    """A super admin's identity headers as the gateway signs them, fresh: they expire."""
    return sign(Identity(user_id=uuid.uuid4(), permissions=SUPER_ADMIN), "s")


@pytest.mark.parametrize(
    ("action", "form", "back"),
    [
        ("discard", {"service": "mailer"}, "/ops/?service=mailer&notice=discarded&count=0"),
        ("discard", {}, "/ops/?notice=select-first"),
        ("replay", {"service": "mailer", "dry_run": "1"}, "/ops/?service=mailer&notice=dry-run&count=0"),
        ("replay", {}, "/ops/?notice=select-first"),
        ("replay", {"service": "mailer"}, "/ops/?service=mailer&notice=nothing-to-replay"),
    ],
)
def test_an_action_goes_back_to_the_list_as_it_was_filtered_with_its_notice(
    console: Any, action: str, form: dict[str, str], back: str
) -> None:
    _, c = console(lambda _: signed_in(100))
    r = c.post(f"/ops/actions/{action}", data=form, headers={**ORIGIN, **admin()}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (302, back)


@pytest.mark.parametrize("action", ["discard", "replay"])
def test_an_action_is_an_admins_from_the_consoles_own_pages(console: Any, action: str) -> None:
    _, c = console(lambda _: signed_in(100))
    elsewhere = {"origin": "https://evil.example", **admin()}
    foreign = c.post(f"/ops/actions/{action}", data={"service": "mailer"}, headers=elsewhere)
    assert foreign.status_code == 403
    assert "not sent from the console" in foreign.text
    nobody = c.post(f"/ops/actions/{action}", data={"service": "mailer"}, headers=ORIGIN, follow_redirects=False)
    assert (nobody.status_code, nobody.headers["location"]) == (302, "/ops/sign-in")


def multipart(name: str, value: bytes, part_type: str = "") -> tuple[bytes, dict[str, str]]:
    """A multipart form of one field, its bytes as sent (a browser's form posted by hand)."""
    typed = f"\r\nContent-Type: {part_type}" if part_type else ""
    body = f'--x\r\nContent-Disposition: form-data; name="{name}"{typed}\r\n\r\n'.encode() + value + b"\r\n--x--\r\n"
    return body, {"content-type": "multipart/form-data; boundary=x"}


@pytest.mark.parametrize(
    ("value", "part_type"),
    [(b"\xff\xfe", ""), (b"abc", "text/plain; charset=no-such-charset"), (b"a", "text/plain; charset=utf-16")],
    ids=["not-utf-8", "unknown-charset", "not-that-charset"],
)
@pytest.mark.parametrize("path", ["/ops/sign-in", "/ops/actions/replay", "/ops/actions/discard"])
def test_a_multipart_form_that_does_not_decode_is_the_400_page_never_a_500(
    console: Any, path: str, value: bytes, part_type: str
) -> None:
    made, c = console(lambda _: signed_in(100))
    body, headers = multipart("email" if path.endswith("sign-in") else "aggregate_id", value, part_type)
    r = c.post(path, content=body, headers={**ORIGIN, **admin(), **headers})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert made.requests == []


def test_an_admins_sign_out_ends_the_session_at_auth_and_is_audited(console: Any) -> None:
    made, c = console(lambda _: httpx.Response(200))
    r = c.post("/ops/sign-out", headers={**ORIGIN, **admin()}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (302, "/ops/sign-in")
    assert [q.url.path for q in made.requests] == ["/api/v1/auth/sign-out"]
    assert [e["action"] for e in made.db.tables.audit] == ["signed_out"]


def test_a_dead_letter_with_a_deeply_nested_payload_leaves_the_list_and_its_page_readable(console: Any) -> None:
    made, c = console(lambda _: signed_in(100))
    nested = b"[" * 5000 + b"]" * 5000  # a poison record on the dead-letter topic itself, kept as it came
    deep = unreadable_kafka(nested, None, "events.dead_letter", 0, 1, "not a dead-letter record", datetime.now(UTC))
    asyncio.run(StoreDeadLetters(lambda: InMemoryOpsUnitOfWork(made.db))([deep]))
    listing = c.get("/ops/", headers=admin())
    assert listing.status_code == 200
    assert str(deep.dead_letter_id) in listing.text
    one = c.get(f"/ops/dead-letters/{deep.dead_letter_id}", headers=admin())
    assert one.status_code == 200
    assert "(not JSON; base64)" in one.text


@pytest.mark.parametrize("offset", ["\uff11", "1_0", " 5", "-1", "x"])
def test_the_list_offset_is_ascii_digits_or_the_400_page(console: Any, offset: str) -> None:
    """int() read a full-width "1" as 1 (and "1_0" as 10): the rate field refused them, the offset did not."""
    _, c = console(lambda _: signed_in(100))
    r = c.get("/ops/", params={"offset": offset}, headers=admin())
    assert (r.status_code, r.headers["content-type"][:9]) == (400, "text/html")
    assert "Offset must be a whole number" in r.text
