"""What the page services share: the same-origin check of form posts, the CSP and the expiry of a
session cookie the gateway no longer vouches for (on every answer, 404s included)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Response, get
from litestar.testing import TestClient
from litestar.utils import ensure_async_callable

from blazing_service import Identity, ServiceSettings, create_app
from blazing_service.identity import sign
from blazing_service.pages import STRICT_CSP, PageSession, origin_of, page_headers, same_origin

SECRET = "test-identity-secret"
SITE = "https://localhost"


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"origin": "https://localhost"}, True),
        ({"origin": "https://LOCALHOST:443"}, True),
        ({"referer": "https://localhost/categories?x=1"}, True),
        ({}, False),
        ({"origin": "null"}, False),
        ({"origin": "null", "referer": "https://localhost/"}, False),  # Origin decides when sent
        ({"origin": "http://localhost"}, False),
        ({"origin": "https://localhost:8443"}, False),
        ({"origin": "https://localhost.evil.example"}, False),
        ({"origin": "https://evil.example"}, False),
        ({"referer": "/relative"}, False),
        ({"origin": "https://localhost:99999"}, False),
        ({"origin": "javascript:alert(1)"}, False),
    ],
)
def test_same_origin(headers: dict[str, str], ok: bool) -> None:
    assert same_origin(headers, SITE) is ok


def test_origin_of() -> None:
    assert origin_of("https://Example.org/x") == ("https", "example.org", 443)
    assert origin_of("http://example.org:8080") == ("http", "example.org", 8080)
    assert origin_of("ftp://example.org") is None
    assert origin_of("null") is None


SESSION = PageSession("bs_session", "/")


@get("/page", sync_to_thread=False)
def a_page() -> str:
    return "page"


@get("/signs-in", sync_to_thread=False)
def signs_in() -> Response[str]:
    return Response("signed in", cookies=[SESSION.issued("new-token", 900)])


@get("/api/thing", sync_to_thread=False)
def api_thing() -> dict[str, str]:
    return {"status": "success"}


def client() -> TestClient[Any]:
    settings = ServiceSettings(service="pages-test", port=0, identity_secret=SECRET, system_events=False)
    app = create_app(settings, [a_page, signs_in, api_thing])
    hook = page_headers(SESSION, SECRET, applies=lambda path: not path.startswith("/api/"))
    app.before_send.append(ensure_async_callable(hook))
    return TestClient(app)


def expiries(response: Any) -> list[str]:
    return [c for c in response.headers.get_list("set-cookie") if c.startswith("bs_session=")]


def test_a_stale_session_cookie_is_expired_on_every_page_answer_404s_included() -> None:
    with client() as c:
        for path in ("/page", "/no-such-page"):
            r = c.get(path, headers={"cookie": "bs_session=revoked-token"})
            [expired] = expiries(r)
            parts = {p.strip().lower() for p in expired.split(";")}
            assert {"max-age=0", "path=/", "httponly", "secure", "samesite=strict"} <= parts
            assert r.headers["content-security-policy"] == STRICT_CSP


def test_a_vouched_for_session_an_answer_setting_the_cookie_and_api_paths_keep_it() -> None:
    signed = sign(Identity(user_id=uuid.uuid4(), permissions=1), SECRET)
    with client() as c:
        assert expiries(c.get("/page", headers={"cookie": "bs_session=good-token", **signed})) == []
        assert expiries(c.get("/page")) == [], "no cookie, nothing to expire"
        fresh = c.get("/signs-in", headers={"cookie": "bs_session=revoked-token"})
        assert [e.split(";")[0] for e in expiries(fresh)] == ["bs_session=new-token"]
        api = c.get("/api/thing", headers={"cookie": "bs_session=revoked-token"})
        assert expiries(api) == []
        assert "content-security-policy" not in api.headers
