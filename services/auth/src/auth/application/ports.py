"""What auth's use cases need, as protocols: PostgreSQL, Redis, RabbitMQ, argon2 and the signing keys
implement them in adapters/, the in-memory fakes in adapters/memory.py (held to the same contract:
tests/integration/test_adapters.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec

from auth.domain.codes import Code, Purpose
from auth.domain.credential import Credential
from auth.domain.sessions import RefreshToken
from blazing_contracts.types import EmailTemplate, Permission
from blazing_contracts.views import UserView
from blazing_es.ports import UnitOfWork


class RequestContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who asks: the client's address and agent, and the request's correlation id."""

    ip: str | None = None
    user_agent: str | None = None
    correlation_id: str = ""


class EmailTaken(Exception):
    """Another credential holds this e-mail address (two sign-ups of one address at once)."""


class Account(UserView, frozen=True, kw_only=True):
    """The signed-in user as the original's sign-in reply shows it (and GET /api/v1/user does)."""


class SessionRow(msgspec.Struct, frozen=True, kw_only=True):
    session_id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ip: str | None
    user_agent: str | None


# ---------------------------------------------------------------------------------- in the unit of work


class CredentialViews(Protocol):
    """The credentials read model, kept in the transaction of each write of the stream."""

    async def save(self, state: Credential, version: int) -> None:
        """The row of ``state`` (none for a credential that is gone); EmailTaken when another
        credential holds its address."""

    async def user_id_by_email(self, email: str) -> uuid.UUID | None: ...

    async def mark_profile_confirmed(self, user_id: uuid.UUID) -> None: ...

    async def account(self, user_id: uuid.UUID) -> Account | None:
        """The account of an active credential, with its profile; None otherwise."""


class OneTimeCodes(Protocol):
    async def issue(self, user_id: uuid.UUID, purpose: Purpose, lifetime: timedelta) -> str:
        """A new code (40 letters and digits); the owner's older codes of the purpose stop working."""

    async def find(self, code: str, *, lock: bool) -> Code | None:
        """The code as stored; ``lock`` holds it until the unit of work ends (to spend it)."""

    async def spend(self, code: str) -> None: ...

    async def erase(self, user_id: uuid.UUID) -> None: ...


class Sessions(Protocol):
    async def open(
        self, session_id: uuid.UUID, user_id: uuid.UUID, ttl: timedelta, ip: str | None, user_agent: str | None
    ) -> str:
        """Opens a session; returns its first refresh token."""

    async def find_refresh(self, refresh_token: str) -> RefreshToken | None:
        """The token and its session, held until the unit of work ends."""

    async def rotate(self, refresh_token: str, session_id: uuid.UUID) -> str:
        """Retires ``refresh_token`` and returns its successor; the session was seen now."""

    async def revoke(
        self, user_id: uuid.UUID, *, reason: str, only: uuid.UUID | None = None, keep: uuid.UUID | None = None
    ) -> list[uuid.UUID]:
        """Ends the user's live sessions (one, all but one, or all); returns their ids."""

    async def forget_clients(self, user_id: uuid.UUID) -> None:
        """Erasure: the sessions stay (the revocation list is rebuilt from them), without the
        addresses and agents of the clients."""


class ProfileChange(msgspec.Struct, frozen=True, kw_only=True):
    """What a user.updated / user.profile_updated changes: a None name stays as it is; the avatar
    changes (to ``avatar_url``, None: removed) only when ``avatar_changed``."""

    user_id: uuid.UUID
    first_name: str | None = None
    last_name: str | None = None
    avatar_changed: bool = False
    avatar_url: str | None = None


class ProfileViews(Protocol):
    """Auth's view of the users context's profiles (user.events): what the sign-in reply shows
    besides the credentials. Timestamps only move forward (an old event changes nothing)."""

    async def started(self, user_id: uuid.UUID, first_name: str, last_name: str, at: datetime) -> None:
        """The row a sign-up starts with, until user.created brings the users context's own."""

    async def created(self, user_id: uuid.UUID, first_name: str, last_name: str, at: datetime) -> None: ...

    async def updated(self, change: ProfileChange, at: datetime) -> None: ...

    async def balance(self, user_id: uuid.UUID, balance: int, at: datetime) -> None: ...

    async def touch(self, user_id: uuid.UUID, at: datetime) -> None: ...

    async def erase(self, user_id: uuid.UUID) -> None: ...


class AuthUnitOfWork(UnitOfWork, Protocol):
    credentials: CredentialViews
    codes: OneTimeCodes
    sessions: Sessions
    profiles: ProfileViews


# ---------------------------------------------------------------------------------- reads and services


class AuthReads(Protocol):
    """Reads outside any write (each its own snapshot of the database)."""

    async def user_id_by_email(self, email: str) -> uuid.UUID | None: ...

    async def sessions(self, user_id: uuid.UUID) -> list[SessionRow]:
        """The user's live sessions, newest first."""

    async def unconfirmed(self, older_than: timedelta) -> list[NewUser]:
        """Credentials older than that whose profile was never confirmed (at most 100)."""

    async def revoked_since(self, within: timedelta) -> list[uuid.UUID]:
        """Sessions revoked within that time (the revocation list's content)."""


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """False for None — after the same work as a real check (no enumeration by timing)."""


class TokenIssuer(Protocol):
    def issue(self, *, user_id: uuid.UUID, session_id: uuid.UUID, permissions: int) -> str:
        """A signed access token."""

    def jwks(self) -> dict[str, Any]:
        """The public keys that verify the tokens issued."""

    async def rotate(self) -> None:
        """Makes sure a fresh signing key exists, and reloads the keys."""


class RevocationList(Protocol):
    """Revoked sessions, told to the gateway (which refuses their access tokens until they expire)."""

    async def publish(self, session_ids: Sequence[uuid.UUID]) -> None: ...


class MailAllowance(Protocol):
    async def allow(self, email: str) -> bool:
        """Counts one account mail to ``email``; False once the address's allowance is spent."""


class FailedSignIns(Protocol):
    """Failed sign-ins per client address, within a window."""

    async def retry_after(self, ip: str) -> int | None:
        """Seconds until the address may try again, or None when it may now."""

    async def count(self, ip: str) -> None: ...


class Mail(msgspec.Struct, frozen=True, kw_only=True):
    template: EmailTemplate
    to: str
    name: str
    variables: dict[str, str]
    priority: int = 4
    correlation_id: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None:
        """Queued once this returns (the send_email command)."""


class NewUser(msgspec.Struct, frozen=True, kw_only=True):
    """A profile for the users service to create (at sign-up, or again for a credential whose
    profile it never confirmed)."""

    user_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    permissions: Permission = 1


class UserDirectory(Protocol):
    """The users context's create_user command."""

    async def create(self, user: NewUser, correlation_id: str, wait_seconds: float) -> bool:
        """Sends it and waits for the profile: True when users confirmed it in time (else it stays
        queued and is done later)."""

    async def create_later(self, user: NewUser, correlation_id: str) -> None:
        """Sends it again without waiting (users handles a repeat as a no-op)."""
