"""The replay jobs' rules (domain/replays.py): Given a job or a batch / When / Then."""

from __future__ import annotations

import uuid
from typing import get_args

import pytest

from ops.domain.replays import JobStateError, JobStatus, Replayable, ahead, batch_of, move, rate_of, split

ACTIONS = ("cancel", "resume")


def item(replays: int) -> Replayable:
    return Replayable(
        dead_letter_id=uuid.uuid4(),
        source="kafka",
        original_topic="t",
        key=None,
        value=b"{}",
        headers=[],
        replay_count=replays,
    )


MOVES = {
    # status: (after cancel, after resume)
    "queued": ("cancelled", "A queued job cannot be queued"),
    "running": ("cancelled", "A running job cannot be queued"),
    "cancelled": ("A cancelled job cannot be cancelled", "queued"),
    "failed": ("A failed job cannot be cancelled", "queued"),
    "completed": ("A completed job cannot be cancelled", "A completed job cannot be queued"),
}
"""Every status a job has, by each action of an operator: the status it goes to, or the refusal."""


def test_the_table_holds_every_status() -> None:
    assert set(MOVES) == set(get_args(JobStatus))


@pytest.mark.parametrize(
    ("status", "action", "outcome"),
    [(status, action, outcome) for status, row in MOVES.items() for action, outcome in zip(ACTIONS, row, strict=True)],
)
def test_an_operator_cancels_an_active_job_resumes_a_stopped_one_and_nothing_else(
    status: str, action: str, outcome: str
) -> None:
    if outcome in MOVES:
        assert move(status, action) == outcome  # type: ignore[arg-type]
    else:
        with pytest.raises(JobStateError, match=f"^{outcome}$"):
            move(status, action)  # type: ignore[arg-type]


def test_the_rate_is_at_least_one_and_at_most_the_maximum_and_a_batch_at_most_a_second_of_it() -> None:
    assert [rate_of(r, 100) for r in (-5, 0, 1, 50, 100, 10**9)] == [1, 1, 1, 50, 100, 100]
    assert [batch_of(r, 500) for r in (1, 20, 500, 2_000)] == [1, 20, 500, 500]


def test_what_was_replayed_max_replays_times_is_quarantined_not_sent() -> None:
    fresh, twice, thrice = item(0), item(2), item(3)
    assert split([fresh, twice, thrice], 3) == ([fresh, twice], [thrice])
    assert split([fresh], 0) == ([], [fresh]), "OPS_MAX_REPLAYS=0: nothing is ever replayed"


def test_a_job_waits_as_long_as_it_is_ahead_of_its_rate() -> None:
    assert ahead(100, 100, 0.25) == pytest.approx(0.75)
    assert ahead(100, 100, 1.5) == 0
