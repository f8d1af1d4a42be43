"""Hostile input to every web page, through https://localhost: every route family (anonymous forms,
signed-in forms, query parameters, path parameters, unknown paths and methods, cookies, Origin) gets
a 4xx HTML page that says what is wrong — never a 500, never JSON, never a stack trace."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from blazing_testing import edge_client
from blazing_testing.accounts import PASSWORD, activated_account

pytestmark = pytest.mark.integration
ORIGIN = {"origin": "https://localhost"}
NOBODY = "5b0e2c3a-0000-4000-8000-000000000000"  # a well-formed id nobody has
HOSTILE = {
    "nul": "a\x00b",
    "line-break": "Ada\r\nBcc: x@example.org",
    "escape": "\x1b[31mred",
    "10000-chars": "x" * 10_000,
}


@pytest.fixture(scope="module")
async def session() -> dict[str, Any]:
    """A signed-in account with one category and one transaction (ids for the path families)."""
    async with edge_client() as edge:  # from its own address: not throttled by other tests' sign-ins
        _, body = await activated_account(edge, prefix="web-hostile")
        bearer = {"authorization": f"Bearer {body['access_token']}"}
        category = await edge.post("/api/v1/categories", json={"name": "Salary"}, headers=bearer)
        assert category.status_code == 201, category.text
        category_id = category.json()["category"]["id"]
        tx = await edge.post(
            "/api/v1/transactions",
            json={"category_id": category_id, "type": "income", "amount": 1000, "memo": "pay"},
            headers=bearer,
        )
        assert tx.status_code == 201, tx.text
    return {"token": body["access_token"], "category_id": category_id, "transaction_id": tx.json()["transaction"]["id"]}


async def csrf(edge: httpx.AsyncClient, cookies: dict[str, str] | None = None) -> dict[str, str]:
    """The CSRF cookie a page hands out (with the session cookie, if any)."""
    r = await edge.get("/sign-up", headers=cookie_header(cookies or {}))
    token = r.cookies.get("bs_csrf")
    assert token, r.headers
    return {**(cookies or {}), "bs_csrf": token}


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    return {"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


def assert_error_page(r: httpx.Response, *statuses: int) -> str:
    """A 4xx HTML page (the status one of ``statuses``), no JSON, no traceback; its text."""
    assert r.status_code in statuses, (r.status_code, r.headers.get("location"), r.text[:500])
    assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
    assert "Traceback" not in r.text
    assert "Internal server error" not in r.text
    assert "content-security-policy" in r.headers
    return r.text


async def post_form(
    edge: httpx.AsyncClient, path: str, fields: dict[str, str], cookies: dict[str, str], **headers: str
) -> httpx.Response:
    return await edge.post(
        path, data={**fields, "csrf": cookies["bs_csrf"]}, headers={**ORIGIN, **cookie_header(cookies), **headers}
    )


ANONYMOUS_FORMS: dict[str, dict[str, str]] = {
    "/sign-up": {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "hostile@example.org",
        "password": PASSWORD,
        "confirm_password": PASSWORD,
    },
    "/sign-in": {"email": "hostile@example.org", "password": PASSWORD},
    "/activate": {"code": "A" * 40},
    "/forgot-password": {"email": "hostile@example.org"},
    "/reset-password": {"code": "A" * 40, "password": PASSWORD, "confirm_password": PASSWORD},
    "/set-password": {"user_id": NOBODY, "code": "A" * 40, "password": PASSWORD, "confirm_password": PASSWORD},
}
SIGNED_IN_FORMS: dict[str, dict[str, str]] = {
    "/profile": {"first_name": "Ada", "last_name": "Lovelace"},
    "/categories": {"name": "Food", "description": "what we eat"},
    "/transactions": {"type": "expense", "category_id": "{category_id}", "amount": "1.00", "memo": "tea"},
    "/transactions/{transaction_id}": {"type": "income", "category_id": "{category_id}", "amount": "2", "memo": "pay"},
    "/password/verify": {"code": "A" * 40, "password": PASSWORD, "confirm_password": PASSWORD},
}


def cases(forms: dict[str, dict[str, str]]) -> list[tuple[str, str]]:
    return [(path, name) for path, fields in forms.items() for name in fields]


@pytest.mark.parametrize(("path", "field"), cases(ANONYMOUS_FORMS))
async def test_anonymous_forms_refuse_hostile_values_with_a_field_error(
    edge: httpx.AsyncClient, path: str, field: str
) -> None:
    cookies = await csrf(edge)
    for label, value in HOSTILE.items():
        r = await post_form(edge, path, {**ANONYMOUS_FORMS[path], field: value}, cookies)
        text = assert_error_page(r, 400)
        hidden = path == "/set-password" and field in ("user_id", "code")  # the link's own parameters
        assert (f'id="{field}-error"' in text) or hidden, (label, text[-1500:])


@pytest.mark.parametrize(("path", "field"), cases(SIGNED_IN_FORMS))
async def test_signed_in_forms_refuse_hostile_values_with_a_field_error(
    edge: httpx.AsyncClient, session: dict[str, Any], path: str, field: str
) -> None:
    cookies = await csrf(edge, {"bs_session": session["token"]})
    target = path.format(**session)
    for label, value in HOSTILE.items():
        if field == "description" and label == "line-break":
            continue  # a description may have several lines
        fields = {k: v.format(**session) for k, v in SIGNED_IN_FORMS[path].items()}
        r = await post_form(edge, target, {**fields, field: value}, cookies)
        text = assert_error_page(r, 400)
        assert re.search(rf'id="{field}-error"|role="alert"', text), (label, text[-1500:])


@pytest.mark.parametrize("amount", ["abc", "0", "-1", "1.001", "NaN", "1e309", "1e30", "9" * 40])
@pytest.mark.parametrize("path", ["/transactions", "/transactions/{transaction_id}"])
async def test_an_amount_that_is_not_one_is_the_form_with_the_amount_error_never_a_500(
    edge: httpx.AsyncClient, session: dict[str, Any], path: str, amount: str
) -> None:
    cookies = await csrf(edge, {"bs_session": session["token"]})
    fields = {k: v.format(**session) for k, v in SIGNED_IN_FORMS[path].items()}
    r = await post_form(edge, path.format(**session), {**fields, "amount": amount}, cookies)
    assert r.status_code == 200, (r.status_code, r.text[-500:])
    assert 'id="amount-error"' in r.text


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=bad", "from"),
        ("to=2026-13-45", "to"),
        ("from=99999-01-01", "from"),
        ("category_id=zz", "category_id"),
        ("type=zz", "type"),
        ("offset=abc", "offset"),
        ("offset=-1", "offset"),
        ("offset=18446744073709551616", "offset"),
        ("q=" + "x" * 1_000, "q"),  # (a 10,000-character URL is refused before the page: 414)
    ],
)
async def test_bad_transaction_filters_are_a_400_page_with_the_filter_error(
    edge: httpx.AsyncClient, session: dict[str, Any], query: str, field: str
) -> None:
    r = await edge.get(f"/transactions?{query}", headers=cookie_header({"bs_session": session["token"]}))
    text = assert_error_page(r, 400)
    assert f'id="filter-{field}-error"' in text, text[-2000:]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/transactions/{unknown}/edit"),
        ("GET", "/transactions/not-a-uuid/edit"),
        ("GET", "/transactions/{transaction_id}/nothing-here"),
        ("GET", "/profile/deeper"),
        ("POST", "/transactions/{unknown}"),
        ("POST", "/transactions/{unknown}/delete"),
        ("POST", "/categories/{unknown}/delete"),
        ("POST", "/categories/zz/delete"),
    ],
)
async def test_unknown_ids_and_paths_are_a_404_page(
    edge: httpx.AsyncClient, session: dict[str, Any], method: str, path: str
) -> None:
    cookies = await csrf(edge, {"bs_session": session["token"]})
    target = path.format(unknown=uuid.uuid4(), **session)
    fields = {"type": "income", "category_id": session["category_id"], "amount": "1", "memo": "x"}
    if method == "GET":
        r = await edge.get(target, headers=cookie_header(cookies))
    else:
        r = await post_form(edge, target, fields, cookies)
    assert "Not found" in assert_error_page(r, 404) or "no such page" in r.text


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/sign-in"), ("PUT", "/profile"), ("PATCH", "/")])
async def test_a_wrong_method_is_a_405_page(edge: httpx.AsyncClient, method: str, path: str) -> None:
    r = await edge.request(method, path)
    assert_error_page(r, 405)
    assert "GET" in r.headers.get("allow", "")


@pytest.mark.parametrize(
    "query",
    ["user_id=zz&code=" + "A" * 40, f"user_id={NOBODY}&code=short", f"user_id={NOBODY}&code=" + "A" * 40, ""],
)
async def test_a_broken_or_unknown_set_password_link_is_a_400_page(edge: httpx.AsyncClient, query: str) -> None:
    text = assert_error_page(await edge.get(f"/set-password?{query}"), 400)
    assert "invalid or has expired" in text


async def test_the_notice_parameter_shows_only_our_own_words(edge: httpx.AsyncClient) -> None:
    r = await edge.get("/sign-in", params={"notice": "Your account is locked: call +1 555 0100"})
    assert r.status_code == 200
    assert "call +1 555" not in r.text
    shown = await edge.get("/sign-in", params={"notice": "activated"})
    assert "Your account is active" in shown.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/ok\r\nx"])
async def test_sign_in_never_sends_you_to_another_site(edge: httpx.AsyncClient, target: str) -> None:
    r = await edge.get("/sign-in", params={"next": target})
    assert r.status_code in (200, 400)  # a control character in a query may be refused before the page
    assert 'name="next"' not in r.text


EVERY_POST = [
    *ANONYMOUS_FORMS,
    "/sign-out",
    "/password/change",
    *SIGNED_IN_FORMS,
    "/categories/{category_id}/delete",
    "/transactions/{transaction_id}/delete",
]


@pytest.mark.parametrize(
    "headers",
    [
        {},  # neither Origin nor Referer
        {"origin": "null"},
        {"origin": "https://evil.example"},
        {"origin": "http://localhost"},  # another scheme is another origin
        {"referer": "https://evil.example/form"},
        {"origin": "https://localhost.evil.example"},
    ],
    ids=["none", "null", "other-site", "other-scheme", "other-referer", "suffix"],
)
async def test_form_posts_from_anywhere_but_our_pages_are_refused(
    edge: httpx.AsyncClient, session: dict[str, Any], headers: dict[str, str]
) -> None:
    cookies = await csrf(edge, {"bs_session": session["token"]})
    for path in EVERY_POST:
        fields = {"name": "Forged"} if path == "/categories" else {}
        r = await edge.post(
            path.format(**session),
            data={**fields, "csrf": cookies["bs_csrf"]},
            headers={**headers, **cookie_header(cookies)},
        )
        assert "not sent from this site" in assert_error_page(r, 403), path
    listed = await edge.get("/categories", headers=cookie_header(cookies))
    assert "Forged" not in listed.text
    same_site = await edge.post(
        "/categories",
        data={"name": f"Referred {uuid.uuid4().hex[:8]}", "csrf": cookies["bs_csrf"]},
        headers={"referer": "https://localhost/categories", **cookie_header(cookies)},
    )
    assert same_site.status_code == 302, "a Referer of our own is enough when the browser sent no Origin"


async def test_a_csrf_token_holds_only_for_the_session_it_was_issued_for(
    edge: httpx.AsyncClient, session: dict[str, Any]
) -> None:
    """The token was any random string: whoever could plant the cookie chose the token a forged form
    repeats. Now it is signed for one session; a planted or another session's token is refused."""
    signed_in = {"bs_session": session["token"]}
    mine = await csrf(edge, signed_in)
    fields = {"name": f"Bound {uuid.uuid4().hex[:8]}"}
    planted = {**signed_in, "bs_csrf": "attacker-chosen-token"}
    assert "expired" in assert_error_page(await post_form(edge, "/categories", fields, planted), 403)
    anonymous = await csrf(edge)  # a token issued before signing in
    before = {**signed_in, "bs_csrf": anonymous["bs_csrf"]}
    assert "expired" in assert_error_page(await post_form(edge, "/categories", fields, before), 403)
    async with edge_client() as other_edge:
        _, other = await activated_account(other_edge, prefix="web-csrf")
    theirs = {"bs_session": other["access_token"], "bs_csrf": mine["bs_csrf"]}
    assert "expired" in assert_error_page(await post_form(edge, "/categories", fields, theirs), 403)
    r = await post_form(edge, "/categories", fields, mine)
    assert (r.status_code, r.headers.get("location")) == (302, "/categories?notice=category-added")


