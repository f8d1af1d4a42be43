"""What the page services share: the same-origin check of form posts, the CSP and the expiry of a
session cookie the gateway no longer vouches for (on every answer, 404s included), the CSRF token,
the APIs' refusals as the application's errors, notices and the error page of every failure."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar import Request, Response, get, post
from litestar._parsers import parse_url_encoded_form_data
from litestar.exceptions import HTTPException
from litestar.testing import TestClient
from litestar.utils import ensure_async_callable
from psycopg_pool import PoolTimeout

from blazing_app import (
    ApplicationError,
    Conflict,
    Invalid,
    NotFound,
    Refused,
    Throttled,
    Unauthenticated,
    Unavailable,
)
from blazing_service import Identity, ServiceSettings, create_app
from blazing_service.identity import sign
from blazing_service.pages import (
    STRICT_CSP,
    UNAVAILABLE,
    DoubleSubmit,
    PageError,
    PageSession,
    error_page_of,
    fields_of,
    form_fields,
    from_this_site,
    notice_of,
    origin_of,
    page_headers,
    refusal_of,
    same_origin,
)

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


# ------------------------------------------------------------------ what both page services share


@pytest.mark.parametrize(
    ("status", "body", "kind", "message", "errors"),
    [
        (
            400,
            b'{"status":"error","message":"Validation failed","errors":{"email":["Bad"]}}',
            Invalid,
            "Validation failed",
            {"email": ["Bad"]},
        ),
        (400, b'{"status":"error","message":"Bad request"}', Invalid, "Bad request", {}),
        (
            401,
            b'{"status":"error","message":"Invalid email or password"}',
            Unauthenticated,
            "Invalid email or password",
            {},
        ),
        (404, b'{"status":"error","message":"Transaction not found"}', NotFound, "Transaction not found", {}),
        (409, b'{"status":"error","message":"Taken"}', Conflict, "Taken", {}),
        (422, b'{"status":"error","message":"Below zero"}', Refused, "Below zero", {}),
        (429, b'{"status":"error","message":"Too many requests"}', Throttled, "Too many requests", {}),
        (418, b"<html>teapot</html>", ApplicationError, "Something went wrong; please try again", {}),
        (400, b'["not", "the shape"]', Invalid, "Something went wrong; please try again", {}),
        (502, b"bad gateway", Unavailable, UNAVAILABLE, {}),
    ],
)
def test_an_apis_refusal_is_the_applications_error_of_its_status(
    status: int, body: bytes, kind: type[ApplicationError], message: str, errors: dict[str, list[str]]
) -> None:
    refusal = refusal_of(status, body)
    assert type(refusal) is kind
    assert refusal.message == message
    assert fields_of(refusal) == errors


def test_a_notice_is_only_ever_the_services_own_words() -> None:
    notices = {"saved": "Saved", "discarded": "{count} discarded"}
    assert notice_of({"notice": "saved"}, notices) == "Saved"
    assert notice_of({"notice": "Your account is compromised"}, notices) is None
    assert notice_of({}, notices) is None
    assert notice_of({"notice": "discarded", "count": "3"}, notices) == "3 discarded"
    assert notice_of({"notice": "discarded"}, notices) == "0 discarded"
    for odd in ("<b>x", "-1", "1e3", "٣", "1" * 13):
        assert notice_of({"notice": "discarded", "count": odd}, notices) is None, odd


@get("/form", sync_to_thread=False)
def a_form(request: Request[Any, Any, Any]) -> Response[str]:
    token = CSRF.token(request)
    return Response(token, cookies=CSRF.cookies(request, token))


@post("/form", status_code=200)
async def post_form(request: Request[Any, Any, Any]) -> str:
    from_this_site(request, SITE, "not from here")
    form = await request.form()
    if not CSRF.holds(request, str(form.get("csrf") or "")):
        raise PageError(403, "expired")
    return "accepted"


@post("/fields", status_code=200)
async def posted_fields(request: Request[Any, Any, Any]) -> dict[str, list[str]]:
    form = await form_fields(request)
    return {str(k): [str(v) for v in form.getall(k)] for k in form}


@get("/fails/{kind:str}", sync_to_thread=False)
def fails(kind: str) -> str:
    raise {
        "page": PageError(410, "Gone for good"),
        "invalid": Invalid({"name": ["Too long"]}),
        "throttled": Throttled(5, "Slow down"),
        "outage": PoolTimeout("couldn't get a connection after 30.00 sec"),
        "bug": ZeroDivisionError("oops"),
    }[kind]


CSRF = DoubleSubmit("bs_csrf", "csrf", "/")


def page_client() -> TestClient[Any]:
    settings = ServiceSettings(service="pages-test", port=0, identity_secret=SECRET, system_events=False)

    def show(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        shown = error_page_of(request, exc)
        return Response(
            {"status": shown.status, "message": shown.message, "errors": shown.errors},
            status_code=shown.status,
            headers=shown.headers,
        )

    handlers: dict[Any, Any] = dict.fromkeys((Exception, HTTPException, ApplicationError, PageError), show)
    app = create_app(settings, [a_form, post_form, posted_fields, fails], exception_handlers=handlers)
    return TestClient(app)


def test_a_form_post_needs_this_sites_origin_and_the_double_submitted_token() -> None:
    with page_client() as c:
        first = c.get("/form")
        token = first.text
        [cookie] = [v for v in first.headers.get_list("set-cookie") if v.startswith("bs_csrf=")]
        assert {"httponly", "secure", "samesite=strict", "path=/"} <= {p.strip().lower() for p in cookie.split(";")}
        again = c.get("/form", headers={"cookie": f"bs_csrf={token}"})
        assert again.text == token
        assert "set-cookie" not in again.headers, "a browser holding the token is not sent it again"
        ours = {"origin": SITE, "cookie": f"bs_csrf={token}"}
        assert c.post("/form", data={"csrf": token}, headers=ours).text == "accepted"
        assert c.post("/form", data={"csrf": "other"}, headers=ours).json()["message"] == "expired"
        assert c.post("/form", data={"csrf": "é"}, headers=ours).status_code == 403, "any character, never a 500"
        assert c.post("/form", data={"csrf": ""}, headers={"origin": SITE}).status_code == 403, "no cookie"
        foreign = c.post("/form", data={"csrf": token}, headers={**ours, "origin": "https://evil.example"})
        assert (foreign.status_code, foreign.json()["message"]) == (403, "not from here")


def session(session_id: uuid.UUID) -> dict[str, str]:
    """The identity headers the gateway signs for a page request of a signed-in session."""
    return sign(Identity(user_id=uuid.uuid4(), permissions=1, session_id=session_id), SECRET)


def issued(c: TestClient[Any], headers: dict[str, str]) -> str:
    return c.get("/form", headers=headers).text


def test_the_csrf_token_holds_only_for_the_session_it_was_issued_for() -> None:
    """A double-submit token that was any random string: whoever could plant the cookie (a sibling
    subdomain, a man in the middle of a plain-HTTP visit) chose the token a forged form repeats."""
    a, b = uuid.uuid4(), uuid.uuid4()
    with page_client() as c:
        mine = issued(c, session(a))

        def post(token: str, who: dict[str, str]) -> int:
            headers = {"origin": SITE, "cookie": f"bs_csrf={token}", **who}
            return c.post("/form", data={"csrf": token}, headers=headers).status_code

        assert post(mine, session(a)) == 200
        assert post(mine, session(b)) == 403, "another session's token"
        assert post(mine, {}) == 403, "a signed-in session's token, signed out"
        assert post(issued(c, {}), session(a)) == 403, "a token from before the sign-in"
        for planted in ("attacker-chosen", f"{mine.partition('.')[0]}.forged", mine.partition(".")[0]):
            assert post(planted, session(a)) == 403, planted
            assert post(planted, {}) == 403, planted
        again = c.get("/form", headers={"cookie": "bs_csrf=attacker-chosen", **session(a)})
        assert again.text != "attacker-chosen", "a page replaces a token it did not issue"
        assert any(v.startswith(f"bs_csrf={again.text};") for v in again.headers.get_list("set-cookie"))
        assert post(again.text, session(a)) == 200


@pytest.mark.parametrize(
    ("kind", "status", "message", "errors", "headers"),
    [
        ("page", 410, "Gone for good", {}, {}),
        ("invalid", 400, "Validation failed", {"name": ["Too long"]}, {}),
        ("throttled", 429, "Slow down", {}, {}),
        ("outage", 503, UNAVAILABLE, {}, {"retry-after": "2"}),
        ("bug", 500, "Something went wrong on our side; please try again", {}, {}),
    ],
)
def test_every_failure_has_an_error_page_in_a_persons_words(
    kind: str, status: int, message: str, errors: dict[str, list[str]], headers: dict[str, str]
) -> None:
    with page_client() as c:
        r = c.get(f"/fails/{kind}")
    assert r.status_code == status
    assert r.json() == {"status": status, "message": message, "errors": errors}
    assert headers.items() <= r.headers.items()


def test_framework_refusals_are_pages_with_their_status_and_allow() -> None:
    with page_client() as c:
        missing = c.get("/no-such-page")
        wrong = c.delete("/form")
    assert (missing.status_code, missing.json()["message"]) == (404, "There is no such page")
    assert (wrong.status_code, wrong.json()["message"]) == (405, "This page does not take that kind of request")
    assert "GET" in wrong.headers["allow"]


def test_form_fields_read_a_post_as_litestar_does_but_keep_no_body() -> None:
    """Litestar's parser of url-encoded bodies is an lru_cache of 1,024 bodies of up to 1 MiB: every
    form post (a sign-in's password too) stayed in memory, and a body of 300,000 empty fields took a
    second and a half of the event loop to split."""
    form = {"content-type": "application/x-www-form-urlencoded"}
    with page_client() as c:
        before = parse_url_encoded_form_data.cache_info().currsize
        for n in range(3):
            r = c.post("/fields", content=f"password=secret-{n}&a=1&a=2&blank=&bad=%FF&%C3%A9=%C3%A9", headers=form)
            assert r.json() == {
                "password": [f"secret-{n}"],
                "a": ["1", "2"],
                "blank": [""],
                "bad": ["\ufffd"],
                "é": ["é"],
            }
        assert parse_url_encoded_form_data.cache_info().currsize == before, "no form post is kept"
        many = c.post("/fields", content="a=&" * 300_000, headers=form)
        assert (many.status_code, many.json()["message"]) == (413, "What you sent is too large")
        multipart = c.post("/fields", files={"f": ("a.txt", b"x")}, data={"name": "Ada"})
        assert multipart.json() == {"f": [str(multipart.json()["f"][0])], "name": ["Ada"]}
