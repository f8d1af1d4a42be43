"""The users service against the running stack: authorization on every route, admin-created users,
permissions reaching tokens, sign-up while users is down, the balance read model, erasure."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import psycopg
import pytest

from blazing_contracts import CreateUser, decode_event, make_command, make_event
from blazing_contracts.events.auth import AccountActivated
from blazing_contracts.events.transaction import TransactionCreated
from blazing_service.identity import Identity, sign
from blazing_testing import REPO_ROOT, stack_env
from blazing_testing.accounts import PASSWORD, activated_account, admin_account, bearer, mail_to, sign_up
from blazing_testing.commands import command_bus
from blazing_testing.kafka import KafkaTail, publish
from blazing_testing.maildir import find, text_and_html
from blazing_testing.stack import stopped

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
USERS = f"http://127.0.0.1:{ENV['USERS_PORT']}"
SECRET = ENV["GATEWAY_IDENTITY_SECRET"]


def as_user(user_id: uuid.UUID, permissions: int = 1) -> dict[str, str]:
    return sign(Identity(user_id=user_id, permissions=permissions), SECRET)


async def signed_up(client: httpx.AsyncClient) -> tuple[str, uuid.UUID, dict[str, Any]]:
    email, session = await activated_account(client, base=AUTH, password=PASSWORD, prefix="users")
    return email, uuid.UUID(session["user"]["id"]), session


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as c:
        yield c


async def test_a_user_never_reaches_another_users_data(client: httpx.AsyncClient) -> None:
    _, alice, _ = await signed_up(client)
    _, bob, _ = await signed_up(client)
    assert (await client.get(f"{USERS}/api/v1/user/{alice}", headers=as_user(alice))).status_code == 200
    assert (await client.get(f"{USERS}/api/v1/user/{alice}", headers=as_user(bob))).status_code == 404
    assert (await client.delete(f"{USERS}/api/v1/user/{alice}", headers=as_user(bob))).status_code == 404
    # an admin claim counts only as far as the account holds it: bob is a basic user
    assert (await client.get(f"{USERS}/api/v1/user/{alice}", headers=as_user(bob, 10))).status_code == 404
    _, session = await admin_account(client, base=AUTH)
    admin = uuid.UUID(session["user"]["id"])
    assert (await client.get(f"{USERS}/api/v1/user/{alice}", headers=as_user(admin, 100))).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/user", {"email": "x@example.org", "first_name": "Xx", "last_name": "Yy"}),
        ("GET", "/api/v1/admin/users", None),
        ("PATCH", "/api/v1/admin/users/{id}/permissions", {"permissions": 10}),
    ],
)
async def test_admin_routes_refuse_basic_users_and_anonymous(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    user = uuid.uuid4()
    url = USERS + path.format(id=user)
    assert (await client.request(method, url, json=body)).status_code == 401
    forged = sign(Identity(user_id=user, permissions=100), "a-guessed-secret")
    assert (await client.request(method, url, json=body, headers=forged)).status_code == 401
    assert (await client.request(method, url, json=body, headers=as_user(user))).status_code == 403


async def test_only_a_super_admin_changes_permissions(client: httpx.AsyncClient) -> None:
    _, target, _ = await signed_up(client)
    _, session = await admin_account(client, base=AUTH)
    root = uuid.UUID(session["user"]["id"])
    url = f"{USERS}/api/v1/admin/users/{target}/permissions"
    assert (await client.patch(url, json={"permissions": 10}, headers=as_user(uuid.uuid4(), 10))).status_code == 403
    forged = await client.patch(url, json={"permissions": 10}, headers=as_user(uuid.uuid4(), 100))
    assert forged.status_code == 403, "a super admin claim without a super admin account"
    bad = await client.patch(url, json={"permissions": 7}, headers=as_user(root, 100))
    assert bad.status_code == 400
    assert bad.json()["errors"]["permissions"] == ["Invalid permission level. Must be 1, 10, 50, or 100"]
    ok = await client.patch(url, json={"permissions": 50}, headers=as_user(root, 100))
    assert (ok.status_code, ok.json()["message"]) == (200, "User permissions updated")
    assert ok.json()["user"]["permissions"] == 50


@pytest.mark.parametrize("route", ["/api/v1/user", "/api/v1/user/{id}"])
async def test_self_routes_need_an_identity(client: httpx.AsyncClient, route: str) -> None:
    assert (await client.get(USERS + route.format(id=uuid.uuid4()))).status_code == 401


async def test_make_admin_then_admin_creates_a_user_who_sets_a_password(
    client: httpx.AsyncClient, edge: httpx.AsyncClient
) -> None:
    admin_email, _admin_id, _ = await signed_up(client)
    made = await asyncio.to_thread(
        subprocess.run,
        ["make", "-s", "admin", f"EMAIL={admin_email}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    # the permission change travels users → Kafka → auth; the next token carries it
    for _ in range(100):
        session = (
            await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": admin_email, "password": PASSWORD})
        ).json()
        if session["user"]["permissions"] == 100:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("permissions_changed did not reach auth")
    headers = bearer(session["access_token"])

    email = f"created-{uuid.uuid4().hex[:10]}@example.org"
    created = await edge.post(
        "/api/v1/user", headers=headers, json={"email": email, "first_name": "Grace", "last_name": "Hopper"}
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["user"]["id"]
    listing = (await edge.get("/api/v1/admin/users", params={"q": email}, headers=headers)).json()
    assert listing["total"] == 1
    assert listing["items"][0]["id"] == user_id

    text, html = text_and_html(await mail_to(email, "Set up your password"))
    link = re.search(r"https://\S+/set-password\?user_id=([0-9a-f-]+)&code=([A-Za-z0-9]{40})", text)
    assert link, text
    assert link.group(1) == user_id
    assert "https://" in html
    check = await client.get(
        f"{AUTH}/api/v1/account/set-password-when-needed", params={"user_id": user_id, "hash": link.group(2)}
    )
    assert check.status_code == 200
    done = await client.post(
        f"{AUTH}/api/v1/account/set-password-when-needed",
        json={"user_id": user_id, "hash": link.group(2), "password": PASSWORD, "confirm_password": PASSWORD},
    )
    assert done.status_code == 200, done.text
    signed_in = await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert signed_in.status_code == 200


async def test_sign_up_while_users_is_down_answers_202_and_completes_later(
    client: httpx.AsyncClient, edge: httpx.AsyncClient
) -> None:
    email = f"late-{uuid.uuid4().hex[:10]}@example.org"
    async with stopped("svc-users"):
        r = await sign_up(client, email, base=AUTH)
        assert r.status_code == 202
    text, _ = text_and_html(await mail_to(email, "Activate"))
    code = re.search(r"code=([A-Za-z0-9]{40})", text).group(1)  # type: ignore[union-attr]
    assert (await client.post(f"{AUTH}/api/v1/account/activate-account", json={"code": code})).status_code == 200
    session = (await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})).json()
    headers = bearer(session["access_token"])
    for _ in range(100):
        profile = await edge.get("/api/v1/user", headers=headers)
        if profile.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert profile.json()["user"]["email"] == email
    await asyncio.sleep(1)
    assert len(find(ENV.maildir, lambda m: email in str(m["To"]) and "Activate" in str(m["Subject"]))) == 1


def income(user_id: uuid.UUID, version: int, balance: int, correlation_id: str) -> Any:
    """A transaction.created of the user's ledger stream at ``version``, the balance after it ``balance``."""
    return make_event(
        TransactionCreated(
            transaction_id=uuid.uuid4(),
            user_id=user_id,
            category_id=uuid.uuid4(),
            type="income",
            amount=100,
            memo="salary",
            occurred_on=date.today(),
            balance_after=balance,
        ),
        event_id=uuid.uuid4(),
        aggregate_id=str(user_id),
        aggregate_version=version,
        occurred_at=datetime.now(UTC),
        producer="ledger-test",
        correlation_id=correlation_id,
    )


