"""Deterministic sample messages built from the Struct definitions themselves.

The golden files under ``libs/contracts/golden/`` were written from these samples. Because a
sample is derived from the field types, retyping a field changes its sample and breaks the golden
comparison; the strict decoder also refuses the old golden. ``python -m blazing_contracts.samples
DIR`` writes the golden file of any message type or version that has none yet — it never
rewrites an existing one (a published version's wire format is frozen).
"""

from __future__ import annotations

import json
import sys
import types
import typing
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import msgspec

from blazing_contracts.commands import JOB_PAYLOADS, CommandEnvelope, CreateUserResult, RevokeSessionsResult
from blazing_contracts.dead_letter import DeadLetterRecord
from blazing_contracts.envelope import EventEnvelope
from blazing_contracts.registry import REGISTRY

_NS = UUID("6f1c1d3e-8a8e-4d0b-9f55-6a1f1c9b7a10")
_WHEN = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def _value(name: str, tp: Any) -> Any:  # noqa: PLR0911 - one branch per wire type
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(tp)
        lower = next((m.gt + 1 for m in meta if isinstance(m, msgspec.Meta) and m.gt is not None), None)
        lower = next((m.ge for m in meta if isinstance(m, msgspec.Meta) and m.ge is not None), lower)
        return lower if lower is not None else _value(name, base)
    if origin is typing.Literal:
        return typing.get_args(tp)[0]
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _value(name, options[0])
    if origin is list:
        return [_value(name, typing.get_args(tp)[0])]
    if origin is dict:
        return {f"{name}_key": _value(name, typing.get_args(tp)[1])}
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return sample_struct(tp)
    simple: dict[Any, Any] = {
        UUID: uuid5(_NS, name),
        str: f"sample {name}",
        int: 7,
        bool: True,
        datetime: _WHEN,
        date: _WHEN.date(),
        bytes: f"sample {name}".encode(),
        msgspec.Raw: msgspec.Raw(b"{}"),
    }
    if tp in simple:
        return simple[tp]
    raise TypeError(f"no sample for {name}: {tp!r}")


def sample_struct(cls: type[msgspec.Struct], **overrides: Any) -> Any:
    hints = typing.get_type_hints(cls, include_extras=True)
    values = {f: overrides[f] if f in overrides else _value(f, hints[f]) for f in cls.__struct_fields__}
    return cls(**values)


def sample_event(event_type: str, version: int | None = None) -> EventEnvelope[Any]:
    spec = REGISTRY.spec(event_type)
    version = spec.current_version if version is None else version
    payload = sample_struct(spec.versions[version])
    return EventEnvelope(
        event_id=uuid5(_NS, f"{event_type}.v{version}"),
        event_type=event_type,
        schema_version=version,
        aggregate_type=spec.aggregate_type,
        aggregate_id=str(uuid5(_NS, "aggregate")),
        aggregate_version=3,
        occurred_at=_WHEN,
        producer="sample",
        correlation_id="sample-correlation",
        causation_id="sample-causation",
        actor_id=uuid5(_NS, "actor"),
        payload=payload,
    )


def sample_command(job_type: str) -> CommandEnvelope[Any]:
    return CommandEnvelope(
        job_id=uuid5(_NS, job_type),
        job_type=job_type,
        priority=4,
        attempt=1,
        max_attempts=3,
        created_at=_WHEN,
        correlation_id="sample-correlation",
        payload=sample_struct(JOB_PAYLOADS[job_type]),
    )


def golden_samples() -> dict[str, Any]:
    """Golden file name → the sample it must hold."""
    out: dict[str, Any] = {}
    for spec in REGISTRY.specs():
        for version in spec.versions:
            out[f"events/{spec.event_type}.v{version}.json"] = sample_event(spec.event_type, version)
    for job in JOB_PAYLOADS:
        out[f"commands/{job}.v1.json"] = sample_command(job)
    out["commands/create_user_result.v1.json"] = sample_struct(CreateUserResult)
    out["commands/revoke_sessions_result.v1.json"] = sample_struct(RevokeSessionsResult)
    out["dead_letter.v1.json"] = sample_struct(DeadLetterRecord)
    return out


def render(sample: Any) -> str:
    return json.dumps(msgspec.to_builtins(sample), indent=2, sort_keys=True) + "\n"


def write_missing(directory: Path) -> list[str]:
    written = []
    for rel, sample in golden_samples().items():
        path = directory / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(sample))
            written.append(rel)
    return written


if __name__ == "__main__":
    for name in write_missing(Path(sys.argv[1])):
        print("wrote", name)