async def test_a_form_posted_after_its_session_ended_goes_to_the_sign_in_page(
    edge: httpx.AsyncClient, session: dict[str, Any]
) -> None:
    mine = await csrf(edge, {"bs_session": session["token"]})
    ended = {**mine, "bs_session": "no-longer-a-valid-token"}
    r = await post_form(edge, "/categories", {"name": "Late"}, ended)
    assert (r.status_code, r.headers.get("location")) == (302, "/sign-in")


@pytest.mark.parametrize(
    ("value", "part_type"),
    [(b"\xff\xfe", ""), (b"abc", "text/plain; charset=no-such-charset")],
    ids=["not-utf-8", "unknown-charset"],
)
async def test_a_multipart_form_that_does_not_decode_is_the_400_page(
    edge: httpx.AsyncClient, value: bytes, part_type: str
) -> None:
    """Litestar decodes each part as it parses and let the codec's error through: a 500."""
    typed = f"\r\nContent-Type: {part_type}" if part_type else ""
    body = f'--x\r\nContent-Disposition: form-data; name="email"{typed}\r\n\r\n'.encode() + value + b"\r\n--x--\r\n"
    headers = {**ORIGIN, "content-type": "multipart/form-data; boundary=x"}
    assert_error_page(await edge.post("/sign-in", content=body, headers=headers), 400)


