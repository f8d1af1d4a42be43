"""What the ops API's OpenAPI document promises, read from the app without a server: schemathesis holds
every answer to it (tests/reliability/test_fuzz.py)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from blazing_service import create_app
from blazing_service.errors import ValidationFailed
from ops import settings
from ops.entrypoints.http import OpsApi, filter_of


def operation(method: str, path: str) -> Any:
    config = settings.load({"GATEWAY_IDENTITY_SECRET": "s", "SYSTEM_EVENTS": "false"})
    schema = create_app(config, [OpsApi]).openapi_schema.to_schema()
    return schema["paths"][path][method]


def test_a_dry_run_replay_answers_a_documented_200() -> None:
    """A dry run counts and answers 200, a queued job 202: both are in the document (ST103)."""
    assert {"200", "202"} <= set(operation("post", "/ops/api/replays")["responses"])


@pytest.mark.parametrize("path", ["/ops/api/dead-letters", "/ops/api/groups"])
def test_since_and_until_are_documented_as_instants(path: str) -> None:
    params = {p["name"]: p["schema"] for p in operation("get", path)["parameters"]}
    for name in ("since", "until"):
        schema = params[name]
        assert "date-time" in {s.get("format") for s in [schema, *schema.get("oneOf", [])]}, schema


@pytest.mark.parametrize("value", ["0.5", "1764547200", "2026-11-29T00:00:00", "2026-11-29", "bad"])
def test_an_instant_needs_rfc3339_with_its_offset(value: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        filter_of({"since": value})
    assert "since" in refused.value.errors


def test_an_instant_with_an_offset_is_taken() -> None:
    f = filter_of({"since": "2026-11-29T00:00:00Z", "until": "2026-11-30T01:00:00+01:00"})
    assert f.since is not None
    assert f.until is not None
    assert (f.until - f.since).total_seconds() == 86400
    assert msgspec.json.decode(msgspec.json.encode(f))["since"].startswith("2026-11-29T00:00:00")


def test_an_inverted_time_range_names_since() -> None:
    with pytest.raises(ValidationFailed) as refused:
        filter_of({"since": "2026-11-30T00:00:00Z", "until": "2026-11-29T00:00:00Z"})
    assert refused.value.errors == {"since": ["Must not be after until"]}
