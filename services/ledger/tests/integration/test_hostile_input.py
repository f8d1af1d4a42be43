"""Hostile input on every ledger route (issue #17): each gets a 4xx in the one error shape, never a
500, and nothing is written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from blazing_testing import edge_client, stack_env
from blazing_testing.accounts import activated_account

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
HUGE = "15236270236553154560"


@pytest.fixture(scope="module")
async def ctx() -> AsyncIterator[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=30) as direct:
        _email, session = await activated_account(direct, base=AUTH, prefix="ledger-hostile")
    headers = {"authorization": f"Bearer {session['access_token']}"}
    async with edge_client() as client:
        r = await client.post("/api/v1/categories", json={"name": "Salary"}, headers=headers)
        category = r.json()["category"]["id"]
        r = await client.post(
            "/api/v1/transactions",
            json={"category_id": category, "type": "income", "amount": 500, "memo": "pay"},
            headers=headers,
        )
        yield {"client": client, "headers": headers, "category": category, "tx": r.json()["transaction"]["id"]}


@pytest.mark.parametrize(
    "query",
    [
        f"offset={HUGE}",
        "offset=9223372036854775808",
        "offset=-1",
        "limit=1000",
        f"min_amount={HUGE}",
        f"max_amount={HUGE}",
        "from=bad",
        "to=2026-13-45",
        "category_id=zz",
        "type=gift",
        "sort=drop",
        "q=%00",
        "q=a%00b",
        "q=%ff",
    ],
)
async def test_listing_queries(ctx: dict[str, Any], query: str) -> None:
    r = await ctx["client"].get(f"/api/v1/transactions?{query}", headers=ctx["headers"])
    assert r.status_code == 400, r.text
    assert r.json()["status"] == "error"


@pytest.mark.parametrize("query", ["from=bad", "to=x", "from=2026-02-01&to=2026-01-01", "from=%00"])
async def test_report_queries(ctx: dict[str, Any], query: str) -> None:
    r = await ctx["client"].get(f"/api/v1/reports/monthly?{query}", headers=ctx["headers"])
    assert r.status_code == 400, r.text
    assert r.json()["status"] == "error"


@pytest.mark.parametrize(
    ("path", "query", "field"),
    [
        ("/api/v1/reports/monthly", "from=2026-02-01&to=2026-01-01", "from"),
        ("/api/v1/transactions", "from=2026-02-01&to=2026-01-01", "from"),
        ("/api/v1/transactions", "min_amount=500&max_amount=100", "min_amount"),
    ],
)
async def test_an_inverted_range_names_its_field(ctx: dict[str, Any], path: str, query: str, field: str) -> None:
    r = await ctx["client"].get(f"{path}?{query}", headers=ctx["headers"])
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "Validation failed"
    assert field in r.json()["errors"], r.text


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/categories", {"name": "a\u0000b"}, "name"),
        ("/api/v1/categories", {"name": "line\nbreak"}, "name"),
        ("/api/v1/categories", {"name": "\u202eevil"}, "name"),  # shown reversed: spoofed text
        ("/api/v1/categories", {"name": "\u200b"}, "name"),
        ("/api/v1/transactions", {"type": "income", "amount": 1, "memo": "pay\u2028day"}, "memo"),
        ("/api/v1/categories", {"name": "ok", "description": "x\u0000"}, "description"),
        ("/api/v1/transactions", {"type": "income", "amount": 1, "memo": "m\u0000"}, "memo"),
        ("/api/v1/transactions", {"type": "income", "amount": 1, "memo": "m\r\nX: y"}, "memo"),
        ("/api/v1/transactions", {"type": "income", "amount": 10**19, "memo": "m"}, "amount"),
        ("/api/v1/transactions", {"type": "income", "amount": 1, "memo": "m", "description": "\u0000"}, "description"),
    ],
)
async def test_bodies_with_nul_control_characters_or_huge_numbers(
    ctx: dict[str, Any], path: str, body: dict[str, Any], field: str
) -> None:
    if path.endswith("transactions"):
        body = {"category_id": ctx["category"], **body}
    r = await ctx["client"].post(path, json=body, headers=ctx["headers"])
    assert r.status_code == 400, r.text
    assert field in r.json()["errors"]


async def test_patch_bodies_are_checked_too(ctx: dict[str, Any]) -> None:
    r = await ctx["client"].patch(f"/api/v1/transactions/{ctx['tx']}", json={"memo": "\u0000"}, headers=ctx["headers"])
    assert r.status_code == 400
    assert "memo" in r.json()["errors"]
    r = await ctx["client"].patch(
        f"/api/v1/categories/{ctx['category']}", json={"name": "a\tb"}, headers=ctx["headers"]
    )
    assert r.status_code == 400
    assert "name" in r.json()["errors"]


async def test_a_description_keeps_its_line_breaks(ctx: dict[str, Any]) -> None:
    r = await ctx["client"].post(
        "/api/v1/categories",
        json={"name": f"multi-{uuid.uuid4().hex[:6]}", "description": "first line\nsecond line"},
        headers=ctx["headers"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["category"]["description"] == "first line\nsecond line"


async def test_deep_nesting_and_missing_fields(ctx: dict[str, Any]) -> None:
    deep = b'{"memo": ' + b"[" * 2000 + b"]" * 2000 + b"}"
    r = await ctx["client"].post(
        "/api/v1/transactions", content=deep, headers={**ctx["headers"], "content-type": "application/json"}
    )
    assert r.status_code == 400
    r = await ctx["client"].post("/api/v1/transactions", json={}, headers=ctx["headers"])
    assert set(r.json()["errors"]) == {"category_id", "type", "amount", "memo"}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/transactions/not-a-uuid",
        f"/api/v1/transactions/{HUGE}",
        "/api/v1/categories/%00",
        "/api/v1/categories/x%ffy",
    ],
)
async def test_bad_ids(ctx: dict[str, Any], path: str) -> None:
    r = await ctx["client"].get(path, headers=ctx["headers"])
    assert r.status_code in (400, 404), r.text
    assert r.json()["status"] == "error"


@pytest.mark.parametrize("value", ['"99999999999999999999999"', "W/", '"-1"', "abc"])
async def test_if_match_values(ctx: dict[str, Any], value: str) -> None:
    r = await ctx["client"].patch(
        f"/api/v1/categories/{ctx['category']}",
        json={"description": "d"},
        headers={**ctx["headers"], "if-match": value},
    )
    assert r.status_code in (400, 412), r.text
    assert r.json()["status"] == "error"


async def test_if_match_compares_strongly_and_takes_a_star(ctx: dict[str, Any]) -> None:
    """A weak tag was taken as a match, ``*`` was a 400 and an unquoted number an ETag (black-box
    review); RFC 9110: If-Match compares strongly, ``*`` matches what exists, an ETag is quoted."""
    client, headers, path = ctx["client"], ctx["headers"], f"/api/v1/categories/{ctx['category']}"
    etag = (await client.get(path, headers=headers)).headers["etag"]

    async def patched(value: str) -> httpx.Response:
        return await client.patch(path, json={"description": "d"}, headers={**headers, "if-match": value})

    assert (await patched(f"W/{etag}")).status_code == 412
    assert (await patched(etag.strip('"'))).status_code == 400
    star = await patched("*")
    assert star.status_code == 200, star.text
    assert (await patched(star.headers["etag"])).status_code == 200


async def test_the_categories_list_is_paginated_like_every_list(ctx: dict[str, Any]) -> None:
    """SPEC §4: lists take limit (≤ 100) and offset and answer total; ?limit=abc was ignored."""
    client, headers = ctx["client"], ctx["headers"]
    await client.post("/api/v1/categories", json={"name": f"Rent {uuid.uuid4().hex[:6]}"}, headers=headers)
    whole = (await client.get("/api/v1/categories", headers=headers)).json()
    assert (whole["limit"], whole["offset"], whole["total"]) == (100, 0, len(whole["items"]))
    assert whole["total"] >= 2
    second = (await client.get("/api/v1/categories?limit=1&offset=1", headers=headers)).json()
    assert second["items"] == whole["items"][1:2]
    assert second["total"] == whole["total"]
    for query in ("limit=abc", "limit=0", "limit=101", "offset=-1", f"offset={HUGE}"):
        r = await client.get(f"/api/v1/categories?{query}", headers=headers)
        assert r.status_code == 400, (query, r.text)
        assert query.split("=")[0] in r.json()["errors"], r.text
