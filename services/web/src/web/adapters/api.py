"""The APIs the pages call, over HTTP (each service's own address): one method per call, its
result decoded into its type, its refusal raised as the application's error.

The API unreachable or failing (5xx) is ``Unavailable`` (the 503 page); a signed call's 401 means
the session ended between the gateway and here: ``SessionEnded`` (sign in again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
import msgspec

from blazing_app import Browser, Unavailable
from blazing_service.pages import UNAVAILABLE, browser_headers, refusal_of
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

log = logging.getLogger(__name__)
T = TypeVar("T")


class UserBody(msgspec.Struct, frozen=True):
    user: Profile


class Items(msgspec.Struct, frozen=True):
    items: list[Category]


class Months(msgspec.Struct, frozen=True):
    months: list[Month]


class OneTransaction(msgspec.Struct, frozen=True):
    transaction: Transaction


class HttpApi:
    def __init__(self, client: httpx.AsyncClient, *, auth_url: str, users_url: str, ledger_url: str) -> None:
        self.client = client
        self.auth, self.users, self.ledger = auth_url, users_url, ledger_url

    async def _call(
        self,
        method: str,
        url: str,
        caller: Caller | None = None,
        *,
        ok: Callable[[int], bool] = lambda status: 200 <= status < 300,
        **options: Any,
    ) -> httpx.Response:
        """One API call; what ``ok`` does not accept is raised (see the module's docstring)."""
        headers = {**options.pop("headers", {}), **(caller.headers if caller else {})}
        try:
            r = await self.client.request(method, url, headers=headers, **options)
        except httpx.HTTPError as exc:
            log.warning("%s %s failed: %r", method, url, exc)
            raise Unavailable(UNAVAILABLE) from None
        if r.status_code >= 500:
            log.warning("%s %s answered %s", method, url, r.status_code)
            raise Unavailable(UNAVAILABLE)
        if caller is not None and r.status_code == 401:
            raise SessionEnded
        if not ok(r.status_code):
            raise refusal_of(r.status_code, r.content)
        return r

    async def _get(self, url: str, caller: Caller, into: type[T], **params: Any) -> T:
        r = await self._call("GET", url, caller, params=params or None)
        return msgspec.json.decode(r.content, type=into)

    # ------------------------------------------------------------------ auth

    async def sign_up(self, first_name: str, last_name: str, email: str, password: str, confirm: str) -> None:
        fields = {"first_name": first_name, "last_name": last_name, "email": email, "password": password}
        body = {**fields, "confirm_password": confirm}
        await self._call("POST", f"{self.auth}/api/v1/auth/sign-up", ok=(201, 202).__contains__, json=body)

    async def activate(self, code: str) -> None:
        await self._call("POST", f"{self.auth}/api/v1/account/activate-account", json={"code": code})

    async def sign_in(self, email: str, password: str, browser: Browser) -> Tokens:
        r = await self._call(
            "POST",
            f"{self.auth}/api/v1/auth/sign-in",
            json={"email": email, "password": password},
            headers=browser_headers(browser),
        )
        return msgspec.json.decode(r.content, type=Tokens)

    async def sign_out(self, caller: Caller) -> None:
        # whatever auth answers short of failing: a session it ended already is as good as one it ends now
        await self._call("POST", f"{self.auth}/api/v1/auth/sign-out", caller, ok=lambda status: status < 500)

    async def forgot_password(self, email: str) -> None:
        await self._call("POST", f"{self.auth}/api/v1/account/forgot-password", json={"email": email})

    async def reset_password(self, code: str, password: str, confirm: str) -> None:
        body = {"code": code, "password": password, "confirm_password": confirm}
        await self._call("POST", f"{self.auth}/api/v1/account/reset-password", json=body)

    async def check_set_password_link(self, user_id: str, code: str) -> None:
        params = {"user_id": user_id, "hash": code}
        await self._call("GET", f"{self.auth}/api/v1/account/set-password-when-needed", params=params)

    async def set_password(self, user_id: str, code: str, password: str, confirm: str) -> None:
        body = {"user_id": user_id, "hash": code, "password": password, "confirm_password": confirm}
        await self._call("POST", f"{self.auth}/api/v1/account/set-password-when-needed", json=body)

    async def request_password_change(self, caller: Caller) -> None:
        await self._call("POST", f"{self.auth}/api/v1/password/change-password", caller)

    async def change_password(self, caller: Caller, code: str, password: str, confirm: str) -> None:
        body = {"code": code, "password": password, "confirm_password": confirm}
        await self._call("POST", f"{self.auth}/api/v1/password/verify-password-change", caller, json=body)

    # ------------------------------------------------------------------ users

    async def profile(self, caller: Caller) -> Profile:
        return (await self._get(f"{self.users}/api/v1/user", caller, UserBody)).user

    async def update_profile(self, caller: Caller, first_name: str, last_name: str) -> None:
        body = {"first_name": first_name, "last_name": last_name}
        await self._call("PATCH", f"{self.users}/api/v1/user", caller, json=body)

    # ------------------------------------------------------------------ ledger

    async def balance(self, caller: Caller) -> Balance:
        return await self._get(f"{self.ledger}/api/v1/balance", caller, Balance)

    async def monthly(self, caller: Caller) -> list[Month]:
        return (await self._get(f"{self.ledger}/api/v1/reports/monthly", caller, Months)).months

    async def categories(self, caller: Caller) -> list[Category]:
        return (await self._get(f"{self.ledger}/api/v1/categories", caller, Items)).items

    async def create_category(self, caller: Caller, name: str, description: str | None) -> None:
        body = {"name": name} | ({"description": description} if description else {})
        await self._call("POST", f"{self.ledger}/api/v1/categories", caller, json=body)

    async def delete_category(self, caller: Caller, category_id: str) -> None:
        await self._call("DELETE", f"{self.ledger}/api/v1/categories/{category_id}", caller)

    async def transactions(self, caller: Caller, query: Mapping[str, str | int]) -> Listing:
        return await self._get(f"{self.ledger}/api/v1/transactions", caller, Listing, **query)

    async def transaction(self, caller: Caller, transaction_id: str) -> Transaction:
        url = f"{self.ledger}/api/v1/transactions/{transaction_id}"
        return (await self._get(url, caller, OneTransaction)).transaction

    async def create_transaction(self, caller: Caller, new: NewTransaction) -> None:
        await self._call("POST", f"{self.ledger}/api/v1/transactions", caller, json=msgspec.to_builtins(new))

    async def update_transaction(self, caller: Caller, transaction_id: str, new: NewTransaction) -> None:
        url = f"{self.ledger}/api/v1/transactions/{transaction_id}"
        await self._call("PATCH", url, caller, json=msgspec.to_builtins(new))

    async def delete_transaction(self, caller: Caller, transaction_id: str) -> None:
        await self._call("DELETE", f"{self.ledger}/api/v1/transactions/{transaction_id}", caller)
