"""Accounts for tests and benchmarks: sign up, read the activation code from the Maildir, activate,
sign in — the way a person does, through whichever base URL the client points at."""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
from typing import Any

import httpx

from blazing_service.identity import SUPER_ADMIN
from blazing_testing.maildir import Mail, text_and_html, wait_for_message
from blazing_testing.stack import REPO_ROOT, stack_env

PASSWORD = "Str0ng!Passw0rd"  # noqa: S105 - throw-away test accounts
CODE = re.compile(r"code=([A-Za-z0-9]{40})")


def bearer(token: str) -> dict[str, str]:
    """The headers that present an access token."""
    return {"authorization": f"Bearer {token}"}


def new_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"


def sign_up_body(email: str, password: str = PASSWORD) -> dict[str, str]:
    """A valid sign-up request for ``email``."""
    return {
        "email": email,
        "password": password,
        "confirm_password": password,
        "first_name": "Ada",
        "last_name": "Byron",
    }


async def sign_up(client: httpx.AsyncClient, email: str, password: str = PASSWORD, base: str = "") -> httpx.Response:
    return await client.post(f"{base}/api/v1/auth/sign-up", json=sign_up_body(email, password))


async def mail_to(to: str, subject: str, within: float = 20) -> Mail:
    """The first mail to ``to`` whose subject contains ``subject``, waited for."""
    return await asyncio.to_thread(
        wait_for_message, stack_env().maildir, lambda m: to in str(m["To"]) and subject in str(m["Subject"]), within
    )


async def activation_code(email: str, within: float = 60) -> str:
    message = await mail_to(email, "Activate", within)
    found = CODE.search(text_and_html(message)[0])
    assert found, "no activation code in the e-mail"
    return found.group(1)


async def activated_account(
    client: httpx.AsyncClient, base: str = "", password: str = PASSWORD, prefix: str = "user"
) -> tuple[str, dict[str, Any]]:
    """A new, activated, signed-in account: (e-mail, the sign-in response body)."""
    email = new_email(prefix)
    assert (await sign_up(client, email, password, base)).status_code in (201, 202)
    code = await activation_code(email)
    activated = await client.post(f"{base}/api/v1/account/activate-account", json={"code": code})
    assert activated.status_code == 200, activated.text
    session = await client.post(f"{base}/api/v1/auth/sign-in", json={"email": email, "password": password})
    assert session.status_code == 200, session.text
    return email, session.json()


async def admin_account(client: httpx.AsyncClient, base: str = "") -> tuple[str, dict[str, Any]]:
    """A new activated account made super admin (``make admin``), signed in once the permission
    reached auth: (e-mail, the sign-in response body)."""
    email, _ = await activated_account(client, base, prefix="admin")
    made = await asyncio.to_thread(
        subprocess.run, ["make", "-s", "admin", f"EMAIL={email}"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    for _ in range(200):  # users → Kafka → auth; the next token carries it
        session = await client.post(f"{base}/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        if session.json()["user"]["permissions"] == SUPER_ADMIN:
            return email, session.json()
        await asyncio.sleep(0.1)
    raise TimeoutError("the admin permission did not reach auth")


async def mailed_code(email: str, subject: str, variable: str, within: float = 60) -> str:
    """The code an e-mail to ``email`` whose subject contains ``subject`` carries in its link
    (``?<variable>=<code>``)."""
    message = await mail_to(email, subject, within)
    found = re.search(rf"{variable}=([A-Za-z0-9]+)", text_and_html(message)[0])
    assert found, f"no {variable} in the e-mail"
    return found.group(1)
