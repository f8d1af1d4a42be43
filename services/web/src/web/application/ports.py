"""What the pages' use cases need: the APIs (auth, users, ledger) as one typed client, its results
and its refusals. adapters/api.py implements it over HTTP; adapters/memory.py is the fake the unit
tests use.

Every call of the client either returns its typed result or raises the application's error of
the API's refusal (blazing_app: Invalid with the field errors, NotFound, Refused, …; Unavailable
when the API is away or failing; SessionEnded when a signed call's session is no longer accepted).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import msgspec

from blazing_app import Browser, Unauthenticated
from web.domain.chart import Month


class SessionEnded(Unauthenticated):
    """The APIs no longer accept the caller's session (it expired or was revoked after the gateway
    vouched for it): sign in again."""


class Caller(msgspec.Struct, frozen=True):
    """Who calls: the identity the gateway signed for this request, passed on to the APIs as it came."""

    headers: dict[str, str]


class Tokens(msgspec.Struct, frozen=True, kw_only=True):
    access_token: str
    expires_in: int


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    first_name: str | None = None
    last_name: str | None = None
    balance: int = 0
    created_at: str = ""


class Category(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str | None = None
    balance: int = 0


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    balance: int
    income_total: int
    expense_total: int
    categories: list[Category]


class TransactionValues(msgspec.Struct, frozen=True, kw_only=True):
    """What a transaction is, as the ledger shows it and as a form sends it."""

    category_id: str
    type: str
    amount: int
    memo: str


class Transaction(TransactionValues, frozen=True, kw_only=True):
    id: str
    occurred_on: str
    description: str | None = None


class Listing(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Transaction]
    total: int
    offset: int = 0


class NewTransaction(TransactionValues, frozen=True, kw_only=True, omit_defaults=True):
    """A transaction as a form sends it (the ledger judges the values)."""

    occurred_on: str | None = None
    description: str | None = None


class AccountApi(Protocol):
    """Auth: accounts, sessions and passwords."""

    async def sign_up(self, first_name: str, last_name: str, email: str, password: str, confirm: str) -> None: ...

    async def activate(self, code: str) -> None: ...

    async def sign_in(self, email: str, password: str, browser: Browser) -> Tokens: ...

    async def sign_out(self, caller: Caller) -> None:
        """Ends the caller's session (one that ended already is as good)."""

    async def forgot_password(self, email: str) -> None: ...

    async def reset_password(self, code: str, password: str, confirm: str) -> None: ...

    async def check_set_password_link(self, user_id: str, code: str) -> None:
        """Whether an admin-created user's set-password link is still good (raises when not)."""

    async def set_password(self, user_id: str, code: str, password: str, confirm: str) -> None: ...

    async def request_password_change(self, caller: Caller) -> None:
        """Auth e-mails the caller a code to confirm a password change with."""

    async def change_password(self, caller: Caller, code: str, password: str, confirm: str) -> None: ...


class UsersApi(Protocol):
    async def profile(self, caller: Caller) -> Profile: ...

    async def update_profile(self, caller: Caller, first_name: str, last_name: str) -> None: ...


class LedgerApi(Protocol):
    async def balance(self, caller: Caller) -> Balance: ...

    async def monthly(self, caller: Caller) -> list[Month]: ...

    async def categories(self, caller: Caller) -> list[Category]: ...

    async def create_category(self, caller: Caller, name: str, description: str | None) -> None: ...

    async def delete_category(self, caller: Caller, category_id: str) -> None: ...

    async def transactions(self, caller: Caller, query: Mapping[str, str | int]) -> Listing:
        """A page of the caller's transactions; ``query`` holds the filters, limit and offset as the
        ledger takes them (it judges them: Invalid names a refused one)."""

    async def transaction(self, caller: Caller, transaction_id: str) -> Transaction: ...

    async def create_transaction(self, caller: Caller, new: NewTransaction) -> None: ...

    async def update_transaction(self, caller: Caller, transaction_id: str, new: NewTransaction) -> None: ...

    async def delete_transaction(self, caller: Caller, transaction_id: str) -> None: ...


class Api(AccountApi, UsersApi, LedgerApi, Protocol):
    """Every API the pages call."""
