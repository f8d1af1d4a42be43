"""Hostile input to every ops route, through https://localhost: the API answers the one JSON error
shape (a field error where a field is at fault), the console an HTML error page — never a 500, never
plain text, never a stack trace. Also: console posts need this site's Origin (or Referer), the API
takes no console cookie, the console has a strict CSP and expires a stale session cookie."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest

from blazing_service.identity import Identity, sign
from blazing_testing import edge_client, stack_env
from blazing_testing.accounts import admin_account, bearer

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
OPS = f"http://127.0.0.1:{ENV['OPS_PORT']}"
ORIGIN = {"origin": "https://localhost"}
SOME = "5b0e2c3a-0000-4000-8000-000000000000"  # a well-formed id nothing has
LONG = "x" * 10_000
HUGE = str(2**64)


@pytest.fixture(scope="module")
async def token() -> str:
    # auth throttles failed sign-ins per address: this client is an address of its own
    own = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    async with httpx.AsyncClient(timeout=30, headers={"x-forwarded-for": own}) as client:
        _, session = await admin_account(client, base=AUTH)
    return str(session["access_token"])


def console(token: str) -> dict[str, str]:
    return {"cookie": f"bs_ops={token}"}


def assert_json_error(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    assert body["status"] == "error"
    assert body["message"]
    if field is not None:
        assert field in body.get("errors", {}), body
    return body


def assert_error_page(r: httpx.Response, *statuses: int) -> str:
    assert r.status_code in statuses, (r.status_code, r.headers.get("location"), r.text[:500])
    assert r.headers["content-type"].startswith("text/html"), r.headers["content-type"]
    assert "Traceback" not in r.text
    assert "Internal server error" not in r.text
    return r.text


# ------------------------------------------------------------------ the API


FILTER_QUERIES = [
    ("since", "bad"),
    ("since", "99999-01-01T00:00:00Z"),
    ("until", HUGE),
    ("since", "0.5"),  # a number of seconds was taken as 1970 (schemathesis: ST201)
    ("until", "1764547200"),
    ("since", "2026-11-29T00:00:00"),  # no offset: which time zone's midnight?
    ("until", ""),  # not an instant either (schemathesis: ST201)
    ("status", "zz"),
    ("source", "zz"),
    ("topic", LONG),
    ("topic", "a\x1bb"),
    ("error", "a\r\nb"),
    ("consumer_group", "\x7f"),
    ("aggregate_id", LONG),
]
LISTINGS = ["/ops/api/dead-letters", "/ops/api/groups"]


@pytest.mark.parametrize("path", LISTINGS)
@pytest.mark.parametrize(("name", "value"), FILTER_QUERIES)
async def test_api_filters_refuse_hostile_values_with_a_field_error(
    edge: httpx.AsyncClient, token: str, path: str, name: str, value: str
) -> None:
    r = await edge.get(path, params={name: value}, headers=bearer(token))
    if value == LONG and r.status_code == 414:  # a 10,000-character URL may be refused at the edge
        assert_json_error(r, 414)
        return
    assert_json_error(r, 400, name)


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/ops/api/dead-letters", "offset", HUGE),
        ("/ops/api/dead-letters", "offset", str(2**63)),
        ("/ops/api/dead-letters", "offset", "-1"),
        ("/ops/api/dead-letters", "offset", "abc"),
        ("/ops/api/dead-letters", "limit", "0"),
        ("/ops/api/dead-letters", "limit", "101"),
        ("/ops/api/dead-letters", "limit", HUGE),
        ("/ops/api/audit", "offset", HUGE),
        ("/ops/api/audit", "limit", "1e3"),
        ("/ops/api/audit", "action", "x" * 1000),
    ],
)
async def test_api_paging_refuses_out_of_range_values(
    edge: httpx.AsyncClient, token: str, path: str, name: str, value: str
) -> None:
    assert_json_error(await edge.get(path, params={name: value}, headers=bearer(token)), 400, name)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rate_per_s": 0}, "rate_per_s"),
        ({"rate_per_s": -5}, "rate_per_s"),
        ({"rate_per_s": 10**30}, "rate_per_s"),
        ({"rate_per_s": 10_001}, "rate_per_s"),
        ({"rate_per_s": 1.5}, "rate_per_s"),
        ({"rate_per_s": "5"}, "rate_per_s"),
        ({"filter": {"topic": LONG}}, "filter.topic"),
        ({"filter": {"topic": "a\nb"}}, "filter.topic"),
        ({"filter": {"error": "\x00"}}, "filter.error"),
        ({"filter": {"ids": ["not-a-uuid"]}}, "filter.ids[0]"),
        ({"filter": {"ids": [SOME] * 1001}}, "filter.ids"),
        ({"filter": {"since": "yesterday"}}, "filter.since"),
        ({"filter": {"status": "gone"}}, "filter.status"),
        ({"filter": {"nope": 1}}, "filter.nope"),
    ],
)
async def test_replay_refuses_hostile_bodies_with_a_field_error(
    edge: httpx.AsyncClient, token: str, body: dict[str, Any], field: str
) -> None:
    selection = {"filter": {"consumer_group": f"nobody-{uuid.uuid4().hex[:8]}"}, **body}
    assert_json_error(await edge.post("/ops/api/replays", json=selection, headers=bearer(token)), 400, field)


@pytest.mark.parametrize("body", [{}, {"dry_run": True}, {"filter": {}}, {"filter": {"ids": None}, "rate_per_s": 5}])
async def test_a_replay_without_a_filter_is_refused_not_everything(
    edge: httpx.AsyncClient, token: str, body: dict[str, Any]
) -> None:
    """It replayed (or counted) every dead letter there was; discard already refused an empty filter."""
    assert_json_error(await edge.post("/ops/api/replays", json=body, headers=bearer(token)), 400, "filter")


async def test_the_console_asks_for_a_selection_before_a_replay(edge: httpx.AsyncClient, token: str) -> None:
    jobs = len((await edge.get("/ops/api/replays", headers=bearer(token))).json()["jobs"])
    for form in ({}, {"dry_run": "1"}, {"ids": "typo"}):  # a misspelt field selects nothing either
        r = await edge.post("/ops/actions/replay", data=form, headers={**ORIGIN, **console(token)})
        assert r.status_code == 302, r.text
        assert "notice=select-first" in r.headers["location"], r.headers["location"]
    assert len((await edge.get("/ops/api/replays", headers=bearer(token))).json()["jobs"]) == jobs


async def test_a_replay_that_matches_nothing_replayable_is_a_422_and_queues_no_job(
    edge: httpx.AsyncClient, token: str
) -> None:
    """It queued a job of 0 that completed at once, as if something had been sent."""
    jobs = len((await edge.get("/ops/api/replays", headers=bearer(token))).json()["jobs"])
    nobody = {"consumer_group": f"nobody-{uuid.uuid4().hex[:8]}"}
    for selection in ({"ids": [str(uuid.uuid4())]}, nobody):
        r = await edge.post("/ops/api/replays", json={"filter": selection}, headers=bearer(token))
        assert_json_error(r, 422)
        assert "Nothing to replay" in r.json()["message"]
    dry = await edge.post("/ops/api/replays", json={"filter": nobody, "dry_run": True}, headers=bearer(token))
    assert (dry.status_code, dry.json()["count"]) == (200, 0), "a dry run still counts"
    r = await edge.post("/ops/actions/replay", data=nobody, headers={**ORIGIN, **console(token)})
    assert (r.status_code, r.headers.get("location")) == (
        302,
        f"/ops/?consumer_group={nobody['consumer_group']}&notice=nothing-to-replay",
    )
    page = await edge.get(r.headers["location"], headers=console(token))
    assert "Nothing to replay" in page.text
    assert len((await edge.get("/ops/api/replays", headers=bearer(token))).json()["jobs"]) == jobs


@pytest.mark.parametrize(
    "raw",
    [b'{"rate_per_s": NaN}', b'{"rate_per_s": 1e309}', b'{"filter": ' * 40 + b"{}" + b"}" * 40, b"[]", b""],
    ids=["nan", "overflowing-number", "deep", "not-an-object", "empty"],
)
async def test_replay_and_discard_refuse_malformed_json(edge: httpx.AsyncClient, token: str, raw: bytes) -> None:
    for path in ("/ops/api/replays", "/ops/api/discard"):
        r = await edge.post(path, content=raw, headers={**bearer(token), "content-type": "application/json"})
        assert_json_error(r, 400)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"filter": {"topic": "a\x1bb"}}, "filter.topic"),
        ({"filter": {"ids": ["x"]}}, "filter.ids[0]"),
        ({"filter": {"aggregate_id": LONG}}, "filter.aggregate_id"),
        ({}, "filter"),
    ],
)
async def test_discard_refuses_hostile_bodies_with_a_field_error(
    edge: httpx.AsyncClient, token: str, body: dict[str, Any], field: str
) -> None:
    assert_json_error(await edge.post("/ops/api/discard", json=body, headers=bearer(token)), 400, field)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/ops/api/dead-letters/not-a-uuid", 404),
        ("GET", f"/ops/api/dead-letters/{SOME}", 404),
        ("GET", f"/ops/api/replays/{SOME}", 404),
        ("POST", f"/ops/api/replays/{SOME}/cancel", 404),
        ("POST", f"/ops/api/replays/{SOME}/explode", 404),
        ("GET", "/ops/api/nothing-here", 404),
        ("DELETE", "/ops/api/dead-letters", 405),
        ("POST", "/ops/api/replays", 415),  # not JSON
    ],
)
async def test_api_unknown_ids_paths_and_methods_are_the_json_shape(
    edge: httpx.AsyncClient, token: str, method: str, path: str, status: int
) -> None:
    r = await edge.request(method, path, headers=bearer(token), content=b"x=1" if method == "POST" else None)
    assert_json_error(r, status)


async def test_the_api_does_not_act_for_the_console_cookie(edge: httpx.AsyncClient, token: str) -> None:
    r = await edge.get("/ops/api/dead-letters", headers=console(token))
    assert_json_error(r, 401)
    both = await edge.get("/ops/api/dead-letters", headers={**console(token), **bearer(token)})
    assert_json_error(both, 401)
    posted = await edge.post("/ops/api/replays", json={"dry_run": True}, headers=console(token))
    assert_json_error(posted, 401)
    # straight to the service, with an identity correctly signed for whatever the cookie was
    admin = Identity(user_id=uuid.uuid4(), permissions=100)
    async with httpx.AsyncClient(base_url=OPS, timeout=10) as direct:
        signed = sign(admin, ENV["GATEWAY_IDENTITY_SECRET"])
        assert (await direct.get("/ops/api/dead-letters", headers=signed)).status_code == 200
        refused = await direct.get("/ops/api/dead-letters", headers={**signed, **console(token)})
        assert_json_error(refused, 401)
    assert (await edge.get("/ops/api/dead-letters", headers=bearer(token))).status_code == 200


# ------------------------------------------------------------------ the console


@pytest.mark.parametrize(
    "query",
    [
        {"offset": "abc"},
        {"offset": "-1"},
        {"offset": HUGE},
        {"offset": "\uff11"},  # a full-width 1, which int() reads as 1
        {"offset": "1_0"},
        {"since": "bad"},
        {"until": "99999-12-31"},
        {"status": "zz"},
        {"source": "zz"},
        {"topic": "x" * 1000},
        {"error": "a\x1bb"},
        {"aggregate_id": "\u0085next-line"},
    ],
    ids=lambda q: "-".join(f"{k}={v[:12]}" for k, v in q.items()),
)
async def test_console_filters_refuse_hostile_values_with_an_error_page(token: str, query: dict[str, str]) -> None:
    # straight to the service as the gateway forwards a console page (the edge itself may refuse a
    # control character in a query before it reaches the console)
    admin = sign(Identity(user_id=uuid.uuid4(), permissions=100), ENV["GATEWAY_IDENTITY_SECRET"])
    async with httpx.AsyncClient(base_url=OPS, timeout=10) as direct:
        r = await direct.get("/ops/", params=query, headers=admin)
    text = assert_error_page(r, 400)
    assert next(iter(query)) in text, "the page names the field at fault"
    async with edge_client() as edge:
        through = await edge.get("/ops/", params=query, headers=console(token))
    assert through.status_code == 400


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/ops/actions/discard", {"id": "not-a-uuid"}),
        ("/ops/actions/replay", {"id": "not-a-uuid"}),
        ("/ops/actions/discard", {"topic": "a\x00b"}),
        ("/ops/actions/discard", {"consumer_group": LONG}),
        ("/ops/actions/discard", {"since": "tomorrow"}),
        ("/ops/actions/replay", {"status": "zz"}),
        ("/ops/actions/replay", {"consumer_group": "x", "rate_per_s": "0"}),
        ("/ops/actions/replay", {"consumer_group": "x", "rate_per_s": "-3"}),
        ("/ops/actions/replay", {"consumer_group": "x", "rate_per_s": HUGE}),
        ("/ops/actions/replay", {"consumer_group": "x", "rate_per_s": "NaN"}),
        ("/ops/actions/replay", {"consumer_group": "x", "rate_per_s": "1e309"}),
        ("/ops/actions/replay", {"consumer_group": "x", "rate_per_s": "2.5"}),
        ("/ops/actions/replay", {"consumer_group": "x", "rate_per_s": "\u0665"}),  # an Arabic-Indic 5
        ("/ops/actions/replay", {"consumer_group": "x", "rate_per_s": "1_0"}),
    ],
)
async def test_console_actions_refuse_hostile_values_with_an_error_page(
    edge: httpx.AsyncClient, token: str, path: str, form: dict[str, str]
) -> None:
    r = await edge.post(path, data=form, headers={**ORIGIN, **console(token)})
    text = assert_error_page(r, 400)
    assert next(iter(k for k in form if k != "consumer_group"), "consumer_group") in text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/ops/dead-letters/not-a-uuid", 404),
        ("GET", f"/ops/dead-letters/{SOME}", 404),
        ("GET", "/ops/nothing-here", 404),
        ("POST", f"/ops/replays/{SOME}/explode", 404),
        ("DELETE", "/ops/", 405),
    ],
)
async def test_console_unknown_ids_paths_actions_and_methods_are_an_error_page(
    edge: httpx.AsyncClient, token: str, method: str, path: str, status: int
) -> None:
    r = await edge.request(method, path, headers={**ORIGIN, **console(token)})
    assert_error_page(r, status)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"origin": "null"},
        {"origin": "https://evil.example"},
        {"referer": "https://evil.example/"},
        {"origin": "https://localhost:8443"},
    ],
    ids=["none", "null", "other-site", "other-referer", "other-port"],
)
async def test_console_posts_need_this_sites_origin(
    edge: httpx.AsyncClient, token: str, headers: dict[str, str]
) -> None:
    group = {"consumer_group": f"nobody-{uuid.uuid4().hex[:8]}"}
    for path, form in [
        ("/ops/actions/replay", {**group, "dry_run": "1"}),
        ("/ops/actions/discard", group),
        (f"/ops/replays/{SOME}/cancel", {}),
        ("/ops/sign-out", {}),
        ("/ops/sign-in", {"email": "a@example.org", "password": "x"}),
    ]:
        r = await edge.post(path, data=form, headers={**headers, **console(token)})
        assert "not sent from the console" in assert_error_page(r, 403), path
    ours = await edge.post(
        "/ops/actions/replay",
        data={**group, "dry_run": "1"},
        headers={"referer": "https://localhost/ops/", **console(token)},
    )
    assert ours.status_code == 303 or ours.status_code == 302, "our own page as the Referer is enough"


@pytest.mark.parametrize("path", ["/ops/sign-in", "/ops/", "/ops/static/ops.css", "/ops/nothing-here"])
async def test_the_console_has_a_strict_csp(edge: httpx.AsyncClient, path: str) -> None:
    r = await edge.get(path)
    csp = r.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'none'", "style-src 'self'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp
    signed_out = (await edge.get("/ops/sign-in")).text
    assert "<style" not in signed_out
    assert "style=" not in signed_out


@pytest.mark.parametrize("path", ["/ops/sign-in", "/ops/", "/ops/replays"])
async def test_a_stale_console_cookie_is_expired_and_the_sign_in_page_shown(edge: httpx.AsyncClient, path: str) -> None:
    r = await edge.get(path, headers={"cookie": "bs_ops=not-a-token"})
    assert r.status_code in (200, 302)
    if r.status_code == 302:
        assert r.headers["location"] == "/ops/sign-in"
    cleared = [c for c in r.headers.get_list("set-cookie") if c.startswith("bs_ops=")]
    assert len(cleared) == 1, r.headers
    attributes = {a.strip().split("=")[0].lower() for a in cleared[0].split(";")}
    assert {"max-age", "path", "httponly", "secure", "samesite"} <= attributes
    assert "max-age=0" in cleared[0].lower().replace(" ", "")
    assert "path=/ops" in cleared[0].lower().replace(" ", "")


async def test_the_notice_shows_only_the_consoles_own_words(edge: httpx.AsyncClient, token: str) -> None:
    spoofed = await edge.get(
        "/ops/", params={"notice": "Compromised: e-mail your password to x"}, headers=console(token)
    )
    assert spoofed.status_code == 200
    assert "Compromised" not in spoofed.text
    ours = await edge.get("/ops/", params={"notice": "discarded", "count": "3"}, headers=console(token))
    assert "3 dead letter(s) discarded" in ours.text
    odd = await edge.get("/ops/", params={"notice": "discarded", "count": "<b>x"}, headers=console(token))
    assert odd.status_code == 200
    assert "dead letter(s) discarded" not in odd.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "a\x00@example.org"), ("email", LONG), ("email", "a\r\n@example.org"), ("password", LONG)],
)
async def test_console_sign_in_refuses_hostile_values_with_the_form(
    edge: httpx.AsyncClient, field: str, value: str
) -> None:
    form = {"email": "someone@example.org", "password": "x", field: value}
    r = await edge.post("/ops/sign-in", data=form, headers=ORIGIN)
    assert "Sign in to the ops console" in assert_error_page(r, 400, 401)
