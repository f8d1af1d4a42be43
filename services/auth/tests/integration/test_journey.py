"""The identity journey end to end: https://localhost (nginx → gateway) → auth, users, mailer."""

from __future__ import annotations

import asyncio
import gzip
import re
import uuid
from typing import Any

import httpx
import pytest

from blazing_testing import edge_client
from blazing_testing.accounts import PASSWORD, activated_account, bearer, mail_to, new_email, sign_up, sign_up_body
from blazing_testing.maildir import text_and_html

pytestmark = pytest.mark.integration
AUTH = USERS = ""  # both behind https://localhost


async def refused(client: httpx.AsyncClient, token: str) -> bool:
    return (await client.get("/api/v1/user", headers=bearer(token))).status_code == 401


def code_in(message: Any, name: str) -> str:
    text, _html = text_and_html(message)
    found = re.search(rf"{name}=([A-Za-z0-9]{{40}})", text) or re.search(r"\b([A-Za-z0-9]{40})\b", text)
    assert found, text
    return found.group(1)


async def activated_user(client: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    return await activated_account(client, prefix="journey")


async def test_the_whole_journey() -> None:
    async with edge_client() as client:
        email = new_email("journey")
        response = await sign_up(client, email)
        assert response.status_code == 201
        assert "user" not in response.json()

        # not activated yet: sign-in says so (403), with the right password only
        early = await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        assert early.status_code == 403

        activation = await mail_to(email, "Activate")
        code = code_in(activation, "code")
        not_checked = await client.post(f"{AUTH}/api/v1/account/verify-hash", json={"code": code})
        assert (not_checked.status_code, not_checked.json()["message"]) == (400, "Invalid code type")
        assert (await client.post(f"{AUTH}/api/v1/account/activate-account", json={"code": code})).status_code == 200
        again = await client.post(f"{AUTH}/api/v1/account/activate-account", json={"code": code})
        assert again.status_code == 400, "a code is single use"
        await mail_to(email, "activated")

        first = (await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})).json()
        assert first["user"]["email"] == email
        assert first["token_type"] == "Bearer"
        headers = bearer(first["access_token"])

        # refresh rotates
        refreshed = (
            await client.post(f"{AUTH}/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        ).json()
        assert refreshed["refresh_token"] != first["refresh_token"]
        headers = bearer(refreshed["access_token"])

        # profile read and update (the profile was created by create_user; activation reached users)
        profile = (await client.get(f"{USERS}/api/v1/user", headers=headers)).json()["user"]
        assert profile["email"] == email
        assert profile["balance"] == 0
        for _ in range(50):
            if (await client.get(f"{USERS}/api/v1/user", headers=headers)).json()["user"]["activated"]:
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("user.activated did not reach the profile")
        updated = await client.patch(f"{USERS}/api/v1/user", headers=headers, json={"first_name": "Augusta"})
        assert updated.json()["user"]["first_name"] == "Augusta"
        not_writable = await client.patch(f"{USERS}/api/v1/user", headers=headers, json={"balance": 1_000_000})
        assert not_writable.status_code == 400

        # a second session, then change password: the other session is revoked
        other = (await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})).json()
        assert (await client.post(f"{AUTH}/api/v1/password/change-password", headers=headers)).status_code == 200
        change_code = code_in(await mail_to(email, "Password change"), "code")
        new_password = "N3w!Passw0rd"
        changed = await client.post(
            f"{AUTH}/api/v1/password/verify-password-change",
            headers=headers,
            json={"code": change_code, "password": new_password, "confirm_password": new_password},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["sessions_revoked"] >= 1
        assert await refused(client, other["access_token"])
        assert not await refused(client, refreshed["access_token"])  # the current session survives

        # sign out: that token is refused afterwards
        assert (await client.post(f"{AUTH}/api/v1/auth/sign-out", headers=headers)).status_code == 200
        assert await refused(client, refreshed["access_token"])
        dead = await client.post(f"{AUTH}/api/v1/auth/refresh", json={"refresh_token": refreshed["refresh_token"]})
        assert dead.status_code == 401

        # forgot / reset
        assert (await client.post(f"{AUTH}/api/v1/account/forgot-password", json={"email": email})).status_code == 200
        reset_code = code_in(await mail_to(email, "Reset your password"), "code")
        final_password = "Th1rd!Passw0rd"
        reset = await client.post(
            f"{AUTH}/api/v1/account/reset-password",
            json={"code": reset_code, "password": final_password, "confirm_password": final_password},
        )
        assert reset.status_code == 200
        session = (
            await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": final_password})
        ).json()
        headers = bearer(session["access_token"])

        # delete: token refused, sign-in refused, profile gone
        me = (await client.get(f"{USERS}/api/v1/user", headers=headers)).json()["user"]
        assert (await client.delete(f"{USERS}/api/v1/user/{me['id']}", headers=headers)).status_code == 200
        for _ in range(100):
            if await refused(client, session["access_token"]):
                break
            await asyncio.sleep(0.1)
        else:
            pytest.fail("the deleted user's token still works")
        gone = await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": final_password})
        assert gone.status_code == 401


async def test_refresh_token_reuse_revokes_the_whole_session() -> None:
    async with edge_client() as client:
        _email, session = await activated_user(client)
        rotated = (
            await client.post(f"{AUTH}/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        ).json()
        reused = await client.post(f"{AUTH}/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert reused.status_code == 401
        assert "reuse" in reused.json()["message"]
        assert await refused(client, rotated["access_token"])
        later = await client.post(f"{AUTH}/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
        assert later.status_code == 401


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/sign-up", "/api/v1/account/forgot-password", "/api/v1/account/resend-activation"]
)
async def test_known_and_unknown_emails_get_the_same_answer(path: str) -> None:
    async with edge_client() as client:
        known, _ = await activated_user(client)
        unknown = new_email("journey")

        def body(email: str) -> dict[str, str]:
            return sign_up_body(email) if path.endswith("sign-up") else {"email": email}

        a = await client.post(f"{AUTH}{path}", json=body(known))
        b = await client.post(f"{AUTH}{path}", json=body(unknown))
        assert (a.status_code, a.json()) == (b.status_code, b.json())
        if path.endswith("sign-up"):
            await mail_to(known, "already have")


async def test_sixth_wrong_password_locks_and_the_right_one_is_refused_meanwhile() -> None:
    async with edge_client() as client:
        email, _ = await activated_user(client)
        statuses = []
        for _ in range(6):
            r = await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": "Wr0ng!Passw0rd"})
            statuses.append((r.status_code, r.json()["message"]))
        assert set(statuses) == {(401, "Invalid email or password")}
        locked = await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        assert (locked.status_code, locked.json()["message"]) == (401, "Invalid email or password")
        await mail_to(email, "locked")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("password", "short"),
        ("password", "alllowercase1!"),
        ("password", "ALLUPPERCASE1!"),
        ("password", "NoDigits!!"),
        ("password", "NoSpecial123"),
        ("password", "Aa1!" * 33),
        ("confirm_password", "Different1!"),
        ("first_name", "A"),
        ("last_name", "L" * 51),
        ("email", "x" * 95 + "@e.org"),
    ],
)
async def test_sign_up_validation_rules(field: str, value: str) -> None:
    body = sign_up_body(new_email("journey")) | {field: value}
    if field == "password":
        body["confirm_password"] = value  # the password itself is refused, not a mismatch
    async with edge_client() as client:
        r = await client.post(f"{AUTH}/api/v1/auth/sign-up", json=body)
    assert r.status_code == 400
    assert r.json()["message"] == "Validation failed"
    assert field in r.json()["errors"]


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"{not json", {"content-type": "application/json"}, 400),
        (b'{"email": 5, "password": "x"}', {"content-type": "application/json"}, 400),
        (b'{"email": "a@b.co", "password": "x"}', {"content-type": "text/plain"}, 415),
        (
            gzip.compress(b'{"email": "a@b.co", "password": "x"}'),
            {"content-type": "application/json", "content-encoding": "gzip"},
            415,
        ),
        ('{"email": "a@b.co"}'.encode("utf-16"), {"content-type": "application/json; charset=utf-16"}, 415),
        (b'{"email": "' + b"a" * 2_000_000 + b'"}', {"content-type": "application/json"}, 413),
    ],
)
async def test_bad_bodies_are_clear_errors(content: bytes, headers: dict[str, str], status: int) -> None:
    async with edge_client() as client:
        r = await client.post(f"{AUTH}/api/v1/auth/sign-in", content=content, headers=headers)
    assert r.status_code == status
    assert r.json()["status"] == "error"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/api/v1/account/reset-password",
            {"code": "x" * 40, "password": "weak", "confirm_password": "weak"},
            "password",
        ),
        (
            "/api/v1/account/reset-password",
            {"code": "short", "password": PASSWORD, "confirm_password": PASSWORD},
            "code",
        ),
        (
            "/api/v1/account/reset-password",
            {"code": "x" * 40, "password": PASSWORD, "confirm_password": "Other!1aa"},
            "confirm_password",
        ),
        (
            "/api/v1/account/set-password-when-needed",
            {
                "user_id": str(uuid.uuid4()),
                "hash": "x" * 40,
                "password": "nodigits!A",
                "confirm_password": "nodigits!A",
            },
            "password",
        ),
        (
            "/api/v1/account/set-password-when-needed",
            {"user_id": "not-a-uuid", "hash": "x" * 40, "password": PASSWORD, "confirm_password": PASSWORD},
            "user_id",
        ),
        ("/api/v1/account/activate-account", {"code": "!" * 40}, "code"),
        ("/api/v1/account/verify-hash", {"code": ""}, "code"),
        ("/api/v1/account/forgot-password", {"email": "nope"}, "email"),
        ("/api/v1/account/resend-activation", {}, "email"),
        ("/api/v1/auth/refresh", {"refresh_token": ""}, "refresh_token"),
        ("/api/v1/auth/sign-in", {"email": "", "password": "x"}, "email"),
    ],
)
async def test_other_validation_rules(path: str, body: dict[str, str], field: str) -> None:
    async with edge_client() as client:
        r = await client.post(path, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "Validation failed"
    assert field in r.json()["errors"]


async def test_invalid_codes_are_refused() -> None:
    async with edge_client() as client:
        for path in ("/api/v1/account/activate-account", "/api/v1/account/verify-hash"):
            r = await client.post(path, json={"code": "A" * 40})
            assert r.status_code == 404  # no such code, as in the original
            assert "Invalid or expired" in r.json()["message"]


async def test_the_sessions_list_is_paginated_like_every_list() -> None:
    """SPEC §4: lists take limit (≤ 100) and offset and answer total; the list grew with every sign-in."""
    async with edge_client() as client:
        email, _ = await activated_user(client)
        for _ in range(2):
            signed = await client.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        headers = bearer(signed.json()["access_token"])
        whole = (await client.get("/api/v1/auth/sessions", headers=headers)).json()
        assert (whole["limit"], whole["offset"], whole["total"]) == (100, 0, len(whole["items"]))
        assert whole["total"] >= 3
        last = (await client.get(f"/api/v1/auth/sessions?limit=1&offset={whole['total'] - 1}", headers=headers)).json()
        assert last["items"] == whole["items"][-1:]
        for query in ("limit=abc", "limit=101", "offset=-1"):
            r = await client.get(f"/api/v1/auth/sessions?{query}", headers=headers)
            assert r.status_code == 400, (query, r.text)
            assert query.split("=")[0] in r.json()["errors"], r.text
