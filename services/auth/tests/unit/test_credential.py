"""The credential decider: Given events, When a decision, Then events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from auth.domain import credential as c
from auth.domain.rules import email_problems, normalize_email, password_problems

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
POLICY = c.Policy(lock_threshold=5, window=timedelta(minutes=15), lock_for=timedelta(minutes=15))


def given(*events: c.Event) -> c.Credential:
    return c.fold(
        c.Credential(user_id=uuid.uuid4()), [c.Registered(email="a@b.co", first_name="Ada", password_hash="h"), *events]
    )


def test_fifth_failure_in_the_window_locks_for_fifteen_minutes() -> None:
    state = given(*[c.SignInFailed(at=NOW + timedelta(minutes=i)) for i in range(4)])
    events = c.record_failure(state, NOW + timedelta(minutes=5), POLICY)
    assert events == [
        c.SignInFailed(at=NOW + timedelta(minutes=5)),
        c.Locked(until=NOW + timedelta(minutes=20), failed_attempts=5),
    ]
    assert c.fold(state, events).is_locked(NOW + timedelta(minutes=19))


def test_failures_outside_the_window_no_longer_count() -> None:
    state = given(*[c.SignInFailed(at=NOW) for _ in range(4)])
    events = c.record_failure(state, NOW + timedelta(minutes=16), POLICY)
    assert events == [c.FailuresReset(), c.SignInFailed(at=NOW + timedelta(minutes=16))]
    assert c.fold(state, events).failed_attempts == 1


def test_a_lock_ends_by_itself() -> None:
    state = given(c.Locked(until=NOW, failed_attempts=5))
    assert c.expire_lock(state, NOW - timedelta(seconds=1)) == []
    assert c.expire_lock(state, NOW) == [c.Unlocked(reason="expired")]
    after = c.fold(state, [c.Unlocked(reason="expired")])
    assert not after.is_locked(NOW)
    assert after.failed_attempts == 0


def test_a_successful_sign_in_clears_the_failures() -> None:
    state = given(c.SignInFailed(at=NOW), c.SignInFailed(at=NOW), c.SignedIn(session_id=uuid.uuid4()))
    assert state.failed_attempts == 0


def test_erasure_forgets_everything_personal() -> None:
    state = given(c.Activated(method="activation_code"), c.Erased())
    assert (state.status, state.email, state.first_name, state.password_hash) == ("erased", "", "", None)


def test_password_rules() -> None:
    assert password_problems("Str0ng!Pass") == []
    assert "Password must contain a special character" in password_problems("Str0ngPass")
    assert len(password_problems("short")) >= 3
    assert email_problems("a@b.co") == []
    assert email_problems("nope") == ["Email is invalid"]
    assert normalize_email("  Ada@Example.ORG ") == "ada@example.org"
