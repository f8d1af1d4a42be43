"""Auth against hostile and careless input, and the original's replies (issue #17 items 6, 13, 15, 17,
18, 20): every body field and query gets a 4xx in the one error shape (never a 500), every missing
field is named at once, control characters in names are refused, e-mail addresses follow one strict
rule, verify-hash checks reset / change codes only, sign-in returns the original's user fields, and
account mails to one address are limited per hour without a different answer."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from blazing_service.identity import Identity, sign
from blazing_testing import stack_env
from blazing_testing.accounts import PASSWORD, activated_account, mailed_code, new_email
from blazing_testing.maildir import find

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
CODE = "A" * 40


def sign_up_body(**changes: Any) -> dict[str, Any]:
    return {
        "email": new_email("hard"),
        "password": PASSWORD,
        "confirm_password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Byron",
        **changes,
    }


BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/auth/sign-up": sign_up_body(),
    "/api/v1/auth/sign-in": {"email": "nobody@example.org", "password": PASSWORD},
    "/api/v1/auth/refresh": {"refresh_token": "x" * 64},
    "/api/v1/account/activate-account": {"code": CODE},
    "/api/v1/account/resend-activation": {"email": "nobody@example.org"},
    "/api/v1/account/forgot-password": {"email": "nobody@example.org"},
    "/api/v1/account/verify-hash": {"code": CODE},
    "/api/v1/account/reset-password": {"code": CODE, "password": PASSWORD, "confirm_password": PASSWORD},
    "/api/v1/account/set-password-when-needed": {
        "user_id": str(uuid.uuid4()),
        "hash": CODE,
        "password": PASSWORD,
        "confirm_password": PASSWORD,
    },
    "/api/v1/password/verify-password-change": {"code": CODE, "password": PASSWORD, "confirm_password": PASSWORD},
}
SIGNED_IN = {"/api/v1/password/verify-password-change"}
HOSTILE: list[Any] = [
    "\u0000",
    "a\u0000b",
    "line\r\nbreak",
    "\u001b[31m",
    "x" * 10_000,
    10**30,
    -(10**30),
    1.5e308,
    None,
    [],
    {"deep": [[[[["x"]]]]]},
    True,
    "\u202eevil",
    "\ufeff",
    "\U0001f600" * 60,
    "e\u0301" * 60,
    "\uff21\uff44\uff41@\uff45\uff58.\uff43\uff4f",
    "@.",
    "a@b.co\n",
]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as c:
        yield c


def elsewhere() -> dict[str, str]:
    """A client address of its own, so failed sign-ins do not throttle other tests' 127.0.0.1."""
    return {"x-forwarded-for": f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"}


def someone() -> dict[str, str]:
    return sign(Identity(user_id=uuid.uuid4(), permissions=1, session_id=uuid.uuid4()), ENV["GATEWAY_IDENTITY_SECRET"])


def assert_error_shape(r: httpx.Response) -> dict[str, Any]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    body: dict[str, Any] = r.json()
    assert body["status"] == "error"
    assert isinstance(body["message"], str)
    return body


@pytest.mark.parametrize("path", sorted(BODIES))
async def test_hostile_values_in_every_field_are_4xx(client: httpx.AsyncClient, path: str) -> None:
    headers = {"content-type": "application/json", **(someone() if path in SIGNED_IN else {})}
    for field in BODIES[path]:
        for value in HOSTILE:
            body = {**BODIES[path], field: value}
            if path.endswith("sign-up") and field == "password":
                body["confirm_password"] = value
            r = await client.post(f"{AUTH}{path}", content=json.dumps(body), headers={**headers, **elsewhere()})
            if r.status_code < 400:  # the few values a field may take (a long sign-in e-mail is just unknown)
                assert r.status_code < 300, (field, value, r.text)
                continue
            assert_error_shape(r)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"email": "a\\ud800@b.co", "password": "x"}',
        b'{"email": "\xff\xfe@b.co", "password": "x"}',
        b"[" * 5000 + b"]" * 5000,
        b'{"email": {"a": ' * 100 + b"1" + b"}" * 101,
        b'{"email": "a@b.co", "password": "x", "email": 5}',
    ],
)
async def test_malformed_documents_are_400(client: httpx.AsyncClient, raw: bytes) -> None:
    r = await client.post(
        f"{AUTH}/api/v1/auth/sign-in", content=raw, headers={"content-type": "application/json", **elsewhere()}
    )
    assert r.status_code == 400, r.text
    assert_error_shape(r)


