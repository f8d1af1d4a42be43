"""The pages' use cases on the fake APIs (adapters/memory.py): what each page shows, what a form
gets back when an API refuses it, what ends a request instead (a session that ended, an API that is
away, what is not found) — no server."""

from __future__ import annotations

import uuid

import pytest

from blazing_app import BadInput, Browser, Conflict, Invalid, NotFound, Unavailable
from web.adapters.memory import FakeApi, caller_of
from web.application.account import INVALID_LINK, Account, SetPasswordLink
from web.application.finances import Finances
from web.application.ports import SessionEnded, Tokens
from web.application.refusals import FORM, NOT_YOURS, Refusal
from web.entrypoints.common import MAX_FIELD, Form

ADA = "ada@example.org"
BROWSER = Browser(forwarded_for="203.0.113.7", user_agent="test")
CODE = "a" * 40


class Site:
    def __init__(self) -> None:
        self.api = FakeApi()
        self.account = Account(self.api)
        self.finances = Finances(self.api, self.api)
        self.api.accounts[ADA] = "secret-pw"
        self.api.names[ADA] = ("Ada", "Lovelace")
        self.ada = caller_of(ADA)

    async def category(self, name: str = "Salary") -> str:
        assert await self.finances.add_category(self.ada, name, "") is None
        return next(c.id for c in await self.finances.categories(self.ada) if c.name == name)

    async def transaction(self, category: str, kind: str, amount: str, **more: str) -> None:
        fields = {"category_id": category, "type": kind, "amount": amount, "memo": "m", **more}
        assert await self.finances.add_transaction(self.ada, fields, {}) is None


@pytest.fixture
def site() -> Site:
    return Site()


# ------------------------------------------------------------------ account


async def test_sign_up_gives_the_apis_refusal_back_to_the_form(site: Site) -> None:
    refused = await site.account.sign_up("Bo", "B", "bo@example.org", "pw-1", "pw-2")
    assert refused == Refusal(message="Validation failed", errors={"confirm_password": ["Passwords do not match"]})
    assert await site.account.sign_up("Bo", "B", "bo@example.org", "pw-1", "pw-1") is None
    taken = await site.account.sign_up("Bo", "B", "bo@example.org", "pw-1", "pw-1")
    assert taken == Refusal(message="This e-mail address is taken")


async def test_sign_in_gives_the_session_or_the_refusal_and_passes_the_browser_on(site: Site) -> None:
    assert await site.account.sign_in(ADA, "secret-pw", BROWSER) == Tokens(
        access_token=f"token-of-{ADA}", expires_in=900
    )
    assert site.api.calls[-1] == ("sign_in", (ADA, BROWSER))
    assert await site.account.sign_in(ADA, "wrong", BROWSER) == Refusal(message="Invalid email or password")
    site.api.down = True
    with pytest.raises(Unavailable):
        await site.account.sign_in(ADA, "secret-pw", BROWSER)


async def test_signing_out_of_a_session_that_ended_already_is_fine(site: Site) -> None:
    await site.account.sign_out(site.ada)
    assert ADA in site.api.ended
    await site.account.sign_out(site.ada)  # the API says the session ended: so much the better
    site.api.down = True
    with pytest.raises(Unavailable):
        await site.account.sign_out(site.ada)


async def test_the_activation_code_is_sent_without_surrounding_blanks(site: Site) -> None:
    assert await site.account.activate(f"  {CODE}\n") is None
    assert site.api.calls[-1] == ("activate", (CODE,))
    site.api.refuse("activate", Invalid({"code": ["Invalid or expired code"]}))
    assert await site.account.activate(CODE) == Refusal(
        message="Validation failed", errors={"code": ["Invalid or expired code"]}
    )


@pytest.mark.parametrize(
    ("user_id", "code"),
    [("not-an-id", CODE), (str(uuid.uuid4()), "short"), (str(uuid.uuid4()), "é" * 40), (str(uuid.uuid4()), "a-" * 20)],
    ids=["not-an-id", "short-code", "non-ascii-code", "code-with-dashes"],
)
async def test_a_set_password_link_that_is_not_ours_is_invalid_without_asking_auth(
    site: Site, user_id: str, code: str
) -> None:
    with pytest.raises(BadInput, match=INVALID_LINK):
        await site.account.check_link(user_id, code)
    assert site.api.calls == []


