"""The web pages in real headless Chromium (Debian's package, driven by Playwright) through
https://localhost: the whole journey from sign-up (activation code read from the SMTP sink) to the
balance chart and a password reset, a screenshot per page, field errors for invalid input, a strict
CSP without 'unsafe-inline', and not one console error or CSP violation on any page."""

from __future__ import annotations

import asyncio
import random
import re
import uuid
from collections import Counter
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from blazing_testing import edge_client, stack_env
from blazing_testing.accounts import PASSWORD, activated_account, admin_account, mailed_code
from blazing_testing.maildir import text_and_html, wait_for_message

pytestmark = pytest.mark.integration
ENV = stack_env()
SHOTS = ENV.var / "screenshots" / "web"
BASE = "https://localhost"
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"


class Journey:
    """A page that records every console error, page error and CSP violation it meets."""

    def __init__(self, page: Page, prefix: str = "") -> None:
        self.page = page
        self.prefix = prefix
        self.problems: list[str] = []
        self.shots = 0
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning") or "Content Security Policy" in message.text:
            self.problems.append(f"{message.type}: {message.text} ({self.page.url})")

    async def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        await self.page.screenshot(path=SHOTS / f"{self.prefix}{self.shots:02d}-{name}.png", full_page=True)

    async def submit(self, button: str) -> None:
        await self.page.get_by_role("button", name=button, exact=True).click()


async def passwords(page: Page, password: str, repeated: str) -> None:
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_label("Repeat the password").fill(repeated)


