"""The credential decider: Given events, When a command, Then events or an error."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from auth.domain import credential as c
from auth.domain.rules import password_problems

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
POLICY = c.Policy(lock_threshold=5, window=timedelta(minutes=15), lock_for=timedelta(minutes=15))
SESSION = uuid.uuid4()


def given(*events: c.Event, status: str = "pending") -> c.Credential:
    """A registered credential (``active`` adds its activation), then ``events``."""
    start: list[c.Event] = [c.Registered(email="a@b.co", first_name="Ada", password_hash="h")]
    if status == "active":
        start.append(c.Activated(method="activation_code"))
    return c.fold(c.Credential(user_id=uuid.uuid4()), [*start, *events])


def attempt(password_hash: str | None = "h", *, right: bool = True, ip: str | None = "10.0.0.1") -> c.Attempt:
    return c.Attempt(
        checked=c.Checked(password_hash=password_hash, right=right), session_id=SESSION, ip=ip, user_agent="tests"
    )


# ---------------------------------------------------------------------------------- lockout


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


# ---------------------------------------------------------------------------------- sign-in


def test_the_right_password_of_an_active_account_opens_the_session() -> None:
    state = given(c.SignInFailed(at=NOW), status="active")
    assert c.sign_in(state, attempt(), NOW, POLICY) == [
        c.SignedIn(session_id=SESSION, ip="10.0.0.1", user_agent="tests")
    ]


def test_a_wrong_password_counts_and_the_fifth_locks() -> None:
    state = given(*[c.SignInFailed(at=NOW) for _ in range(3)], status="active")
    assert c.sign_in(state, attempt(right=False), NOW, POLICY) == [c.SignInFailed(at=NOW, ip="10.0.0.1")]
    state = c.fold(state, [c.SignInFailed(at=NOW)])
    events = c.sign_in(state, attempt(right=False), NOW, POLICY)
    assert events == [
        c.SignInFailed(at=NOW, ip="10.0.0.1"),
        c.Locked(until=NOW + POLICY.lock_for, failed_attempts=5),
    ]


def test_a_locked_account_refuses_even_the_right_password_without_judging_it() -> None:
    state = given(c.Locked(until=NOW + timedelta(minutes=1), failed_attempts=5), status="active")
    unchecked = c.Attempt(checked=None, session_id=SESSION, ip="10.0.0.9")
    assert c.sign_in(state, unchecked, NOW, POLICY) == [c.SignInRefused(reason="account_locked", ip="10.0.0.9")]
    assert c.sign_in(state, attempt(), NOW, POLICY) == [c.SignInRefused(reason="account_locked", ip="10.0.0.1")]
    assert c.fold(state, [c.SignInRefused()]).failed_attempts == state.failed_attempts, "a refusal does not count"


def test_a_lock_that_ran_out_ends_and_the_attempt_is_judged() -> None:
    state = given(c.Locked(until=NOW, failed_attempts=5), status="active")
    assert c.sign_in(state, attempt(), NOW, POLICY) == [
        c.Unlocked(reason="expired"),
        c.SignedIn(session_id=SESSION, ip="10.0.0.1", user_agent="tests"),
    ]
    with pytest.raises(c.CheckAgain):  # it looked locked, so the password was not checked
        c.sign_in(state, c.Attempt(checked=None, session_id=SESSION), NOW, POLICY)


def test_a_password_checked_against_an_old_hash_is_checked_again() -> None:
    state = given(c.PasswordSet(password_hash="new", method="reset"), status="active")
    with pytest.raises(c.CheckAgain):
        c.sign_in(state, attempt("h"), NOW, POLICY)
    assert c.sign_in(state, attempt("new"), NOW, POLICY)[-1] == c.SignedIn(
        session_id=SESSION, ip="10.0.0.1", user_agent="tests"
    )


def test_the_right_password_of_an_account_not_activated_is_refused_and_recorded_nowhere() -> None:
    with pytest.raises(c.NotActivated):
        c.sign_in(given(), attempt(), NOW, POLICY)
    assert c.sign_in(given(), attempt(right=False), NOW, POLICY) == [c.SignInFailed(at=NOW, ip="10.0.0.1")]


def test_no_sign_in_to_a_credential_that_does_not_exist_or_was_erased() -> None:
    with pytest.raises(c.NoCredential):
        c.sign_in(c.Credential(user_id=uuid.uuid4()), attempt(), NOW, POLICY)
    with pytest.raises(c.NoCredential):
        c.sign_in(given(c.Erased(), status="active"), attempt(), NOW, POLICY)


def test_an_attempt_on_an_address_nobody_holds_is_a_stream_of_its_own() -> None:
    nobody = c.Credential(user_id=uuid.uuid4())
    assert c.fail_unknown(nobody, NOW, "10.0.0.1") == [c.SignInFailed(at=NOW, ip="10.0.0.1")]
    with pytest.raises(c.CredentialError):
        c.fail_unknown(c.fold(nobody, [c.SignInFailed(at=NOW)]), NOW, None)
    with pytest.raises(c.CredentialError):
        c.fail_unknown(given(), NOW, None)


# ---------------------------------------------------------------------------------- registration, activation


def test_a_sign_up_registers_once() -> None:
    fresh = c.Credential(user_id=uuid.uuid4())
    assert c.register(fresh, "a@b.co", "Ada", "h") == [
        c.Registered(email="a@b.co", first_name="Ada", password_hash="h")
    ]
    with pytest.raises(c.AlreadyRegistered):
        c.register(given(), "a@b.co", "Ada", "h")


def test_an_invited_user_waits_for_a_password_and_a_repeat_changes_nothing() -> None:
    [registered] = c.register_invited(c.Credential(user_id=uuid.uuid4()), "a@b.co", "Ada", 10)
    assert registered == c.Registered(
        email="a@b.co", first_name="Ada", password_hash=None, permissions=10, must_set_password=True
    )
    assert c.register_invited(given(), "a@b.co", "Ada", 10) == []


def test_activation_happens_once() -> None:
    assert c.activate(given()) == [c.Activated(method="activation_code")]
    assert c.activate(given(status="active")) == []
    with pytest.raises(c.NoCredential):
        c.activate(given(c.Erased()))


# ---------------------------------------------------------------------------------- passwords


def test_a_reset_of_a_locked_account_ends_the_lock_and_the_failures() -> None:
    state = given(c.SignInFailed(at=NOW), c.Locked(until=NOW + timedelta(minutes=5), failed_attempts=5))
    events = c.set_password(state, "h2", "reset", 3, NOW)
    assert events == [
        c.PasswordSet(password_hash="h2", method="reset", sessions_revoked=3),
        c.Unlocked(reason="password_reset"),
    ]
    after = c.fold(state, events)
    assert (after.password_hash, after.failed_attempts, after.is_locked(NOW)) == ("h2", 0, False)


def test_a_first_password_activates_an_invited_user() -> None:
    invited = c.fold(
        c.Credential(user_id=uuid.uuid4()), c.register_invited(c.Credential(user_id=uuid.uuid4()), "a@b.co", "A", 1)
    )
    events = c.set_password(invited, "h", "set", 0, NOW)
    assert events == [c.PasswordSet(password_hash="h", method="set"), c.Activated(method="set_password")]
    after = c.fold(invited, events)
    assert (after.status, after.must_set_password) == ("active", False)
    assert c.set_password(given(status="active"), "h3", "change", 1, NOW) == [
        c.PasswordSet(password_hash="h3", method="change", sessions_revoked=1)
    ]
    with pytest.raises(c.NoCredential):
        c.set_password(c.Credential(user_id=uuid.uuid4()), "h", "reset", 0, NOW)


def test_a_reset_request_sign_out_and_erasure_of_nothing_record_nothing() -> None:
    gone = given(c.Erased())
    assert c.request_reset(gone) == c.sign_out(gone, "all", []) == c.erase(gone) == []
    assert c.request_reset(given()) == [c.ResetRequested()]
    session = uuid.uuid4()
    assert c.sign_out(given(status="active"), "session", [session]) == [
        c.SignedOut(scope="session", session_ids=[session])
    ]
    assert c.erase(given()) == [c.Erased()]


def test_erasure_of_a_user_auth_never_held_leaves_a_tombstone_that_a_late_registration_respects() -> None:
    nobody = c.Credential(user_id=uuid.uuid4())
    assert c.erase(nobody) == [c.Erased()]
    tombstone = c.fold(nobody, [c.Erased()])
    assert c.register_invited(tombstone, "a@b.co", "Ada", 10) == []
    assert c.erase(tombstone) == []


def test_erasure_forgets_everything_personal() -> None:
    state = given(c.Activated(method="activation_code"), c.Erased())
    assert (state.status, state.email, state.first_name, state.password_hash) == ("erased", "", "", None)


def test_password_rules() -> None:
    assert password_problems("Str0ng!Pass") == []
    assert "Password must contain a special character" in password_problems("Str0ngPass")
    assert len(password_problems("short")) >= 3


# ---------------------------------------------------------------------------------- permissions


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
