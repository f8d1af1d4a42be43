"""The replay jobs' rules (domain/replays.py): Given a job or a batch / When / Then."""

from __future__ import annotations

import uuid

import pytest

from ops.domain.replays import JobStateError, Replayable, ahead, batch_of, move, rate_of, split


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


@pytest.mark.parametrize(
    ("status", "action", "to"),
    [
        ("queued", "cancel", "cancelled"),
        ("running", "cancel", "cancelled"),
        ("cancelled", "resume", "queued"),
        ("failed", "resume", "queued"),
    ],
)
def test_an_operator_cancels_an_active_job_and_resumes_a_stopped_one(status: str, action: str, to: str) -> None:
    assert move(status, action) == to  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("completed", "cancel", "A completed job cannot be cancelled"),
        ("cancelled", "cancel", "A cancelled job cannot be cancelled"),
        ("completed", "resume", "A completed job cannot be queued"),
        ("running", "resume", "A running job cannot be queued"),
        ("queued", "resume", "A queued job cannot be queued"),
    ],
)
def test_other_moves_are_refused(status: str, action: str, message: str) -> None:
    with pytest.raises(JobStateError, match=message):
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