@pytest.mark.parametrize(
    "query",
    [
        "user_id=not-a-uuid&hash=" + CODE,
        f"user_id={uuid.uuid4()}&hash=short",
        f"user_id={uuid.uuid4()}&hash=" + "%0A" * 40,
        f"user_id={uuid.uuid4()}&hash=" + "%C3%A9" * 40,
        f"user_id={uuid.uuid4()}&hash=" + "A" * 10_000,
        f"user_id={uuid.uuid4()}&hash=%00" + "A" * 39,
        f"user_id={'9' * 400}&hash=" + CODE,
        "hash=" + CODE,
        "",
    ],
)
async def test_set_password_link_queries_are_4xx(client: httpx.AsyncClient, query: str) -> None:
    r = await client.get(f"{AUTH}/api/v1/account/set-password-when-needed?{query}")
    assert_error_shape(r)


@pytest.mark.parametrize("session", ["not-a-uuid", "%00", "9" * 300, "00000000-0000-0000-0000-000000000000"])
async def test_session_ids_that_are_not_ones_are_404(client: httpx.AsyncClient, session: str) -> None:
    r = await client.delete(f"{AUTH}/api/v1/auth/sessions/{session}", headers=someone())
    assert r.status_code in (400, 404), r.text
    assert_error_shape(r)


@pytest.mark.parametrize(
    ("path", "missing"),
    [
        ("/api/v1/auth/sign-up", ["email", "password", "confirm_password", "first_name", "last_name"]),
        ("/api/v1/auth/sign-in", ["email", "password"]),
        ("/api/v1/auth/refresh", ["refresh_token"]),
        ("/api/v1/account/activate-account", ["code"]),
        ("/api/v1/account/resend-activation", ["email"]),
        ("/api/v1/account/forgot-password", ["email"]),
        ("/api/v1/account/verify-hash", ["code"]),
        ("/api/v1/account/reset-password", ["code", "password", "confirm_password"]),
        ("/api/v1/account/set-password-when-needed", ["user_id", "hash", "password", "confirm_password"]),
        ("/api/v1/password/verify-password-change", ["code", "password", "confirm_password"]),
    ],
)
async def test_every_missing_or_mistyped_field_is_named_at_once(
    client: httpx.AsyncClient, path: str, missing: list[str]
) -> None:
    half_null = dict.fromkeys(missing[::2])  # a null counts as missing, as in the original
    wrong_types = {name: [1] for name in missing}  # no field of these bodies takes a list
    half_wrong = dict.fromkeys(missing[::2], 5)  # the other half missing
    for body in ({}, half_null, wrong_types, half_wrong):
        r = await client.post(f"{AUTH}{path}", json=body, headers=someone() if path in SIGNED_IN else {})
        assert r.status_code == 400, r.text
        assert r.json()["message"] == "Validation failed"
        assert sorted(r.json()["errors"]) == sorted(missing), body