@pytest.mark.parametrize(
    ("kept", "sent"),
    [("\u00e9t\u00e9", "ete"), ("x" * 5000, "y" * 5000), ("", "guess"), ("\u00e9t\u00e9", "\u00e9t\u00e9")],
    ids=["non-ascii", "long", "no-cookie", "non-ascii-matching"],
)
async def test_a_hostile_csrf_token_is_never_a_500(edge: httpx.AsyncClient, kept: str, sent: str) -> None:
    cookie = {"cookie": ("bs_csrf=" + kept).encode()} if kept else {}  # UTF-8 bytes, as a browser may send
    form = {"email": "a@example.org", "password": "x", "csrf": sent}
    r = await edge.post("/sign-in", data=form, headers={**ORIGIN, **cookie})
    if kept == sent:  # (the cookie's bytes are read as Latin-1: they may or may not match)
        assert r.status_code in (200, 403)
        assert r.headers["content-type"].startswith("text/html")
    else:
        assert "expired" in assert_error_page(r, 403)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"csrf={csrf}&email=%FF%FE&password=x"),
        ("application/x-www-form-urlencoded", b"csrf={csrf}&email=%ZZ&password=%"),
        ("application/x-www-form-urlencoded", b"csrf={csrf}&csrf=other&email=a@b.co&password=x"),
        ("application/json", b'{{"csrf": "{csrf}", "email": "a@b.co"}}'),
        ("text/plain", b"csrf={csrf}"),
        ("multipart/form-data; boundary=XX", b"--XX\r\nbroken"),
        (
            "multipart/form-data; boundary=XX",
            b'--XX\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n--XX\r\n'
            b'Content-Disposition: form-data; name="email"; filename="a.txt"\r\n\r\nhello\r\n--XX--\r\n',
        ),
    ],
    ids=["not-utf8", "bad-escapes", "two-tokens", "json", "text", "broken-multipart", "a-file-as-a-field"],
)
async def test_odd_bodies_of_a_form_post_are_never_a_500(
    edge: httpx.AsyncClient, content_type: str, body: bytes
) -> None:
    cookies = await csrf(edge)
    r = await edge.post(
        "/sign-in",
        content=body.replace(b"{csrf}", cookies["bs_csrf"].encode()).replace(b"{{", b"{").replace(b"}}", b"}"),
        headers={**ORIGIN, **cookie_header(cookies), "content-type": content_type},
    )
    assert r.status_code in (200, 400, 403), r.status_code  # the form again, or a refusal page
    assert r.headers["content-type"].startswith("text/html")
    assert "Traceback" not in r.text


async def test_a_form_post_of_thousands_of_fields_is_a_413_page_at_once(edge: httpx.AsyncClient) -> None:
    """A body of 300,000 empty fields (under the 1 MiB limit) took the page service a second and a
    half of its event loop to split, and the parser kept the last 1,024 bodies in memory."""
    cookies = await csrf(edge)
    r = await edge.post(
        "/sign-in",
        content=f"csrf={cookies['bs_csrf']}&".encode() + b"a=&" * 300_000,
        headers={**ORIGIN, **cookie_header(cookies), "content-type": "application/x-www-form-urlencoded"},
    )
    assert "too large" in assert_error_page(r, 413)
