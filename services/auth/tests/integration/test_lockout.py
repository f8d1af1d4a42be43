"""A lock is published (auth.account_locked) and ends by itself (auth.account_unlocked): run against
an extra auth instance whose lock lasts 3 seconds instead of 15 minutes (same database)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from blazing_contracts import decode_event
from blazing_contracts.topology import AUTH_EVENTS
from blazing_testing import stack_env
from blazing_testing.accounts import PASSWORD, sign_up
from blazing_testing.kafka import KafkaTail
from blazing_testing.maildir import text_and_html, wait_for_message

pytestmark = pytest.mark.integration
ENV = stack_env()
PORT = 8092
SHORT = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def short_lock_auth(tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        **dict(ENV),
        "SERVICE_PORT": str(PORT),
        "DATABASE_URL": ENV.database_url("auth"),
        "AUTH_LOCK_SECONDS": "3",
    }
    log = (tmp_path / "auth.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "auth"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{SHORT}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            import time  # noqa: PLC0415

            time.sleep(0.2)
        else:
            pytest.fail("the short-lock auth instance did not start")
        yield SHORT
    finally:
        process.terminate()
        process.wait(timeout=20)


async def test_lock_is_published_and_expires(short_lock_auth: str) -> None:
    email = f"lock-{uuid.uuid4().hex[:10]}@example.org"
    async with (
        httpx.AsyncClient(base_url=short_lock_auth, timeout=30) as client,
        KafkaTail(ENV.kafka_bootstrap, AUTH_EVENTS) as tail,
    ):
        await sign_up(client, email)
        message = await asyncio.to_thread(wait_for_message, ENV.maildir, lambda m: email in str(m["To"]), 20)
        code = re.search(r"code=([A-Za-z0-9]{40})", text_and_html(message)[0]).group(1)  # type: ignore[union-attr]
        assert (await client.post("/api/v1/account/activate-account", json={"code": code})).status_code == 200
        user_id = (await client.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})).json()[
            "user"
        ]["id"]
        for _ in range(5):
            await client.post("/api/v1/auth/sign-in", json={"email": email, "password": "Wr0ng!Passw0rd"})
        locked = await client.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        assert locked.status_code == 401, "the right password is refused while locked"
        await asyncio.sleep(3.5)
        again = await client.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        assert again.status_code == 200, "the lock ended by itself"

        def types(records: list[object]) -> list[str]:
            events = [decode_event(r.value) for r in records]  # type: ignore[attr-defined]
            return [e.event_type for e in events if e.aggregate_id == user_id]

        records = await tail.collect(lambda rs: "auth.account_unlocked" in types(rs), within=30)
    seen = types(records)
    assert seen.count("auth.sign_in_failed") >= 6
    assert seen.index("auth.account_locked") < seen.index("auth.account_unlocked")
    assert seen[-1] == "auth.sign_in"