async def test_balance_follows_the_ledgers_transaction_events(client: httpx.AsyncClient) -> None:
    _, user_id, _ = await signed_up(client)
    # v2 arrives late: ignored
    events = [income(user_id, v, balance, "balance-test") for v, balance in ((1, 100), (3, 300), (2, 200))]
    await publish(ENV.kafka_bootstrap, "transaction.events", events)
    for _ in range(100):
        profile = (await client.get(f"{USERS}/api/v1/user", headers=as_user(user_id))).json()["user"]
        if profile["balance"] == 300:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    assert (await client.get(f"{USERS}/api/v1/user", headers=as_user(user_id))).json()["user"]["balance"] == 300


async def test_deleting_a_user_erases_credentials_and_personal_data(
    client: httpx.AsyncClient, edge: httpx.AsyncClient
) -> None:
    email, user_id, session = await signed_up(client)
    headers = bearer(session["access_token"])
    assert (await edge.delete(f"/api/v1/user/{user_id}", headers=headers)).status_code == 200
    for _ in range(100):
        if (await edge.get("/api/v1/user", headers=headers)).status_code == 401:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("token still accepted")
    async with await psycopg.AsyncConnection.connect(ENV.database_url("auth")) as conn:
        assert await (await conn.execute("SELECT 1 FROM credentials WHERE user_id = %s", (user_id,))).fetchone() is None
        rows = await (
            await conn.execute("SELECT data::text FROM es_events WHERE stream_id = %s", (f"credential-{user_id}",))
        ).fetchall()
        assert rows
        assert all(email not in r[0] for r in rows)
    async with await psycopg.AsyncConnection.connect(ENV.database_url("users")) as conn:
        rows = await (
            await conn.execute("SELECT data::text FROM es_events WHERE stream_id = %s", (f"user-{user_id}",))
        ).fetchall()
        assert rows
        assert all(email not in r[0] for r in rows)
    assert (await client.get(f"{USERS}/api/v1/user/{user_id}", headers=as_user(user_id, 10))).status_code == 404
    again = await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert again.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/api/v1/user", {"first_name": "A"}, "first_name"),
        ("PATCH", "/api/v1/user", {"last_name": "L" * 51}, "last_name"),
        ("PATCH", "/api/v1/user", {}, "body"),
        ("PATCH", "/api/v1/user", {"balance": 5}, "balance"),
        ("PATCH", "/api/v1/user", {"first_name": 7}, "first_name"),
        ("PUT", "/api/v1/user", {"first_name": "Ada"}, "last_name"),
        ("POST", "/api/v1/user", {"email": "nope", "first_name": "Ada", "last_name": "Byron"}, "email"),
        (
            "POST",
            "/api/v1/user",
            {"email": "a@b.co", "first_name": "Ada", "last_name": "Byron", "permissions": 3},
            "permissions",
        ),
    ],
)
async def test_profile_validation_rules(
    client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    r = await client.request(method, f"{USERS}{path}", json=body, headers=as_user(uuid.uuid4(), 10))
    assert r.status_code == 400, r.text
    assert field in r.json()["errors"], r.json()


async def test_an_activation_that_arrives_before_the_profile_waits_for_it(client: httpx.AsyncClient) -> None:
    """Sign-up answered 202 (create_user still queued) and the owner activated at once: auth's
    account_activated reaches users before the profile exists — it is kept, not dead-lettered."""

    user_id = uuid.uuid4()
    activated = make_event(
        AccountActivated(user_id=user_id, method="activation_code"),
        event_id=uuid.uuid4(),
        aggregate_id=str(user_id),
        aggregate_version=2,
        occurred_at=datetime.now(UTC),
        producer="auth-test",
        correlation_id="early-activation",
    )
    await publish(ENV.kafka_bootstrap, "auth.events", [activated])
    await asyncio.sleep(3)  # users has seen it (and would have given up on it by now)
    command = make_command(
        CreateUser(user_id=user_id, email=f"early-{user_id.hex[:10]}@example.org", first_name="Ada", last_name="B"),
        job_id=user_id,
        created_at=datetime.now(UTC),
        correlation_id="early-activation",
    )
    async with command_bus() as bus:
        assert await bus.call(command, 10) is not None
    profile = (await client.get(f"{USERS}/api/v1/user", headers=as_user(user_id))).json()["user"]
    assert profile["activated"] is True


async def test_every_stored_user_event_is_published_with_its_stream_version(client: httpx.AsyncClient) -> None:
    """aggregate_version is the user stream's version everywhere: each stored event has exactly one
    published copy carrying its version — user.balance_updated included (it was published without a
    stored event, as version 0)."""
    names = {
        "created": "user.created",
        "activated": "user.activated",
        "profile_updated": "user.profile_updated",
        "balance_changed": "user.balance_updated",
    }
    async with KafkaTail(ENV.kafka_bootstrap, "user.events") as tail:
        _, user_id, _ = await signed_up(client)
        # auth's user.activated reaches users through Kafka: the rename waits for it, or the stream's
        # order (which this test names) would be the race's
        for _ in range(100):
            profile = await client.get(f"{USERS}/api/v1/user", headers=as_user(user_id))
            if profile.status_code == 200 and profile.json()["user"]["activated"]:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("user.activated never reached the users service")
        renamed = await client.patch(f"{USERS}/api/v1/user", json={"first_name": "Renamed"}, headers=as_user(user_id))
        assert renamed.status_code == 200, renamed.text
        events = [income(user_id, version, balance, "stream-versions") for version, balance in ((1, 100), (2, 250))]
        await publish(ENV.kafka_bootstrap, "transaction.events", events)

        def mine(records: list[Any]) -> list[Any]:
            return [e for e in (decode_event(r.value) for r in records) if e.aggregate_id == str(user_id)]

        await tail.collect(lambda records: sum(e.event_type == "user.balance_updated" for e in mine(records)) >= 2)
        await tail.settle(1.0)
        published = sorted((e.aggregate_version, e.event_type) for e in mine(tail.records))
    async with await psycopg.AsyncConnection.connect(ENV.database_url("users")) as conn:
        stored = await (
            await conn.execute(
                "SELECT version, event_type FROM es_events WHERE stream_id = %s ORDER BY version", (f"user-{user_id}",)
            )
        ).fetchall()
    assert published == [(version, names[kind]) for version, kind in stored]
    assert [kind for _, kind in stored] == [
        "created",
        "activated",
        "profile_updated",
        "balance_changed",
        "balance_changed",
    ]
