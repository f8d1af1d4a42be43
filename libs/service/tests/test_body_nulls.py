"""A JSON null where a required field takes none counts as missing: every such field is named at once
with the absent ones (issue #17 item 17; the original treated null as absent) — and with every field of
the wrong type and every field not accepted, in one answer."""

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


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    tags: list[str] = []


def test_wrong_types_are_all_named_at_once_with_the_missing_fields() -> None:
    with pytest.raises(ValidationFailed) as caught:
        convert({"email": 5, "password": [], "nickname": True, "note": 1.5}, Body)
    assert caught.value.errors == {
        "email": ["Expected `str`, got `int`"],
        "password": ["Expected `str`, got `array`"],
        "age": ["This field is required"],
        "nickname": ["Expected `str | null`, got `bool`"],
        "note": ["Expected `str | null`, got `float`"],
    }


def test_nested_and_unknown_fields_are_named_by_their_path() -> None:
    with pytest.raises(ValidationFailed) as caught:
        convert({"name": 1, "tags": ["a", 2], "extra": 1, "more": None}, Strict)
    assert caught.value.errors == {
        "name": ["Expected `str`, got `int`"],
        "tags[1]": ["Expected `str`, got `int`"],
        "extra": ["This field is not accepted"],
        "more": ["This field is not accepted"],
    }
