"""The typed API client (adapters/api.py) against answers the test gives: the request each method
sends, the result it decodes, and each kind of answer raised as the application's error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from blazing_app import ApplicationError, Browser, Invalid, NotFound, Refused, Unauthenticated, Unavailable
from web.adapters.api import HttpApi
from web.application.ports import Caller, NewTransaction, SessionEnded, Tokens

ME = Caller({"x-identity": "signed", "x-identity-signature": "mac"})
Answer = Callable[[httpx.Request], httpx.Response]


def api(answer: Answer, seen: list[httpx.Request] | None = None) -> HttpApi:
    def handle(request: httpx.Request) -> httpx.Response:
        (seen if seen is not None else []).append(request)
        return answer(request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return HttpApi(client, auth_url="http://auth", users_url="http://users", ledger_url="http://ledger")


def error(status: int, message: str, **errors: list[str]) -> Answer:
    body: dict[str, Any] = {"status": "error", "message": message} | ({"errors": errors} if errors else {})
    return lambda _: httpx.Response(status, json=body)


async def test_each_call_goes_to_its_service_with_the_callers_identity_and_decodes_its_result() -> None:
    seen: list[httpx.Request] = []
    listing = {
        "status": "success",
        "items": [
            {
                "id": "t1",
                "category_id": "c1",
                "type": "income",
                "amount": 1250,
                "memo": "pay",
                "occurred_on": "2026-11-30",
                "created_at": "2026-11-30T12:00:00Z",
            }
        ],
        "total": 7,
        "limit": 100,
        "offset": 5,
    }
    client = api(lambda _: httpx.Response(200, json=listing), seen)
    got = await client.transactions(ME, {"limit": 100, "type": "income", "offset": "5"})
    assert (got.total, got.offset, got.items[0].amount, got.items[0].description) == (7, 5, 1250, None)
    [request] = seen
    assert (request.method, request.url.host, request.url.path) == ("GET", "ledger", "/api/v1/transactions")
    assert dict(request.url.params) == {"limit": "100", "type": "income", "offset": "5"}
    assert request.headers["x-identity"] == "signed"
    assert request.headers["x-identity-signature"] == "mac"


async def test_a_new_transaction_is_sent_without_the_fields_the_form_left_empty() -> None:
    seen: list[httpx.Request] = []
    client = api(lambda _: httpx.Response(201, json={"status": "success"}), seen)
    await client.create_transaction(ME, NewTransaction(category_id="c1", type="expense", amount=5, memo="tea"))
    await client.update_transaction(
        ME, "t1", NewTransaction(category_id="c1", type="expense", amount=5, memo="tea", description="d")
    )
    assert [json.loads(r.content) for r in seen] == [
        {"category_id": "c1", "type": "expense", "amount": 5, "memo": "tea"},
        {"category_id": "c1", "type": "expense", "amount": 5, "memo": "tea", "description": "d"},
    ]
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/api/v1/transactions"),
        ("PATCH", "/api/v1/transactions/t1"),
    ]


async def test_sign_in_passes_the_browser_on_and_reads_the_session() -> None:
    seen: list[httpx.Request] = []
    body = {"status": "success", "access_token": "tok", "token": "tok", "expires_in": 900, "user": {}}
    client = api(lambda _: httpx.Response(200, json=body), seen)
    assert await client.sign_in("a@example.org", "pw", Browser(forwarded_for="203.0.113.1", user_agent="ua")) == (
        Tokens(access_token="tok", expires_in=900)
    )
    assert (seen[0].headers["x-forwarded-for"], seen[0].headers["user-agent"]) == ("203.0.113.1", "ua")
    assert "x-identity" not in seen[0].headers, "an anonymous call carries no identity"


async def test_sign_in_passes_a_browser_agent_that_is_not_ascii_on_as_utf8() -> None:
    """httpx encodes text headers as ASCII: a browser whose agent had any other character could not
    sign in (the page answered 500)."""
    seen: list[httpx.Request] = []
    body = {"status": "success", "access_token": "tok", "token": "tok", "expires_in": 900, "user": {}}
    client = api(lambda _: httpx.Response(200, json=body), seen)
    browser = Browser(forwarded_for="203.0.113.1", user_agent="Café Browser ☀")
    assert await client.sign_in("a@example.org", "pw", browser) == Tokens(access_token="tok", expires_in=900)
    assert dict(seen[0].headers.raw)[b"user-agent"] == "Café Browser ☀".encode()


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (error(400, "Validation failed", name=["Too long"]), Invalid),
        (error(404, "Category not found"), NotFound),
        (error(422, "Below zero"), Refused),
        (error(401, "Invalid or expired token"), SessionEnded),
        (lambda _: httpx.Response(503, text="down"), Unavailable),
        (lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused", request=request)), Unavailable),
        (lambda request: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=request)), Unavailable),
    ],
)
async def test_every_answer_but_success_is_raised_as_the_applications_error(answer: Answer, raised: type) -> None:
    with pytest.raises(raised):
        await api(answer).create_category(ME, "Food", None)


async def test_an_anonymous_401_is_a_refusal_not_an_ended_session() -> None:
    with pytest.raises(Unauthenticated) as caught:
        await api(error(401, "Invalid email or password")).sign_in(
            "a@example.org", "pw", Browser(forwarded_for="", user_agent="")
        )
    assert not isinstance(caught.value, SessionEnded)
    assert caught.value.message == "Invalid email or password"


async def test_sign_up_succeeds_only_with_created_or_accepted() -> None:
    await api(lambda _: httpx.Response(202, json={"status": "success"})).sign_up("A", "B", "a@x.org", "p", "p")
    with pytest.raises(ApplicationError, match=r"\?"):  # the form shows its message
        await api(lambda _: httpx.Response(200, json={"status": "success", "message": "?"})).sign_up(
            "A", "B", "a@x.org", "p", "p"
        )


async def test_signing_out_ignores_what_auth_says_short_of_failing() -> None:
    await api(error(403, "Forbidden")).sign_out(ME)
    with pytest.raises(SessionEnded):
        await api(error(401, "Session ended")).sign_out(ME)
    with pytest.raises(Unavailable):
        await api(lambda _: httpx.Response(500)).sign_out(ME)
