"""A deployment tested black-box through its nginx over HTTPS (the compose deployment's and the swarm
stack's tests share it): a client of the edge that verifies the deployment's self-signed certificate,
and a person's journey — sign-up, the activation e-mail (an SMTP sink's Maildir), sign-in, a ledger
category and an income, the balance, sign-out, the token refused."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from blazing_testing.maildir import text_and_html, wait_for_message

PASSWORD = "Str0ng!Passw0rd"  # noqa: S105 - a throw-away account
CODE = re.compile(r"code=([A-Za-z0-9]{40})")
EDGE_HOST = "localhost"  # the name on the deployments' self-signed certificates


@contextlib.asynccontextmanager
async def edge_client(base_url: str, certificate: Path, seconds: float = 30) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an edge at ``base_url`` (an address), as https://localhost: the Host header and
    the TLS server name are the certificate's, which is verified."""
    context = ssl.create_default_context(cafile=str(certificate))

    async def name_the_server(request: httpx.Request) -> None:
        request.extensions["sni_hostname"] = EDGE_HOST

    async with httpx.AsyncClient(
        base_url=base_url,
        verify=context,
        headers={"host": EDGE_HOST},
        timeout=seconds,
        event_hooks={"request": [name_the_server]},
    ) as client:
        yield client


async def activation_code(maildir: Path, email: str, within: float = 90) -> str:
    message = await asyncio.to_thread(
        wait_for_message, maildir, lambda m: email in str(m["To"]) and "Activate" in str(m["Subject"]), within
    )
    found = CODE.search(text_and_html(message)[0])
    assert found, "no activation code in the e-mail"
    return found.group(1)


async def signed_in_account(edge: httpx.AsyncClient, maildir: Path, prefix: str) -> dict[str, str]:
    """A new account, activated by its e-mail and signed in: its bearer headers."""
    email = f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"
    signed_up = await edge.post(
        "/api/v1/auth/sign-up",
        json={
            "email": email,
            "password": PASSWORD,
            "confirm_password": PASSWORD,
            "first_name": "Ada",
            "last_name": "Byron",
        },
    )
    assert signed_up.status_code in (201, 202), signed_up.text

    code = await activation_code(maildir, email)
    activated = await edge.post("/api/v1/account/activate-account", json={"code": code})
    assert activated.status_code == 200, activated.text

    session = await edge.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
    assert session.status_code == 200, session.text
    return {"authorization": f"Bearer {session.json()['access_token']}"}


async def category(edge: httpx.AsyncClient, headers: dict[str, str], name: str) -> str:
    made = await edge.post("/api/v1/categories", headers=headers, json={"name": name})
    assert made.status_code == 201, made.text
    return str(made.json()["category"]["id"])


async def journey(edge: httpx.AsyncClient, maildir: Path, prefix: str) -> None:
    """Sign-up → activation mail → sign-in → a category and an income → the balance → sign-out."""
    headers = await signed_in_account(edge, maildir, prefix)
    salary = await category(edge, headers, "Salary")
    income = await edge.post(
        "/api/v1/transactions",
        headers=headers,
        json={"category_id": salary, "type": "income", "amount": 12_000, "memo": "pay"},
    )
    assert income.status_code == 201, income.text
    assert income.json()["transaction"]["balance"] == 12_000

    balance = await edge.get("/api/v1/balance", headers=headers)
    assert balance.status_code == 200, balance.text
    totals = balance.json()
    assert (totals["balance"], totals["income_total"], totals["expense_total"]) == (12_000, 12_000, 0)

    assert (await edge.get("/api/v1/user", headers=headers)).status_code == 200
    signed_out = await edge.post("/api/v1/auth/sign-out", headers=headers)
    assert signed_out.status_code == 200, signed_out.text
    refused = await edge.get("/api/v1/user", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["status"] == "error"