@pytest.mark.parametrize("field", ["first_name", "last_name"])
@pytest.mark.parametrize(
    "value", ["Ada\r\nBcc: victim@example.org", "Ada\nLovelace", "Ada\tB", "Ada\u0000", "\u0007Ada", "Ada\u202e"]
)
async def test_control_characters_in_names_are_refused_at_sign_up(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    r = await client.post(f"{AUTH}/api/v1/auth/sign-up", json=sign_up_body(**{field: value}))
    assert r.status_code == 400, r.text
    assert field in r.json()["errors"]


@pytest.mark.parametrize(
    "email",
    ["@.", "a@b", "a..b@c.co", ".a@b.co", "a@-b.co", "a@b.co\r\n", "x" * 10_000 + "@example.org", "j\u00f6@x.io"],
)
@pytest.mark.parametrize("path", ["/api/v1/auth/sign-up", "/api/v1/account/forgot-password"])
async def test_one_strict_email_rule(client: httpx.AsyncClient, path: str, email: str) -> None:
    body = sign_up_body(email=email) if path.endswith("sign-up") else {"email": email}
    r = await client.post(f"{AUTH}{path}", json=body)
    assert r.status_code == 400, r.text
    assert "email" in r.json()["errors"]


async def test_sign_in_answers_like_the_original(client: httpx.AsyncClient) -> None:
    email, session = await activated_account(client, base=AUTH, prefix="hard-sign-in")
    assert session["message"] == "Signed in successfully"
    assert session["token"] == session["access_token"]
    user = session["user"]
    assert user["email"] == email
    assert (user["first_name"], user["last_name"]) == ("Ada", "Byron")
    assert user["balance"] == 0
    assert user["permissions"] == 1
    for stamp in ("created_at", "updated_at"):
        assert user[stamp].endswith("Z") or "+00:00" in user[stamp], user
    assert user["created_at"] <= user["updated_at"]


async def test_verify_hash_checks_reset_and_change_codes_only(client: httpx.AsyncClient) -> None:
    email = new_email("hard-verify")
    assert (await client.post(f"{AUTH}/api/v1/auth/sign-up", json=sign_up_body(email=email))).status_code == 201
    activation = await mailed_code(email, "Activate", "code")
    refused = await client.post(f"{AUTH}/api/v1/account/verify-hash", json={"code": activation})
    assert refused.status_code == 400, refused.text
    assert refused.json()["message"] == "Invalid code type"
    assert (await client.post(f"{AUTH}/api/v1/account/activate-account", json={"code": activation})).status_code == 200

    unknown = await client.post(f"{AUTH}/api/v1/account/verify-hash", json={"code": "Z" * 40})
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Invalid or expired code")

    forgot = await client.post(f"{AUTH}/api/v1/account/forgot-password", json={"email": email})
    assert forgot.json()["message"] == "If the email exists, a reset code has been sent"
    reset_code = await mailed_code(email, "Reset your password", "code")
    for _ in range(2):  # verify-hash does not use the code up
        ok = await client.post(f"{AUTH}/api/v1/account/verify-hash", json={"code": reset_code})
        assert ok.status_code == 200, ok.text
        assert ok.json()["message"] == "Code verified successfully"
        assert ok.json()["code"] == reset_code
    new_password = "N3w!Passw0rd"
    reset = await client.post(
        f"{AUTH}/api/v1/account/reset-password",
        json={"code": reset_code, "password": new_password, "confirm_password": new_password},
    )
    assert (reset.status_code, reset.json()["message"]) == (200, "Password reset successfully")
    used = await client.post(f"{AUTH}/api/v1/account/verify-hash", json={"code": reset_code})
    assert (used.status_code, used.json()["message"]) == (400, "Code has expired or already been used")

    session = (await client.post(f"{AUTH}/api/v1/auth/sign-in", json={"email": email, "password": new_password})).json()
    who = sign(
        Identity(user_id=uuid.UUID(session["user"]["id"]), permissions=1, session_id=uuid.UUID(session["session_id"])),
        ENV["GATEWAY_IDENTITY_SECRET"],
    )
    asked = await client.post(f"{AUTH}/api/v1/password/change-password", headers=who)
    assert asked.json()["message"] == "Password change code sent to your email"
    change_code = await mailed_code(email, "Password change", "code")
    ok = await client.post(f"{AUTH}/api/v1/account/verify-hash", json={"code": change_code})
    assert (ok.status_code, ok.json()["code"]) == (200, change_code)


async def test_account_mails_to_one_address_are_limited(client: httpx.AsyncClient) -> None:
    email, _ = await activated_account(client, base=AUTH, prefix="hard-limit")
    limit = int(ENV.get("AUTH_MAILS_PER_ADDRESS_PER_HOUR", "5"))
    answers = set()
    for _ in range(limit + 3):
        r = await client.post(f"{AUTH}/api/v1/account/forgot-password", json={"email": email})
        answers.add((r.status_code, r.text))
    unknown = await client.post(f"{AUTH}/api/v1/account/forgot-password", json={"email": new_email("hard-none")})
    answers.add((unknown.status_code, unknown.text))
    assert len(answers) == 1, answers
    again = await client.post(f"{AUTH}/api/v1/auth/sign-up", json=sign_up_body(email=email))
    assert again.status_code == 201

    def reset_mails() -> list[Any]:
        return find(ENV.maildir, lambda m: email in str(m["To"]) and "Reset your password" in str(m["Subject"]))

    for _ in range(100):
        if len(reset_mails()) >= limit:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(3)
    assert len(reset_mails()) == limit
    exists = find(ENV.maildir, lambda m: email in str(m["To"]) and "already have" in str(m["Subject"]))
    assert exists == [], "the per-address limit counts every account mail"
