"""Every message type and version has a golden JSON sample that still decodes and re-encodes
byte-for-byte; a retyped, renamed or removed field fails here."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from blazing_contracts import (
    REGISTRY,
    CreateUserResult,
    decode_command,
    decode_dead_letter,
    decode_event,
    encode_command,
    encode_dead_letter,
    encode_event,
)
from blazing_contracts.samples import golden_samples, render

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
SAMPLES = golden_samples()


def canonical(data: bytes | str) -> object:
    return json.loads(data)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_golden_file_exists_for_every_type_and_version(name: str) -> None:
    assert (GOLDEN / name).is_file(), f"missing golden sample {name}: run `make contracts-golden`"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_current_definition_still_produces_the_golden_sample(name: str) -> None:
    assert canonical(render(SAMPLES[name])) == canonical((GOLDEN / name).read_bytes())


@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if n.startswith("events/")))
def test_event_golden_decodes_typed_and_round_trips(name: str) -> None:
    raw = (GOLDEN / name).read_bytes()
    event = decode_event(raw)
    spec = REGISTRY.spec(event.event_type)
    assert isinstance(event.payload, spec.current)
    if event.schema_version == int(name.rsplit(".v", 1)[1].split(".", maxsplit=1)[0]):
        assert canonical(encode_event(event)) == canonical(raw)


@pytest.mark.parametrize("name", sorted(n for n in SAMPLES if n.startswith("commands/") and "result" not in n))
def test_command_golden_decodes_typed_and_round_trips(name: str) -> None:
    raw = (GOLDEN / name).read_bytes()
    command = decode_command(raw)
    assert canonical(encode_command(command)) == canonical(raw)


def test_create_user_result_golden_round_trips() -> None:
    raw = (GOLDEN / "commands/create_user_result.v1.json").read_bytes()
    result = msgspec.json.decode(raw, type=CreateUserResult)
    assert canonical(msgspec.json.encode(result)) == canonical(raw)


def test_dead_letter_golden_round_trips() -> None:
    raw = (GOLDEN / "dead_letter.v1.json").read_bytes()
    assert canonical(encode_dead_letter(decode_dead_letter(raw))) == canonical(raw)


def test_no_stray_golden_files() -> None:
    on_disk = {str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*.json")}
    assert on_disk == set(SAMPLES)
