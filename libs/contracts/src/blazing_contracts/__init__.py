"""Blazing Sun's published language, shared by every producer and consumer."""

from blazing_contracts import events as events
from blazing_contracts.commands import (
    AnyCommand,
    CommandEnvelope,
    CreateUser,
    CreateUserResult,
    RevokeSessions,
    RevokeSessionsResult,
    SendEmail,
    SetAvatar,
    decode_command,
    encode_command,
    make_command,
)
from blazing_contracts.dead_letter import (
    DeadLetterRecord,
    RecordHeader,
    decode_dead_letter,
    encode_dead_letter,
)
from blazing_contracts.envelope import (
    AnyEvent,
    EventEnvelope,
    decode_event,
    encode_event,
    make_event,
    record_headers,
    topic_of,
)
from blazing_contracts.errors import ContractError
from blazing_contracts.registry import REGISTRY, EventPayload

__all__ = [
    "REGISTRY",
    "AnyCommand",
    "AnyEvent",
    "CommandEnvelope",
    "ContractError",
    "CreateUser",
    "CreateUserResult",
    "DeadLetterRecord",
    "EventEnvelope",
    "EventPayload",
    "RecordHeader",
    "RevokeSessions",
    "RevokeSessionsResult",
    "SendEmail",
    "SetAvatar",
    "decode_command",
    "decode_dead_letter",
    "decode_event",
    "encode_command",
    "encode_dead_letter",
    "encode_event",
    "events",
    "make_command",
    "make_event",
    "record_headers",
    "topic_of",
]
