"""The ops console in real headless Chromium (Debian's package) through https://localhost: sign in,
filter, open one, replay a group, see the audit entry. Screenshots go to var/screenshots/ops/."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from blazing_contracts.topology import DEAD_LETTER_TOPIC
from blazing_testing import stack_env
from blazing_testing.accounts import PASSWORD, activated_account, admin_account
from blazing_testing.browser import chromium
from blazing_testing.kafka import produce, record_count, scratch_topic
from blazing_testing.ops import dead_letter_record

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
SHOTS = ENV.var / "screenshots" / "ops"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with chromium() as launched:  # from a loopback address of its own: its own rate limits
        yield launched


PROBLEMS: dict[int, list[str]] = {}
"""Per page (by id): every console error and CSP violation (the console runs under a strict CSP)."""


def watch(page: Page) -> None:
    problems = PROBLEMS.setdefault(id(page), [])

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            problems.append(f"{message.type}: {message.text} ({page.url})")

    page.on("console", seen)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))


def auth_client() -> httpx.AsyncClient:
    """Straight to auth, as an address of its own (auth throttles failed sign-ins per address)."""
    own = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    return httpx.AsyncClient(timeout=30, headers={"x-forwarded-for": own})


async def sign_in(browser: Browser, email: str) -> Page:
    # the local stack's certificate is self-signed (made by make up): accepted for this origin only
    page = await browser.new_page(ignore_https_errors=True, viewport={"width": 1400, "height": 1000})
    watch(page)
    await page.goto("https://localhost/ops/")
    await expect(page).to_have_url("https://localhost/ops/sign-in")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    return page


async def test_an_admin_signs_in_filters_opens_one_replays_a_group_and_sees_the_audit_entry(browser: Browser) -> None:
    async with auth_client() as client:
        email, _ = await admin_account(client, base=AUTH)
    group = f"console-{uuid.uuid4().hex[:8]}"
    async with scratch_topic(ENV.kafka_bootstrap, "ops-console") as topic:
        await produce(ENV.kafka_bootstrap, DEAD_LETTER_TOPIC, [dead_letter_record(topic, group, n) for n in range(3)])
        page = await sign_in(browser, email)
        await expect(page).to_have_url("https://localhost/ops/")
        await expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
        await page.screenshot(path=SHOTS / "1-signed-in.png", full_page=True)

        await page.get_by_label("Consumer").fill(group)
        await page.get_by_role("button", name="Filter").click()
        await expect(page.locator("#dead-letters tr")).to_have_count(4)  # the header and the three
        await expect(page.locator("#groups tr[data-fingerprint]")).to_have_count(1)
        await expect(page.locator("#groups")).to_contain_text("TimeoutError")
        await expect(page.locator("#dead-letters")).not_to_contain_text("1@example.org")  # masked
        await page.screenshot(path=SHOTS / "2-filtered.png", full_page=True)

        await page.locator("#dead-letters a").first.click()
        await expect(page.get_by_role("heading", name="Payload")).to_be_visible()
        await expect(page.locator("body")).to_contain_text("system.health_check")
        await expect(page.locator("body")).to_contain_text(group)
        await page.screenshot(path=SHOTS / "3-one-dead-letter.png", full_page=True)

        await page.go_back()
        await page.locator("#groups tr[data-fingerprint]").get_by_role("button", name="Replay group").click()
        await expect(page).to_have_url("https://localhost/ops/replays")
        row = page.locator("#jobs tr[data-job]").first
        for _ in range(30):
            if (await row.locator(".job-status").inner_text()).startswith("completed"):
                break
            await page.wait_for_timeout(500)
            await page.reload()
            row = page.locator("#jobs tr[data-job]").first
        await expect(row).to_contain_text("3 / 3")
        await page.screenshot(path=SHOTS / "4-replayed.png", full_page=True)
        assert await record_count(ENV.kafka_bootstrap, topic) == 3, "the group went back to its topic"

        await page.get_by_role("link", name="Audit log").click()
        entry = page.locator("#audit tr", has_text="replay_started").first
        await expect(entry).to_contain_text(email)
        await expect(entry).to_contain_text(group)
        await expect(entry.locator("td").nth(3)).to_have_text("3")
        await page.screenshot(path=SHOTS / "5-audit.png", full_page=True)
    assert PROBLEMS[id(page)] == [], "no console error or CSP violation on any console page"


async def test_a_non_admin_cannot_get_into_the_console(browser: Browser) -> None:
    async with auth_client() as client:
        email, _ = await activated_account(client, base=AUTH, prefix="console-user")
    page = await sign_in(browser, email)
    await expect(page.get_by_role("alert")).to_have_text("The ops console is for admins only")
    await page.goto("https://localhost/ops/")
    await expect(page).to_have_url("https://localhost/ops/sign-in")
    await page.screenshot(path=SHOTS / "6-non-admin-refused.png", full_page=True)
