"""The signed-in pages' use cases: profile, balance with its monthly chart, categories and
transactions — each on the caller's own data through the APIs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from blazing_app import FieldErrors, Invalid, NotFound
from web.application.ports import (
    Balance,
    Caller,
    Category,
    LedgerApi,
    NewTransaction,
    Profile,
    Transaction,
    UsersApi,
)
from web.application.refusals import FORM, Refusal, attempt, mine
from web.domain.chart import Chart, chart
from web.domain.money import cents, decimal_text

PAGE_SIZE = 100
FILTERS: Final = ("type", "category_id", "from", "to", "q")
FILTER_NAMES: Final = {"date_from": "from", "date_to": "to", "kind": "type"}
"""The ledger names some refused query parameters by its own argument names."""
AMOUNT = "Enter an amount greater than 0 with at most two decimals, like 12.50"


class BalancePage(msgspec.Struct, frozen=True, kw_only=True):
    balance: Balance
    chart: Chart


class TransactionsPage(msgspec.Struct, frozen=True, kw_only=True):
    categories: list[Category]
    items: list[Transaction]
    total: int
    offset: int
    filter_errors: FieldErrors
    """The filters the ledger refused (then there is no list)."""


class EditPage(msgspec.Struct, frozen=True, kw_only=True):
    item: Transaction
    categories: list[Category]
    form: dict[str, Any]
    """The transaction as the form shows it (the amount as a decimal)."""


def transaction_of(fields: Mapping[str, str], refused: FieldErrors) -> tuple[NewTransaction, FieldErrors]:
    """A transaction form's values as the ledger takes them, and the field errors: ``refused`` (values
    no form of ours sends) and an amount that is not one."""
    errors = {k: list(v) for k, v in refused.items()}
    amount = cents(fields.get("amount", ""))
    if amount is None:
        errors.setdefault("amount", []).append(AMOUNT)
    new = NewTransaction(
        category_id=fields.get("category_id", ""),
        type=fields.get("type", ""),
        amount=amount or 0,
        memo=fields.get("memo", ""),
        occurred_on=fields.get("occurred_on") or None,
        description=fields.get("description") or None,
    )
    return new, errors


@dataclass(eq=False)
class Finances:
    ledger: LedgerApi
    users: UsersApi

    # ------------------------------------------------------------------ profile and balance

    async def profile(self, caller: Caller) -> Profile:
        return await mine(self.users.profile(caller))

    async def update_profile(self, caller: Caller, first_name: str, last_name: str) -> Refusal | None:
        return await attempt(self.users.update_profile(caller, first_name.strip(), last_name.strip()))

    async def balance(self, caller: Caller) -> BalancePage:
        balance = await mine(self.ledger.balance(caller))
        months = await mine(self.ledger.monthly(caller))
        return BalancePage(balance=balance, chart=chart(months))

    # ------------------------------------------------------------------ categories

    async def categories(self, caller: Caller) -> list[Category]:
        return await mine(self.ledger.categories(caller))

    async def add_category(self, caller: Caller, name: str, description: str) -> Refusal | None:
        return await attempt(self.ledger.create_category(caller, name, description or None))

    async def delete_category(self, caller: Caller, category_id: str) -> Refusal | None:
        """Refused, the categories page says why; one that is not found is the 404 page."""
        return await attempt(self.ledger.delete_category(caller, category_id), ends=NotFound)

    # ------------------------------------------------------------------ transactions

    async def transactions(self, caller: Caller, filters: Mapping[str, str], offset: str) -> TransactionsPage:
        """A page of the list, filtered. The ledger judges the filters: a refused one gives its field
        errors (under the names the page's filter form uses) and no list."""
        categories = await self.categories(caller)
        query: dict[str, str | int] = {"limit": PAGE_SIZE}
        query |= {k: v for k, v in {**filters, "offset": offset}.items() if v}
        try:
            listing = await mine(self.ledger.transactions(caller, query))
        except Invalid as exc:
            refused = {FILTER_NAMES.get(k, k): v for k, v in exc.errors.items()}
            return TransactionsPage(
                categories=categories, items=[], total=0, offset=0, filter_errors=refused or {"q": [exc.message]}
            )
        return TransactionsPage(
            categories=categories,
            items=listing.items,
            total=listing.total,
            offset=listing.offset,
            filter_errors={},
        )

    async def add_transaction(self, caller: Caller, fields: Mapping[str, str], refused: FieldErrors) -> Refusal | None:
        new, errors = transaction_of(fields, refused)
        if errors:
            return Refusal(message=FORM, errors=errors)
        return await attempt(self.ledger.create_transaction(caller, new))

    async def edit(self, caller: Caller, transaction_id: str) -> EditPage:
        item = await mine(self.ledger.transaction(caller, transaction_id))
        categories = await self.categories(caller)
        form = {**msgspec.structs.asdict(item), "amount": decimal_text(item.amount)}
        return EditPage(item=item, categories=categories, form=form)

    async def update_transaction(
        self, caller: Caller, transaction_id: str, fields: Mapping[str, str], refused: FieldErrors
    ) -> Refusal | None:
        new, errors = transaction_of(fields, refused)
        if errors:
            return Refusal(message=FORM, errors=errors)
        return await attempt(self.ledger.update_transaction(caller, transaction_id, new))

    async def delete_transaction(self, caller: Caller, transaction_id: str) -> Refusal | None:
        return await attempt(self.ledger.delete_transaction(caller, transaction_id), ends=NotFound)
