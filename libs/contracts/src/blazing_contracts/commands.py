"""RabbitMQ commands (SPEC §2.3): the envelope and the payload of each job.

The payload is a typed Struct inside the envelope — never a JSON string inside JSON.
``job_id`` is the idempotency key: a handler that sees the same job twice has one effect.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

import msgspec

from blazing_contracts import topology
from blazing_contracts.errors import ContractError
from blazing_contracts.types import EmailTemplate, Permission, Priority

P = TypeVar("P")


class CommandPayload(msgspec.Struct, frozen=True, kw_only=True):
    """Base of every job payload."""


class CreateUser(CommandPayload, frozen=True, kw_only=True):
    """auth → users: create the profile for credentials auth just registered (never a password)."""

    user_id: UUID
    email: str
    first_name: str
    last_name: str
    permissions: Permission = 1


class CreateUserResult(msgspec.Struct, frozen=True, kw_only=True):
    """The users service's RPC reply to create_user."""

    user_id: UUID
    status: Literal["created", "already_exists"]


class SendEmail(CommandPayload, frozen=True, kw_only=True):
    to_email: str
    to_name: str
    template: EmailTemplate
    variables: dict[str, str] = {}
    locale: str = "en"


class SetAvatar(CommandPayload, frozen=True, kw_only=True):
    """files → users: the user's profile picture is now at ``avatar_url`` (None: removed)."""

    user_id: UUID
    avatar_url: str | None = None


class RevokeSessions(CommandPayload, frozen=True, kw_only=True):
    """users → auth: the user's access changed (permissions, deletion) — every session of the user
    ends now, so the change holds from the next request on (the caller waits for the reply).

    ``permissions`` (with the user stream's ``user_version`` of the change) is what the next
    tokens carry; ``user.permissions_changed`` says the same later and is ignored when older.
    ``reason`` ``deleted`` also erases the credentials at once (``user.deleted`` repeats it)."""

    user_id: UUID
    reason: Literal["permissions_changed", "deleted", "deactivated"]
    permissions: Permission | None = None
    user_version: int = 0


class RevokeSessionsResult(msgspec.Struct, frozen=True, kw_only=True):
    """The auth service's RPC reply to revoke_sessions."""

    user_id: UUID
    sessions_revoked: int


JOB_PAYLOADS: dict[str, type[CommandPayload]] = {
    topology.JOB_CREATE_USER: CreateUser,
    topology.JOB_SEND_EMAIL: SendEmail,
    topology.JOB_SET_AVATAR: SetAvatar,
    topology.JOB_REVOKE_SESSIONS: RevokeSessions,
}
COMMAND_SCHEMA_VERSION = 1


class CommandEnvelope(msgspec.Struct, Generic[P], frozen=True, kw_only=True):
    job_id: UUID
    job_type: str
    schema_version: int = COMMAND_SCHEMA_VERSION
    priority: Priority = 3
    attempt: Annotated[int, msgspec.Meta(ge=1)] = 1
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=100)] = 3
    """The original's "fault tolerance"."""
    created_at: datetime
    correlation_id: str
    causation_id: str | None = None
    payload: P


AnyCommand = CommandEnvelope[CommandPayload]

_encoder = msgspec.json.Encoder()
_raw_decoder = msgspec.json.Decoder(CommandEnvelope[msgspec.Raw])


def make_command(
    payload: CommandPayload,
    *,
    job_id: UUID,
    created_at: datetime,
    correlation_id: str,
    priority: int = 3,
    max_attempts: int = 3,
    causation_id: str | None = None,
) -> AnyCommand:
    job_type = next(t for t, cls in JOB_PAYLOADS.items() if cls is type(payload))
    return CommandEnvelope(
        job_id=job_id,
        job_type=job_type,
        priority=priority,
        max_attempts=max_attempts,
        created_at=created_at,
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=payload,
    )


def encode_command(command: CommandEnvelope[Any]) -> bytes:
    return _encoder.encode(command)


def decode_command(data: bytes | str, expected_job_type: str | None = None) -> AnyCommand:
    """Decodes and types a command; raises ContractError for anything that is not a valid one."""
    try:
        raw = _raw_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ContractError(f"not a command envelope: {exc}") from exc
    if expected_job_type is not None and raw.job_type != expected_job_type:
        raise ContractError(f"expected a {expected_job_type} job, got {raw.job_type!r}")
    cls = JOB_PAYLOADS.get(raw.job_type)
    if cls is None:
        raise ContractError(f"unknown job type {raw.job_type!r}")
    if raw.schema_version != COMMAND_SCHEMA_VERSION:
        raise ContractError(f"unknown schema_version {raw.schema_version} of {raw.job_type}")
    try:
        payload = msgspec.json.decode(raw.payload, type=cls)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ContractError(f"invalid {raw.job_type} payload: {exc}") from exc
    return msgspec.structs.replace(raw, payload=payload)  # type: ignore[arg-type]


def next_attempt(command: CommandEnvelope[Any]) -> CommandEnvelope[Any]:
    return msgspec.structs.replace(command, attempt=command.attempt + 1)
