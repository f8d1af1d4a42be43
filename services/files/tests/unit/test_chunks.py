"""Chunk index ranges: what the status of a chunked upload answers."""

from __future__ import annotations

import random

import pytest

from files.domain.chunks import gaps, ranges


@pytest.mark.parametrize(
    ("indices", "expected"),
    [
        ([], []),
        ([0], [[0, 0]]),
        ([0, 1, 2, 7], [[0, 2], [7, 7]]),
        ([7, 2, 1, 0, 2], [[0, 2], [7, 7]]),
        ([1, 3, 5], [[1, 1], [3, 3], [5, 5]]),
    ],
)
def test_ranges(indices: list[int], expected: list[list[int]]) -> None:
    assert ranges(indices) == expected


@pytest.mark.parametrize(
    ("received", "total", "expected"),
    [
        ([], 5, [[0, 4]]),
        ([[0, 4]], 5, []),
        ([[0, 2], [7, 7]], 10, [[3, 6], [8, 9]]),
        ([[1, 1], [3, 3]], 5, [[0, 0], [2, 2], [4, 4]]),
        ([[4, 4]], 5, [[0, 3]]),
    ],
)
def test_gaps(received: list[list[int]], total: int, expected: list[list[int]]) -> None:
    assert gaps(received, total) == expected


def expand(rs: list[list[int]]) -> list[int]:
    return [i for first, last in rs for i in range(first, last + 1)]


def test_ranges_and_gaps_cover_every_index_exactly_once() -> None:
    rng = random.Random(17)
    for _ in range(200):
        total = rng.randint(1, 300)
        have = {i for i in range(total) if rng.random() < 0.5}
        got, missing = ranges(have), gaps(ranges(have), total)
        assert expand(got) == sorted(have)
        assert expand(missing) == sorted(set(range(total)) - have)