async def test_a_set_password_link_auth_refuses_is_invalid_and_one_it_honours_is_shown(site: Site) -> None:
    user = uuid.uuid4()
    link = await site.account.check_link(str(user).upper(), CODE)
    assert link == SetPasswordLink(user_id=str(user), code=CODE), "the id as auth writes it"
    site.api.refuse("check_set_password_link", NotFound("No such link"))
    with pytest.raises(BadInput, match=INVALID_LINK):
        await site.account.check_link(str(user), CODE)
    site.api.down = True
    with pytest.raises(Unavailable):
        await site.account.check_link(str(user), CODE)


async def test_setting_the_password_refused_for_the_link_is_an_invalid_link_else_the_form(site: Site) -> None:
    link = SetPasswordLink(user_id=str(uuid.uuid4()), code=CODE)
    site.api.refuse("set_password", Invalid({"hash": ["Invalid or expired"]}))
    with pytest.raises(BadInput, match=INVALID_LINK):
        await site.account.set_password(link, "pw-1", "pw-1")
    site.api.refuse("set_password", Invalid({"password": ["Too short"]}))
    assert await site.account.set_password(link, "pw", "pw") == Refusal(
        message="Validation failed", errors={"password": ["Too short"]}
    )
    assert await site.account.set_password(link, "long-enough", "long-enough") is None


async def test_a_signed_in_change_of_password_needs_a_session_the_api_still_accepts(site: Site) -> None:
    await site.account.request_password_change(site.ada)
    site.api.refuse("change_password", Invalid({"code": ["Invalid code"]}))
    assert (await site.account.change_password(site.ada, "x", "p", "p")) == Refusal(
        message="Validation failed", errors={"code": ["Invalid code"]}
    )
    site.api.ended.add(ADA)
    with pytest.raises(SessionEnded):
        await site.account.request_password_change(site.ada)
    with pytest.raises(SessionEnded):
        await site.account.change_password(site.ada, "x", "p", "p")


# ------------------------------------------------------------------ profile and balance


async def test_the_profile_is_saved_trimmed_and_refused_values_come_back(site: Site) -> None:
    assert await site.finances.update_profile(site.ada, "  Ada ", " King ") is None
    profile = await site.finances.profile(site.ada)
    assert (profile.first_name, profile.last_name, profile.email) == ("Ada", "King", ADA)
    refused = await site.finances.update_profile(site.ada, "A", "King")
    assert refused == Refusal(message="Validation failed", errors={"first_name": ["Must be 2 to 50 characters"]})


async def test_the_balance_page_shows_the_totals_and_a_bar_per_month(site: Site) -> None:
    salary = await site.category("Salary")
    await site.transaction(salary, "income", "100", occurred_on="2026-10-01")
    await site.transaction(salary, "expense", "25.50", occurred_on="2026-11-02")
    shown = await site.finances.balance(site.ada)
    assert (shown.balance.balance, shown.balance.income_total, shown.balance.expense_total) == (7_450, 10_000, 2_550)
    assert [(c.name, c.balance) for c in shown.balance.categories] == [("Salary", 7_450)]
    assert [(b.month, b.income.value, b.expense.value) for b in shown.chart.bars] == [
        ("2026-10", "100.00", "0.00"),
        ("2026-11", "0.00", "25.50"),
    ]


# ------------------------------------------------------------------ categories


async def test_categories_are_added_once_per_name_and_deleted_with_their_transactions(site: Site) -> None:
    food = await site.category("Food")
    assert await site.finances.add_category(site.ada, "FOOD", "") == Refusal(
        message="A category with this name exists already"
    )
    assert await site.finances.add_category(site.ada, "Rent", "monthly") is None
    assert [(c.name, c.description) for c in await site.finances.categories(site.ada)] == [
        ("Food", None),
        ("Rent", "monthly"),
    ], "an empty description is none"
    assert await site.finances.delete_category(site.ada, food) is None
    with pytest.raises(NotFound, match=NOT_YOURS):
        await site.finances.delete_category(site.ada, food)


async def test_a_refused_deletion_is_shown_on_the_page_and_another_users_category_is_not_found(site: Site) -> None:
    food = await site.category("Food")
    site.api.refuse("delete_category", Conflict("The category is in use"))
    assert await site.finances.delete_category(site.ada, food) == Refusal(message="The category is in use")
    site.api.accounts["eve@example.org"] = "pw"
    with pytest.raises(NotFound, match=NOT_YOURS):
        await site.finances.delete_category(caller_of("eve@example.org"), food)


# ------------------------------------------------------------------ transactions


