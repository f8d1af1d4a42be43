"""The credential decider: Given events, When a decision, Then events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from auth.domain import credential as c
from auth.domain.rules import password_problems

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


def test_a_permission_change_applies_once_and_an_older_one_never_undoes_a_newer() -> None:
    state = given()
    [promoted] = c.change_permissions(state, 10, user_version=2)
    state = c.evolve(state, promoted)
    assert (state.permissions, state.permissions_version) == (10, 2)
    assert c.change_permissions(state, 10, user_version=2) == []  # the event after the command
    [demoted] = c.change_permissions(state, 1, user_version=3)
    state = c.evolve(state, demoted)
    assert c.change_permissions(state, 10, user_version=2) == []  # late, older
    assert state.permissions == 1


def test_a_change_with_the_same_level_still_moves_the_version() -> None:
    state = given()
    assert c.change_permissions(state, 1, user_version=3) == [c.PermissionsChanged(permissions=1, user_version=3)]


def test_no_permission_change_for_credentials_that_do_not_exist() -> None:
    assert c.change_permissions(c.Credential(user_id=uuid.uuid4()), 100, user_version=2) == []
    erased = c.evolve(given(), c.Erased())
    assert c.change_permissions(erased, 100, user_version=2) == []
