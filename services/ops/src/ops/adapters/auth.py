"""Auth, as the console signs in and out through it (auth's own address, not the public one)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
import msgspec

from blazing_app import Browser, Unavailable
from blazing_service.identity import Identity, sign
from blazing_service.pages import UNAVAILABLE, SignedIn, browser_headers, refusal_of
from ops.application.ports import Operator

log = logging.getLogger(__name__)


@dataclass(eq=False)
class AuthClient:
    client: httpx.AsyncClient
    auth_url: str
    identity_secret: str = field(repr=False)

    async def _post(
        self, path: str, *, json: object = None, headers: Mapping[str, str] | Mapping[bytes, bytes]
    ) -> httpx.Response:
        try:
            return await self.client.post(f"{self.auth_url}{path}", json=json, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("POST %s failed: %r", path, exc)
            raise Unavailable(UNAVAILABLE) from None

    async def sign_in(self, email: str, password: str, browser: Browser) -> Operator:
        r = await self._post(
            "/api/v1/auth/sign-in",
            json={"email": email, "password": password},
            headers=browser_headers(browser),
        )
        if r.status_code != 200:
            raise refusal_of(r.status_code, r.content)
        signed = msgspec.json.decode(r.content, type=SignedIn)
        identity = Identity(user_id=signed.user.id, permissions=signed.user.permissions, session_id=signed.session_id)
        return Operator(
            user_id=signed.user.id,
            email=signed.user.email,
            admin=identity.is_admin,
            session_id=signed.session_id,
            permissions=signed.user.permissions,
            access_token=signed.access_token,
            expires_in=signed.expires_in,
        )

    async def sign_out(self, user_id: uuid.UUID, session_id: uuid.UUID | None, permissions: int) -> None:
        """Whatever auth answers: a session it ended already is as good as one it ends now."""
        identity = Identity(user_id=user_id, permissions=permissions, session_id=session_id)
        await self._post("/api/v1/auth/sign-out", headers=sign(identity, self.identity_secret))
