"""The web pages in real headless Chromium (Debian's package, driven by Playwright) through
https://localhost: the whole journey from sign-up (activation code read from the SMTP sink) to the
balance chart and a password reset, a screenshot per page, field errors for invalid input, a strict
CSP without 'unsafe-inline', and not one console error or CSP violation on any page."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from blazing_testing import edge_client, stack_env
from blazing_testing.accounts import PASSWORD, mailed_code

pytestmark = pytest.mark.integration
ENV = stack_env()
SHOTS = ENV.var / "screenshots" / "web"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
BASE = "https://localhost"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])  # root in CI
        yield launched
        await launched.close()


class Journey:
    """A page that records every console error, page error and CSP violation it meets."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        self.shots = 0
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            self.problems.append(f"{message.type}: {message.text} ({self.page.url})")

    async def shot(self, name: str) -> None:
        self.shots += 1
        await self.page.screenshot(path=SHOTS / f"{self.shots:02d}-{name}.png", full_page=True)

    async def submit(self, button: str) -> None:
        await self.page.get_by_role("button", name=button, exact=True).click()


async def journey(browser: Browser) -> Journey:
    # the local stack's certificate is self-signed (made by make up): accepted for this origin only
    page = await browser.new_page(ignore_https_errors=True, viewport={"width": 1200, "height": 900})
    return Journey(page)


