"""The upload rules (domain, pure): a client's file name, what a chunked upload may declare, how much
room a chunk has."""

from __future__ import annotations

import pytest

from files.domain.uploads import (
    ChunkPlan,
    Limits,
    Planned,
    TooLargeError,
    UploadRefused,
    check_index,
    chunk_room,
    chunk_too_large,
    name_problems,
    plan_chunked,
)

LIMITS = Limits(allowed_types=frozenset({"txt", "png"}), max_file_size=1_000, max_chunk_size=100, max_chunks=20)


@pytest.mark.parametrize("name", ["a.txt", "Ünïcødé name (1).png", "x" * 251 + ".txt", ".hidden.txt"])
def test_given_a_plain_name_when_checked_then_it_passes(name: str) -> None:
    assert name_problems(name) == []


def test_given_a_bad_name_when_checked_then_every_problem_is_told_in_order() -> None:
    assert name_problems("") == ["File name must be between 1 and 255 characters"]
    assert name_problems("a/\x00\udcff" + "x" * 255) == [
        "File name must be between 1 and 255 characters",
        "File name must not contain control characters",
        "File name must not contain a path (/ or \\)",
        "File name must be UTF-8",
    ]


def test_given_a_sound_plan_when_planned_then_the_extension_and_storage_type_come_out() -> None:
    plan = ChunkPlan(filename="Notes.TXT", total_chunks=10, total_size=1_000, storage_type=" Public ")
    assert plan_chunked(plan, LIMITS) == Planned(extension="txt", storage_type="public")


def test_given_broken_fields_when_planned_then_the_size_is_judged_only_once_they_are_sound() -> None:
    broken = ChunkPlan(filename="a.exe", total_chunks=1, total_size=10**9, storage_type="private")
    with pytest.raises(UploadRefused) as refused:
        plan_chunked(broken, LIMITS)
    assert list(refused.value.errors) == ["filename"]
    with pytest.raises(TooLargeError, match="File too large"):
        plan_chunked(ChunkPlan(filename="a.txt", total_chunks=1, total_size=10**9, storage_type="private"), LIMITS)


@pytest.mark.parametrize(("index", "ok"), [(-1, False), (0, True), (4, True), (5, False)])
def test_given_an_index_when_checked_then_it_must_be_within_the_session(index: int, ok: bool) -> None:
    if ok:
        check_index(index, 5)
    else:
        with pytest.raises(UploadRefused, match="Validation failed"):
            check_index(index, 5)


def test_given_what_other_chunks_hold_when_a_chunk_comes_then_its_room_is_the_smaller_limit() -> None:
    assert chunk_room(LIMITS, 1_000, 0) == 100, "the chunk limit"
    assert chunk_room(LIMITS, 1_000, 950) == 50, "what is left of the declared total"
    with pytest.raises(TooLargeError, match="declared total_size of 1000 bytes"):
        chunk_room(LIMITS, 1_000, 1_000)
    assert "Chunk too large (max: 100 bytes)" in str(chunk_too_large(LIMITS, 1_000, 100))
    assert "declared total_size" in str(chunk_too_large(LIMITS, 1_000, 50))
