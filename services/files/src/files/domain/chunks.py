"""Which chunks of a chunked upload arrived, told compactly: inclusive ``[first, last]`` index ranges,
so an answer's size grows with the number of gaps, never with the number of chunks."""

from __future__ import annotations

from collections.abc import Iterable

Ranges = list[list[int]]


def ranges(indices: Iterable[int]) -> Ranges:
    """``[0, 1, 2, 7]`` → ``[[0, 2], [7, 7]]`` (sorted, duplicates ignored)."""
    out: Ranges = []
    for index in sorted(set(indices)):
        if out and out[-1][1] == index - 1:
            out[-1][1] = index
        else:
            out.append([index, index])
    return out


def gaps(received: Ranges, total: int) -> Ranges:
    """The ranges of ``0 … total - 1`` not covered by ``received`` (which ``ranges`` made)."""
    out: Ranges = []
    following = 0
    for first, last in received:
        if first > following:
            out.append([following, first - 1])
        following = last + 1
    if following < total:
        out.append([following, total - 1])
    return out
