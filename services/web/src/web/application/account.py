"""The account pages' use cases: sign-up, activation, sign-in and sign-out, forgot / reset
password, an admin-created user's set-password link, and the e-mailed password change."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

import msgspec

from blazing_app import ApplicationError, BadInput, Browser, Unavailable
from web.application.ports import AccountApi, Caller, SessionEnded, Tokens
from web.application.refusals import Refusal, attempt

INVALID_LINK = "This link is invalid or has expired; ask an administrator for a new one"


class SetPasswordLink(msgspec.Struct, frozen=True, kw_only=True):
    """The set-password link's parameters, as the e-mail carries them."""

    user_id: str
    code: str


def link_of(user_id: str, code: str) -> SetPasswordLink:
    """A user id and a 40-character code, or the link is not one of ours."""
    try:
        uid = str(uuid.UUID(user_id))
    except ValueError:
        raise BadInput(INVALID_LINK) from None
    if len(code) != 40 or not code.isascii() or not code.isalnum():
        raise BadInput(INVALID_LINK)
    return SetPasswordLink(user_id=uid, code=code)


@dataclass(eq=False)
class Account:
    api: AccountApi

    async def sign_up(self, first_name: str, last_name: str, email: str, password: str, confirm: str) -> Refusal | None:
        return await attempt(self.api.sign_up(first_name, last_name, email, password, confirm))

    async def activate(self, code: str) -> Refusal | None:
        return await attempt(self.api.activate(code.strip()))

    async def sign_in(self, email: str, password: str, browser: Browser) -> Tokens | Refusal:
        return await attempt(self.api.sign_in(email, password, browser))

    async def sign_out(self, caller: Caller) -> None:
        with contextlib.suppress(SessionEnded):  # auth says the session already ended: so much the better
            await self.api.sign_out(caller)

    async def forgot_password(self, email: str) -> Refusal | None:
        return await attempt(self.api.forgot_password(email))

    async def reset_password(self, code: str, password: str, confirm: str) -> Refusal | None:
        return await attempt(self.api.reset_password(code, password, confirm))

    async def check_link(self, user_id: str, code: str) -> SetPasswordLink:
        """The link when auth still honours it; else the link is invalid (auth away: 503)."""
        link = link_of(user_id, code)
        try:
            await self.api.check_set_password_link(link.user_id, link.code)
        except Unavailable:
            raise
        except ApplicationError:
            raise BadInput(INVALID_LINK) from None
        return link

    async def set_password(self, link: SetPasswordLink, password: str, confirm: str) -> Refusal | None:
        refused = await attempt(self.api.set_password(link.user_id, link.code, password, confirm))
        if refused is not None and ("hash" in refused.errors or "user_id" in refused.errors):
            raise BadInput(INVALID_LINK)
        return refused

    async def request_password_change(self, caller: Caller) -> None:
        await self.api.request_password_change(caller)

    async def change_password(self, caller: Caller, code: str, password: str, confirm: str) -> Refusal | None:
        return await attempt(self.api.change_password(caller, code, password, confirm))