async def test_the_whole_journey_from_sign_up_to_the_balance_chart(browser: Browser) -> None:
    j = await journey(browser)
    page = j.page
    email = f"web-{uuid.uuid4().hex[:10]}@example.org"

    await page.goto(BASE + "/")
    await expect(page.get_by_role("heading", name="Take control of your finances")).to_be_visible()
    await j.shot("home")

    await page.get_by_role("link", name="Create an account").click()
    await expect(page).to_have_url(BASE + "/sign-up")
    await page.get_by_label("First name").fill("Ada")
    await page.get_by_label("Last name").fill("Lovelace")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Repeat the password").fill(PASSWORD + "x")
    await j.submit("Sign up")
    await expect(page.locator("#confirm_password")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#confirm_password-error")).to_be_visible()
    await expect(page.get_by_label("E-mail")).to_have_value(email)
    await j.shot("sign-up-field-errors")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_label("Repeat the password").fill(PASSWORD)
    await j.submit("Sign up")
    await expect(page.get_by_role("status")).to_contain_text("activation code")
    await j.shot("activation")

    await page.get_by_label("Activation code").fill(await mailed_code(email, "Activate", "code"))
    await j.submit("Activate")
    await expect(page.get_by_role("status")).to_contain_text("Your account is active")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await j.shot("sign-in")
    await j.submit("Sign in")
    await expect(page).to_have_url(BASE + "/balance")
    await expect(page.locator("#balance")).to_have_text("0.00")
    await j.shot("balance-empty")

    await page.get_by_role("link", name="Categories").click()
    for name in ("Salary", "Food"):
        await page.get_by_label("Name").fill(name)
        await j.submit("Add")
        await expect(page.locator("#categories")).to_contain_text(name)
    await page.get_by_label("Name").fill("food")  # duplicate (case-insensitive): the API's 409, shown
    await j.submit("Add")
    await expect(page.get_by_role("alert")).to_contain_text("already exists")
    await j.shot("categories")

    await page.get_by_role("link", name="Transactions").click()

    async def add(kind: str, category: str, amount: str, memo: str) -> None:
        await page.get_by_label("Type", exact=True).select_option(kind)
        await page.get_by_label("Category", exact=True).select_option(label=category)
        await page.get_by_label("Amount").fill(amount)
        await page.get_by_label("Memo").fill(memo)
        await j.submit("Add")

    await add("income", "Salary", "1000", "November pay")
    await expect(page.get_by_role("status")).to_have_text("Transaction added")
    await add("expense", "Food", "abc", "groceries")
    await expect(page.locator("#amount")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#amount-error")).to_contain_text("amount")
    await j.shot("transaction-field-error")
    await add("expense", "Food", "12.50", "groceries")
    await add("expense", "Food", "2000", "too much")  # more than the balance: the ledger's 422
    await expect(page.get_by_role("alert")).to_contain_text("below zero")
    await add("expense", "Food", "3.25", "coffee")
    await expect(page.locator("#transactions tr")).to_have_count(4)

    filters = page.get_by_role("form", name="Filter")
    await filters.locator("select[name=type]").select_option("expense")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#transactions tr")).to_have_count(3)
    await filters.get_by_label("Search").fill("coffee")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#transactions tr")).to_have_count(2)
    await j.shot("transactions-filtered")
    await page.get_by_role("link", name="clear").click()

    await page.locator("#transactions tr", has_text="groceries").get_by_role("link", name="Edit").click()
    await page.get_by_label("Amount").fill("20.00")
    await j.shot("transaction-edit")
    await j.submit("Save")
    await expect(page.get_by_role("status")).to_have_text("Transaction saved")
    await page.locator("#transactions tr", has_text="coffee").get_by_role("button", name="Delete").click()
    await expect(page.get_by_role("status")).to_have_text("Transaction deleted")
    await expect(page.locator("#transactions tr")).to_have_count(3)
    await j.shot("transactions")

    await page.get_by_role("link", name="Balance").click()
    await expect(page.locator("#balance")).to_have_text("980.00")
    await expect(page.locator("svg rect.income")).to_have_count(1)
    await expect(page.locator("svg rect.expense")).to_have_count(1)
    await j.shot("balance-chart")

    await page.get_by_role("link", name="Profile").click()
    for _ in range(60):  # the users service learns the balance from the ledger's events (Kafka)
        if await page.locator("#profile-balance").inner_text() == "980.00":
            break
        await page.wait_for_timeout(250)
        await page.reload()
    await expect(page.locator("#profile-balance")).to_have_text("980.00")
    await page.get_by_label("First name").fill("A")  # too short: the users API's field error
    await j.submit("Save")
    await expect(page.locator("#first_name-error")).to_be_visible()
    await page.get_by_label("First name").fill("Augusta")
    await j.submit("Save")
    await expect(page.get_by_role("status")).to_have_text("Profile saved")
    await expect(page.get_by_label("First name")).to_have_value("Augusta")
    await j.shot("profile")

    await j.submit("Sign out")
    await expect(page).to_have_url(BASE + "/sign-in")
    await page.goto(BASE + "/balance")
    await expect(page).to_have_url(BASE + "/sign-in")

    await page.get_by_role("link", name="Forgot your password?").click()
    await page.get_by_label("E-mail").fill(email)
    await j.shot("forgot-password")
    await j.submit("E-mail me a reset code")
    await expect(page.get_by_role("status")).to_contain_text("reset code")
    new_password = PASSWORD + "-2"
    await page.get_by_label("Reset code").fill(await mailed_code(email, "Reset your password", "code"))
    await page.get_by_label("New password", exact=True).fill(new_password)
    await page.get_by_label("Repeat the new password").fill(new_password)
    await j.shot("reset-password")
    await j.submit("Set the password")
    await expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(new_password)
    await j.submit("Sign in")
    await expect(page).to_have_url(BASE + "/balance")
    await j.shot("signed-in-again")

    assert j.problems == [], "no console error or CSP violation on any page"
    assert j.shots >= 15


@pytest.mark.parametrize(
    "path", ["/", "/sign-in", "/sign-up", "/activate", "/forgot-password", "/reset-password", "/static/app.css"]
)
async def test_every_page_has_a_strict_csp(path: str) -> None:
    async with edge_client() as edge:
        r = await edge.get(path)
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    for directive in ("default-src 'self'", "script-src 'none'", "style-src 'self'", "frame-ancestors 'none'"):
        assert directive in csp


async def test_posts_without_the_csrf_token_are_refused_and_pages_need_a_session() -> None:
    async with edge_client(follow_redirects=False) as edge:
        form = await edge.get("/sign-in")
        assert "bs_csrf" in form.headers.get("set-cookie", "")
        forged = await edge.post("/sign-in", data={"email": "a@example.org", "password": "x", "csrf": "guess"})
        assert forged.status_code == 403
        for path in ("/balance", "/profile", "/transactions", "/categories"):
            r = await edge.get(path)
            assert (r.status_code, r.headers["location"]) == (302, "/sign-in"), path
        stale = await edge.get("/balance", headers={"cookie": "bs_session=not-a-token"})
        assert stale.status_code == 302


async def test_a_page_session_cookie_is_not_accepted_by_the_api() -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        from blazing_testing.accounts import activated_account  # noqa: PLC0415

        _, session = await activated_account(client, base=f"http://127.0.0.1:{ENV['AUTH_PORT']}", prefix="web-api")
    cookie: dict[str, Any] = {"cookie": f"bs_session={session['access_token']}"}
    async with edge_client() as edge:
        assert (await edge.get("/api/v1/user", headers=cookie)).status_code == 401, "no cookie auth on the API"
        assert (await edge.get("/profile", headers=cookie)).status_code == 200
