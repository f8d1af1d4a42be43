"""A JSON null where a required field takes none counts as missing: every such field is named at once
with the absent ones (issue #17 item 17; the original treated null as absent)."""

from __future__ import annotations

import msgspec
import pytest

from blazing_service.body import convert
from blazing_service.errors import ValidationFailed


class Body(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    password: str
    age: int
    nickname: str | None
    note: str | None = None


def test_nulls_and_absent_fields_are_all_missing() -> None:
    with pytest.raises(ValidationFailed) as caught:
        convert({"email": None, "nickname": None}, Body)
    assert caught.value.errors == {f: ["This field is required"] for f in ("email", "password", "age")}


def test_a_null_the_field_takes_is_a_value() -> None:
    assert convert({"email": "a@b.co", "password": "x", "age": 3, "nickname": None}, Body).nickname is None
    with pytest.raises(ValidationFailed) as caught:
        convert({"email": "a@b.co", "password": "x", "age": 3}, Body)
    assert caught.value.errors == {"nickname": ["This field is required"]}