async def journey(browser: Browser, prefix: str = "") -> Journey:
    # the local stack's certificate is self-signed (made by make up): accepted for this origin only
    page = await browser.new_page(ignore_https_errors=True, viewport={"width": 1200, "height": 900})
    return Journey(page, prefix)


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
    await passwords(page, PASSWORD, PASSWORD + "x")
    await j.submit("Sign up")
    await expect(page.locator("#confirm_password")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#confirm_password-error")).to_be_visible()
    await expect(page.get_by_label("E-mail")).to_have_value(email)
    await j.shot("sign-up-field-errors")
    await passwords(page, PASSWORD, PASSWORD)
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
    await expect(page).to_have_url(BASE + "/sign-in?next=%2Fbalance")  # and back there once signed in

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
        forged = await edge.post(
            "/sign-in",
            data={"email": "a@example.org", "password": "x", "csrf": "guess"},
            headers={"origin": "https://localhost"},
        )
        assert forged.status_code == 403
        assert "form expired" in forged.text
        for path in ("/balance", "/profile", "/transactions", "/categories"):
            r = await edge.get(path)
            assert (r.status_code, r.headers["location"]) == (302, f"/sign-in?next=%2F{path[1:]}"), path
        stale = await edge.get("/balance", headers={"cookie": "bs_session=not-a-token"})
        assert stale.status_code == 302


async def test_a_page_session_cookie_is_not_accepted_by_the_api() -> None:
    async with auth_client() as client:
        _, session = await activated_account(client, prefix="web-api")
    cookie: dict[str, Any] = {"cookie": f"bs_session={session['access_token']}"}
    async with edge_client() as edge:
        assert (await edge.get("/api/v1/user", headers=cookie)).status_code == 401, "no cookie auth on the API"
        assert (await edge.get("/profile", headers=cookie)).status_code == 200


# ------------------------------------------------------------------ shared by the tests below


def auth_client() -> httpx.AsyncClient:
    """Straight to auth, as an address of its own (auth throttles failed sign-ins per address)."""
    own = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    return httpx.AsyncClient(base_url=AUTH, timeout=30, headers={"x-forwarded-for": own})


async def sign_in(j: Journey, email: str, password: str = PASSWORD) -> None:
    await j.page.goto(BASE + "/sign-in")
    await j.page.get_by_label("E-mail").fill(email)
    await j.page.get_by_label("Password").fill(password)
    await j.submit("Sign in")
    await expect(j.page).to_have_url(BASE + "/balance")


async def cookie(page: Page, name: str) -> str | None:
    return next((c["value"] for c in await page.context.cookies() if c["name"] == name and c["value"]), None)


async def mailed_link(email: str, subject: str, path: str) -> str:
    """The link to ``path`` in the newest e-mail to ``email`` with ``subject`` (from the SMTP sink)."""
    message = await asyncio.to_thread(
        wait_for_message, ENV.maildir, lambda m: email in str(m["To"]) and subject in str(m["Subject"]), 60
    )
    found = re.search(rf"https://\S+{re.escape(path)}\?\S+", text_and_html(message)[0])
    assert found, f"no {path} link in the e-mail"
    return found.group(0)


# ------------------------------------------------------------------ a session that ended (issue #17, 5)


async def test_a_revoked_session_leaves_the_browser_on_the_sign_in_page_without_its_cookie(browser: Browser) -> None:
    async with auth_client() as client:
        email, _ = await admin_account(client)
    j = await journey(browser, "revoked-")
    page = j.page
    await sign_in(j, email)
    await page.goto(BASE + "/ops/sign-in")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(BASE + "/ops/")
    web_token, ops_token = await cookie(page, "bs_session"), await cookie(page, "bs_ops")
    assert web_token
    assert ops_token

    async with edge_client() as edge:  # both sessions revoked elsewhere (as sign-out-all would)
        for token in (web_token, ops_token):
            r = await edge.post("/api/v1/auth/sign-out", headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 200, r.text

    for path, landing, heading in [
        ("/", "/sign-in", "Sign in"),
        ("/sign-in", "/sign-in", "Sign in"),
        ("/sign-out", "/sign-in", "Sign in"),
        ("/ops/sign-in", "/ops/sign-in", "Sign in to the ops console"),
    ]:
        response = await page.goto(BASE + path)
        assert response is not None
        assert response.status == 200, (path, response.status, await response.text())
        await expect(page).to_have_url(BASE + landing)
        await expect(page.get_by_role("heading", name=heading)).to_be_visible()
        await expect(page.locator("body")).not_to_contain_text('"status":"error"')
    await j.shot("signed-out")
    assert await cookie(page, "bs_session") is None, "the revoked web session's cookie is gone"
    assert await cookie(page, "bs_ops") is None, "the revoked console session's cookie is gone"
    await sign_in(j, email)  # and signing in again simply works
    assert j.problems == []


async def test_a_stale_session_cookie_is_expired_with_the_same_attributes() -> None:
    async with edge_client(follow_redirects=False) as edge:
        for path in ("/", "/sign-in", "/sign-out", "/sign-up", "/balance", "/profile/nothing-here"):
            r = await edge.get(path, headers={"cookie": "bs_session=not-a-token"})
            assert r.status_code in (200, 302, 404), (path, r.status_code)
            [cleared] = [c for c in r.headers.get_list("set-cookie") if c.startswith("bs_session=")]
            parts = {p.strip().lower() for p in cleared.split(";")}
            assert {"max-age=0", "path=/", "httponly", "secure", "samesite=strict"} <= parts, (path, cleared)
        home = await edge.get("/", headers={"cookie": "bs_session=not-a-token"})
        assert home.headers["location"] == "/sign-in"
        fresh = await edge.get("/sign-in")
        assert not [c for c in fresh.headers.get_list("set-cookie") if c.startswith("bs_session=")]


# ------------------------------------------------------------------ the e-mailed links (issue #17, 14)


async def test_an_admin_created_user_sets_a_password_from_the_emailed_link_and_signs_in(browser: Browser) -> None:
    async with auth_client() as client:
        _, admin = await admin_account(client)
    email = f"created-{uuid.uuid4().hex[:10]}@example.org"
    async with edge_client() as edge:
        created = await edge.post(
            "/api/v1/user",
            json={"email": email, "first_name": "Grace", "last_name": "Hopper"},
            headers={"authorization": f"Bearer {admin['access_token']}"},
        )
        assert created.status_code == 201, created.text
    link = await mailed_link(email, "Set up your password", "/set-password")

    j = await journey(browser, "set-password-")
    page = j.page
    await page.goto(link)
    await expect(page.get_by_role("heading", name="Set your password")).to_be_visible()
    await assert_inputs(page, SET_PASSWORD)
    await passwords(page, PASSWORD, PASSWORD + "x")
    await j.submit("Set my password")
    await expect(page.locator("#confirm_password-error")).to_be_visible()
    await j.shot("mismatch")
    await passwords(page, PASSWORD, PASSWORD)
    await j.submit("Set my password")
    await expect(page.get_by_role("status")).to_contain_text("Your password is set")
    await j.shot("done")
    await sign_in(j, email)

    await page.goto(link)  # the link is used up
    await expect(page.get_by_role("alert")).to_contain_text("invalid or has expired")
    assert j.problems == [f"error: Failed to load resource: the server responded with a status of 400 () ({link})"]


async def test_a_signed_in_user_changes_the_password_with_the_emailed_link(browser: Browser) -> None:
    async with auth_client() as client:
        email, _ = await activated_account(client, prefix="web-change")
    j = await journey(browser, "change-password-")
    page = j.page
    await sign_in(j, email)
    await page.get_by_role("link", name="Profile").click()
    await j.submit("Change my password")
    await expect(page.get_by_role("status")).to_contain_text("code to confirm the change")
    link = await mailed_link(email, "Password change request", "/password/verify")

    await page.goto(link)
    await expect(page.get_by_label("Code from the e-mail")).to_have_value(link.rsplit("code=", 1)[1])
    await assert_inputs(page, PASSWORD_CHANGE)
    new_password = PASSWORD + "-new"
    await page.get_by_label("New password", exact=True).fill(new_password)
    await page.get_by_label("Repeat the new password").fill(new_password)
    await j.shot("form")
    await j.submit("Change the password")
    await expect(page).to_have_url(re.compile(r"/profile\?notice=password-changed$"))
    await expect(page.get_by_role("status")).to_contain_text("Password changed")

    await j.submit("Sign out")
    await page.goto(BASE + "/password/verify?code=x")  # signed out: sign in first, then back here
    await expect(page).to_have_url(BASE + "/sign-in?next=%2Fpassword%2Fverify%3Fcode%3Dx")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(new_password)
    await j.submit("Sign in")
    await expect(page).to_have_url(BASE + "/password/verify?code=x")
    assert j.problems == []


# ------------------------------------------------------------------ every attribute as written (issue #17, 19)

Attributes = dict[str, str]


def hidden(name: str) -> tuple[str, Attributes]:
    return ("input", {"type": "hidden", "name": name})


def text(name: str, type_: str = "text", *, required: bool = True, **more: str) -> tuple[str, Attributes]:
    return ("input", {"id": name, "name": name, "type": type_, **({"required": ""} if required else {}), **more})


def select(name: str, *, labelled: bool = True) -> tuple[str, Attributes]:
    return ("select", {"id": name, "name": name} if labelled else {"name": name})


CSRF = hidden("csrf")
NEW_PASSWORDS = [
    text(name, "password", autocomplete="new-password", minlength="8", maxlength="128")
    for name in ("password", "confirm_password")
]
CODE = text("code", autocomplete="one-time-code", minlength="40", maxlength="40")
NAMES = [
    text("first_name", autocomplete="given-name", minlength="2", maxlength="50"),
    text("last_name", autocomplete="family-name", minlength="2", maxlength="50"),
]
TRANSACTION_FORM = [
    CSRF,
    select("type"),
    select("category_id"),
    text("amount", autocomplete="off", inputmode="decimal", maxlength="20"),
    text("memo", autocomplete="off", maxlength="255"),
    text("occurred_on", "date", required=False),
]
SET_PASSWORD = [CSRF, hidden("user_id"), hidden("code"), *NEW_PASSWORDS]
PASSWORD_CHANGE = [CSRF, CSRF, CODE, *NEW_PASSWORDS]  # the header's sign-out form has one too
ANONYMOUS_PAGES: dict[str, list[tuple[str, Attributes]]] = {
    "/sign-up": [CSRF, *NAMES, text("email", "email", autocomplete="email", maxlength="100"), *NEW_PASSWORDS],
    "/sign-in": [
        CSRF,
        text("email", "email", autocomplete="username", maxlength="100"),
        text("password", "password", autocomplete="current-password", maxlength="128"),
    ],
    "/sign-in?next=/profile": [
        CSRF,
        hidden("next"),
        text("email", "email", autocomplete="username", maxlength="100"),
        text("password", "password", autocomplete="current-password", maxlength="128"),
    ],
    "/activate": [CSRF, CODE],
    "/forgot-password": [CSRF, text("email", "email", autocomplete="email", maxlength="100")],
    "/reset-password": [CSRF, CODE, *NEW_PASSWORDS],
}
SIGNED_IN_PAGES: dict[str, list[tuple[str, Attributes]]] = {
    "/profile": [CSRF, CSRF, *NAMES, CSRF],
    "/categories": [
        CSRF,
        CSRF,  # the one category's delete button
        CSRF,
        text("name", autocomplete="off", maxlength="255"),
        text("description", required=False, autocomplete="off", maxlength="1000"),
    ],
    "/transactions": [
        CSRF,
        select("type", labelled=False),
        select("category_id", labelled=False),
        ("input", {"type": "date", "name": "from"}),
        ("input", {"type": "date", "name": "to"}),
        ("input", {"type": "search", "name": "q", "maxlength": "100"}),
        CSRF,  # the one transaction's delete button
        *TRANSACTION_FORM,
    ],
    "/transactions/{id}/edit": [CSRF, *TRANSACTION_FORM],
    "/password/verify": PASSWORD_CHANGE,
    "/sign-out": [CSRF, CSRF],
    "/balance": [CSRF],
}


async def assert_inputs(page: Page, expected: list[tuple[str, Attributes]]) -> None:
    """Every input, select and textarea of the page carries exactly the intended attributes (the
    value aside): nothing escaped into a value, nothing missing, nothing extra."""
    found = await page.locator("input, select, textarea").evaluate_all(
        """els => els.map(e => [e.tagName.toLowerCase(),
            Object.fromEntries([...e.attributes].filter(a => a.name !== "value").map(a => [a.name, a.value]))])"""
    )
    as_set = Counter(repr((tag, sorted(attrs.items()))) for tag, attrs in found)
    wanted = Counter(repr((tag, sorted(attrs.items()))) for tag, attrs in expected)
    assert as_set == wanted, f"{page.url}\nfound:    {found}\nexpected: {expected}"
    assert "&#34;" not in await page.content()


async def test_every_input_of_every_page_renders_its_attributes_as_written(browser: Browser) -> None:
    async with auth_client() as client:
        email, session = await activated_account(client, prefix="web-attributes")
    bearer = {"authorization": f"Bearer {session['access_token']}"}
    async with edge_client() as edge:
        category = (await edge.post("/api/v1/categories", json={"name": "Salary"}, headers=bearer)).json()
        item = await edge.post(
            "/api/v1/transactions",
            json={"category_id": category["category"]["id"], "type": "income", "amount": 500, "memo": "pay"},
            headers=bearer,
        )
        transaction_id = item.json()["transaction"]["id"]
    j = await journey(browser, "attributes-")
    page = j.page
    for path, expected in ANONYMOUS_PAGES.items():
        await page.goto(BASE + path)
        await assert_inputs(page, expected)
    await sign_in(j, email)
    for path, expected in SIGNED_IN_PAGES.items():
        await page.goto(BASE + path.format(id=transaction_id))
        await assert_inputs(page, expected)
    assert j.problems == []
