"""The APIs in memory, for the pages' use-case tests without a server: accounts, a profile, the
ledger's categories and transactions with the ledger's main rules (names unique per user, no
balance below zero, another user's data not found, filters judged), plus what a test arranges —
an API that is away (``down``), a session that ended (``ended``), the next refusal of a call
(``refuse``) — and every call made (``calls``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date

from blazing_app import (
    ApplicationError,
    Browser,
    Conflict,
    Invalid,
    NotFound,
    Refused,
    Unauthenticated,
    Unavailable,
)
from blazing_service.pages import UNAVAILABLE
from web.application.ports import (
    Balance,
    Caller,
    Category,
    Listing,
    NewTransaction,
    Profile,
    SessionEnded,
    Tokens,
    Transaction,
)
from web.domain.chart import Month


def caller_of(email: str) -> Caller:
    """The identity the gateway would sign for ``email``'s session (opaque to the pages)."""
    return Caller({"x-identity": email})


class FakeApi:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.down = False
        self.ended: set[str] = set()
        self.refusals: dict[str, ApplicationError] = {}
        self.accounts: dict[str, str] = {}
        self.names: dict[str, tuple[str, str]] = {}
        self.category_rows: dict[str, tuple[str, Category]] = {}
        """id → (owner, category)."""
        self.transaction_rows: dict[str, tuple[str, Transaction]] = {}

    def refuse(self, call: str, error: ApplicationError) -> None:
        """The next ``call`` is refused with ``error``."""
        self.refusals[call] = error

    def _enter(self, name: str, caller: Caller | None, *args: object) -> str:
        self.calls.append((name, args))
        if self.down:
            raise Unavailable(UNAVAILABLE)
        who = caller.headers.get("x-identity", "") if caller else ""
        if caller is not None and (who in self.ended or who not in self.accounts):
            raise SessionEnded
        if (refusal := self.refusals.pop(name, None)) is not None:
            raise refusal
        return who

    # ------------------------------------------------------------------ auth

    async def sign_up(self, first_name: str, last_name: str, email: str, password: str, confirm: str) -> None:
        self._enter("sign_up", None, email)
        if password != confirm:
            raise Invalid({"confirm_password": ["Passwords do not match"]})
        if email in self.accounts:
            raise Conflict("This e-mail address is taken")
        self.accounts[email] = password
        self.names[email] = (first_name, last_name)

    async def activate(self, code: str) -> None:
        self._enter("activate", None, code)

    async def sign_in(self, email: str, password: str, browser: Browser) -> Tokens:
        self._enter("sign_in", None, email, browser)
        if self.accounts.get(email) != password:
            raise Unauthenticated("Invalid email or password")
        return Tokens(access_token=f"token-of-{email}", expires_in=900)

    async def sign_out(self, caller: Caller) -> None:
        self.ended.add(self._enter("sign_out", caller))

    async def forgot_password(self, email: str) -> None:
        self._enter("forgot_password", None, email)

    async def reset_password(self, code: str, password: str, confirm: str) -> None:
        self._enter("reset_password", None, code)

    async def check_set_password_link(self, user_id: str, code: str) -> None:
        self._enter("check_set_password_link", None, user_id, code)

    async def set_password(self, user_id: str, code: str, password: str, confirm: str) -> None:
        self._enter("set_password", None, user_id, code)

    async def request_password_change(self, caller: Caller) -> None:
        self._enter("request_password_change", caller)

    async def change_password(self, caller: Caller, code: str, password: str, confirm: str) -> None:
        self._enter("change_password", caller, code)

    # ------------------------------------------------------------------ users

    async def profile(self, caller: Caller) -> Profile:
        who = self._enter("profile", caller)
        first, last = self.names.get(who, ("", ""))
        at = "2026-11-30T12:00:00Z"
        return Profile(email=who, first_name=first, last_name=last, balance=self._total(who), created_at=at)

    async def update_profile(self, caller: Caller, first_name: str, last_name: str) -> None:
        who = self._enter("update_profile", caller, first_name, last_name)
        given = (("first_name", first_name), ("last_name", last_name))
        errors = {k: ["Must be 2 to 50 characters"] for k, v in given if not 2 <= len(v) <= 50}
        if errors:
            raise Invalid(errors)
        self.names[who] = (first_name, last_name)

    # ------------------------------------------------------------------ ledger

    def _mine(self, who: str) -> list[Transaction]:
        return [t for owner, t in self.transaction_rows.values() if owner == who]

    def _total(self, who: str, category_id: str | None = None) -> int:
        return sum(
            t.amount if t.type == "income" else -t.amount
            for t in self._mine(who)
            if category_id is None or t.category_id == category_id
        )

    async def balance(self, caller: Caller) -> Balance:
        who = self._enter("balance", caller)
        mine = self._mine(who)
        return Balance(
            balance=self._total(who),
            income_total=sum(t.amount for t in mine if t.type == "income"),
            expense_total=sum(t.amount for t in mine if t.type == "expense"),
            categories=await self.categories_of(who),
        )

    async def monthly(self, caller: Caller) -> list[Month]:
        who = self._enter("monthly", caller)
        months: dict[str, list[int]] = {}
        for t in self._mine(who):
            pair = months.setdefault(t.occurred_on[:7], [0, 0])
            pair[0 if t.type == "income" else 1] += t.amount
        return [Month(month=m, income=i, expense=e) for m, (i, e) in sorted(months.items())]

    async def categories_of(self, who: str) -> list[Category]:
        mine = [c for owner, c in self.category_rows.values() if owner == who]
        return sorted(
            (Category(id=c.id, name=c.name, description=c.description, balance=self._total(who, c.id)) for c in mine),
            key=lambda c: c.name.lower(),
        )

    async def categories(self, caller: Caller) -> list[Category]:
        return await self.categories_of(self._enter("categories", caller))

    async def create_category(self, caller: Caller, name: str, description: str | None) -> None:
        who = self._enter("create_category", caller, name, description)
        if not name.strip():
            raise Invalid({"name": ["Name must be 1 to 255 characters"]})
        if any(c.name.lower() == name.strip().lower() for c in await self.categories_of(who)):
            raise Conflict("A category with this name exists already")
        cid = str(uuid.uuid4())
        self.category_rows[cid] = (who, Category(id=cid, name=name.strip(), description=description))

    async def delete_category(self, caller: Caller, category_id: str) -> None:
        who = self._enter("delete_category", caller, category_id)
        if self.category_rows.get(category_id, ("",))[0] != who:
            raise NotFound("Category not found")
        del self.category_rows[category_id]
        for tid in [tid for tid, (_, t) in self.transaction_rows.items() if t.category_id == category_id]:
            del self.transaction_rows[tid]

    async def transactions(self, caller: Caller, query: Mapping[str, str | int]) -> Listing:
        who = self._enter("transactions", caller, dict(query))
        errors: dict[str, list[str]] = {}
        if query.get("type", "income") not in ("income", "expense"):
            errors["kind"] = ["Expected `'income' | 'expense'`"]
        for name, wire in (("from", "date_from"), ("to", "date_to")):
            try:
                if name in query:
                    date.fromisoformat(str(query[name]))
            except ValueError:
                errors[wire] = ["Expected a date"]
        if errors:
            raise Invalid(errors)
        found = [
            t
            for t in self._mine(who)
            if query.get("type") in (None, t.type)
            and query.get("category_id") in (None, t.category_id)
            and str(query.get("from", "")) <= t.occurred_on
            and (not query.get("to") or t.occurred_on <= str(query["to"]))
            and str(query.get("q", "")).lower() in t.memo.lower()
        ]
        found.sort(key=lambda t: t.occurred_on, reverse=True)
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 20))
        return Listing(items=found[offset : offset + limit], total=len(found), offset=offset)

    async def transaction(self, caller: Caller, transaction_id: str) -> Transaction:
        who = self._enter("transaction", caller, transaction_id)
        found = self.transaction_rows.get(transaction_id)
        if found is None or found[0] != who:
            raise NotFound("Transaction not found")
        return found[1]

    def _write(self, who: str, tid: str, new: NewTransaction) -> None:
        if self.category_rows.get(new.category_id, ("",))[0] != who:
            raise NotFound("Category not found")
        before = self.transaction_rows.get(tid)
        t = Transaction(
            id=tid,
            category_id=new.category_id,
            type=new.type,
            amount=new.amount,
            memo=new.memo,
            occurred_on=new.occurred_on or "2026-11-30",
            description=new.description,
        )
        self.transaction_rows[tid] = (who, t)
        if self._total(who) < 0:
            if before is None:
                del self.transaction_rows[tid]
            else:
                self.transaction_rows[tid] = before
            raise Refused("The balance cannot go below zero")

    async def create_transaction(self, caller: Caller, new: NewTransaction) -> None:
        self._write(self._enter("create_transaction", caller, new), str(uuid.uuid4()), new)

    async def update_transaction(self, caller: Caller, transaction_id: str, new: NewTransaction) -> None:
        who = self._enter("update_transaction", caller, transaction_id, new)
        if self.transaction_rows.get(transaction_id, ("",))[0] != who:
            raise NotFound("Transaction not found")
        self._write(who, transaction_id, new)

    async def delete_transaction(self, caller: Caller, transaction_id: str) -> None:
        who = self._enter("delete_transaction", caller, transaction_id)
        if self.transaction_rows.get(transaction_id, ("",))[0] != who:
            raise NotFound("Transaction not found")
        del self.transaction_rows[transaction_id]