async def test_a_transaction_form_needs_an_amount_and_keeps_the_other_refused_fields(site: Site) -> None:
    salary = await site.category()
    fields = {"category_id": salary, "type": "income", "amount": "12.345", "memo": "m\x1b"}
    refused = await site.finances.add_transaction(site.ada, fields, {"memo": ["Must not contain control characters"]})
    assert refused == Refusal(
        message=FORM,
        errors={
            "memo": ["Must not contain control characters"],
            "amount": ["Enter an amount greater than 0 with at most two decimals, like 12.50"],
        },
    )
    assert [name for name, _ in site.api.calls if name == "create_transaction"] == [], "nothing was sent"


async def test_the_ledgers_refusal_of_a_transaction_comes_back_to_the_form(site: Site) -> None:
    salary = await site.category()
    expense = {"category_id": salary, "type": "expense", "amount": "1", "memo": "coffee"}
    assert await site.finances.add_transaction(site.ada, expense, {}) == Refusal(
        message="The balance cannot go below zero"
    )


async def test_the_list_is_filtered_paged_and_a_refused_filter_is_named_as_the_page_names_it(site: Site) -> None:
    salary = await site.category()
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        await site.transaction(salary, "income", "1", occurred_on=day, memo=f"pay {day}")
    shown = await site.finances.transactions(site.ada, {"type": "income", "from": "2026-11-02", "q": ""}, "")
    assert ([t.occurred_on for t in shown.items], shown.total, shown.filter_errors) == (
        ["2026-11-03", "2026-11-02"],
        2,
        {},
    )
    assert site.api.calls[-1] == ("transactions", ({"limit": 100, "type": "income", "from": "2026-11-02"},))
    assert [c.name for c in shown.categories] == ["Salary"]
    page_two = await site.finances.transactions(site.ada, {}, "2")
    assert ([t.occurred_on for t in page_two.items], page_two.total, page_two.offset) == (["2026-11-01"], 3, 2)
    refused = await site.finances.transactions(site.ada, {"type": "gift", "from": "yesterday"}, "")
    assert (refused.items, refused.total) == ([], 0)
    assert refused.filter_errors == {"type": ["Expected `'income' | 'expense'`"], "from": ["Expected a date"]}
    site.api.refuse("transactions", Invalid({}, "Offset must be from 0 to 10000"))
    unnamed = await site.finances.transactions(site.ada, {}, "99999999")
    assert unnamed.filter_errors == {"q": ["Offset must be from 0 to 10000"]}


async def test_editing_shows_the_amount_as_a_decimal_and_saves_the_change(site: Site) -> None:
    salary = await site.category()
    await site.transaction(salary, "income", "12.5")
    [item] = (await site.finances.transactions(site.ada, {}, "")).items
    shown = await site.finances.edit(site.ada, item.id)
    assert (shown.form["amount"], shown.form["memo"], shown.form["category_id"]) == ("12.50", "m", salary)
    fields = {"category_id": salary, "type": "income", "amount": "20", "memo": "renamed"}
    assert await site.finances.update_transaction(site.ada, item.id, fields, {}) is None
    changed = await site.finances.edit(site.ada, item.id)
    assert (changed.item.amount, changed.item.memo) == (2_000, "renamed")
    assert await site.finances.delete_transaction(site.ada, item.id) is None
    with pytest.raises(NotFound, match=NOT_YOURS):
        await site.finances.edit(site.ada, item.id)
    with pytest.raises(NotFound, match=NOT_YOURS):
        await site.finances.delete_transaction(site.ada, item.id)


async def test_a_session_that_ended_or_an_api_that_is_away_is_never_a_refusal_of_the_form(site: Site) -> None:
    salary = await site.category()
    fields = {"category_id": salary, "type": "income", "amount": "1", "memo": "m"}
    site.api.ended.add(ADA)
    with pytest.raises(SessionEnded):
        await site.finances.add_transaction(site.ada, fields, {})
    with pytest.raises(SessionEnded):
        await site.finances.delete_category(site.ada, salary)
    site.api.ended.clear()
    site.api.down = True
    with pytest.raises(Unavailable):
        await site.finances.add_category(site.ada, "Rent", "")
    with pytest.raises(Unavailable):
        await site.finances.balance(site.ada)


def test_an_over_long_field_is_refused_without_reading_it_through() -> None:
    """Each character of a field was looked up for control characters whatever its length: a 1 MiB
    field held the event loop a quarter of a second; one over MAX_FIELD is refused for its length."""
    form = Form({"memo": "a" * 1_000_000 + "\x1b", "name": "Ada\x1b", "description": "two\nlines"})
    assert form.refused == {
        "memo": [f"Must be at most {MAX_FIELD} characters"],
        "name": ["Must not contain control characters"],
    }
