"""Sessions, passwords, the users context's command and events, and the periodic jobs on the
in-memory fakes — and the invariant that every auth.events event is a stored event's publication."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from auth.adapters.memory import InMemoryAuth
from auth.application.ports import RequestContext
from blazing_app import BadInput, Invalid, NotFound, Throttled, Unauthenticated
from blazing_contracts import AnyEvent, EventPayload, make_event
from blazing_contracts.events import user as ue
from blazing_es.events import ERASED
from blazing_testing.accounts import PASSWORD, new_email

NEW_PASSWORD = "N3w!Passw0rd"
CTX = RequestContext(ip="10.0.0.1", user_agent="tests", correlation_id="corr-2")


def user_event(payload: EventPayload, *, version: int = 1, at: datetime | None = None) -> AnyEvent:
    return make_event(
        payload,
        event_id=uuid.uuid4(),
        aggregate_id=str(getattr(payload, "user_id", "")),
        aggregate_version=version,
        occurred_at=at or datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        producer="users",
        correlation_id="from-users",
    )


def created_by_admin(user_id: uuid.UUID, address: str, permissions: int, admin: uuid.UUID) -> ue.UserCreated:
    """user.created of a user an admin made (not activated: the user sets a password by the link)."""
    return ue.UserCreated(
        user_id=user_id,
        email=address,
        first_name="Grace",
        last_name="Hopper",
        permissions=permissions,
        activated=False,
        created_by=admin,
    )


async def signed_in_twice(auth: InMemoryAuth) -> tuple[str, uuid.UUID, uuid.UUID, uuid.UUID]:
    address = new_email("ada")
    user_id = await auth.activated(address, PASSWORD, CTX)
    first = (await auth.handlers.sign_in(address, PASSWORD, CTX)).tokens.session_id
    auth.clock.advance(seconds=1)
    second = (await auth.handlers.sign_in(address, PASSWORD, CTX)).tokens.session_id
    return address, user_id, first, second


# ---------------------------------------------------------------------------------- sessions


async def test_signing_out_ends_this_session_and_is_published(auth: InMemoryAuth) -> None:
    _, user_id, first, second = await signed_in_twice(auth)
    assert [s.session_id for s in await auth.handlers.list_sessions(user_id)] == [second, first], "newest first"
    assert await auth.handlers.sign_out(user_id, second, "session", CTX) == 1
    assert [s.session_id for s in await auth.handlers.list_sessions(user_id)] == [first]
    assert auth.revocations.revoked == [second]
    signed_out = auth.db.published[-1]
    assert (signed_out.event_type, signed_out.payload.scope, signed_out.payload.session_ids) == (  # type: ignore[attr-defined]
        "auth.sign_out",
        "session",
        [second],
    )


async def test_signing_out_the_others_keeps_this_one(auth: InMemoryAuth) -> None:
    _, user_id, first, second = await signed_in_twice(auth)
    assert await auth.handlers.sign_out(user_id, second, "others", CTX) == 1
    assert [s.session_id for s in await auth.handlers.list_sessions(user_id)] == [second]
    assert auth.revocations.revoked == [first]


async def test_only_ones_own_live_session_can_be_revoked(auth: InMemoryAuth) -> None:
    _, user_id, first, _second = await signed_in_twice(auth)
    with pytest.raises(NotFound, match="Session not found"):
        await auth.handlers.revoke_session(uuid.uuid4(), first, CTX)
    await auth.handlers.revoke_session(user_id, first, CTX)
    with pytest.raises(NotFound):
        await auth.handlers.revoke_session(user_id, first, CTX)


async def test_a_sign_out_without_a_credential_records_nothing(auth: InMemoryAuth) -> None:
    assert await auth.handlers.sign_out(uuid.uuid4(), uuid.uuid4(), "session", CTX) == 0
    assert auth.db.published == []
    assert auth.db.streams == {}


# ---------------------------------------------------------------------------------- passwords


async def test_forgot_verify_and_reset(auth: InMemoryAuth) -> None:
    address, user_id, first, second = await signed_in_twice(auth)
    await auth.handlers.forgot_password(address, CTX)
    await auth.handlers.forgot_password(new_email("ada"), CTX)  # unknown: nothing happens, the same answer
    await auth.settled()
    code = auth.code(address, "forgot_password")
    assert auth.published(user_id)[-1] == "auth.password_reset_requested"
    for _ in range(2):  # verify does not spend it
        assert await auth.handlers.verify_code(code) == "forgot_password"
    await auth.handlers.reset_password(code, NEW_PASSWORD, CTX)
    assert sorted(auth.revocations.revoked, key=str) == sorted([first, second], key=str)
    completed = auth.db.published[-1]
    assert (completed.event_type, completed.payload.sessions_revoked) == ("auth.password_reset_completed", 2)  # type: ignore[attr-defined]
    assert len(auth.mailer.to(address, "password_reset_success")) == 1
    with pytest.raises(Invalid) as spent:
        await auth.handlers.reset_password(code, PASSWORD, CTX)
    assert spent.value.errors == {"code": ["Code has expired or already been used"]}
    with pytest.raises(Unauthenticated):
        await auth.handlers.sign_in(address, PASSWORD, CTX)
    assert (await auth.handlers.sign_in(address, NEW_PASSWORD, CTX)).account.id == user_id


async def test_verify_hash_refuses_activation_codes_and_unknown_ones(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    await auth.handlers.sign_up(address, PASSWORD, "Ada", "Byron", CTX)
    await auth.settled()
    with pytest.raises(BadInput, match="Invalid code type"):
        await auth.handlers.verify_code(auth.code(address, "account_activation"))
    with pytest.raises(NotFound, match="Invalid or expired code"):
        await auth.handlers.verify_code("Q" * 40)
    with pytest.raises(Invalid) as unknown:
        await auth.handlers.reset_password("Q" * 40, NEW_PASSWORD, CTX)
    assert unknown.value.errors == {"code": ["Invalid or expired code"]}


async def test_a_reset_ends_a_lock(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    user_id = await auth.activated(address, PASSWORD, CTX)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await auth.handlers.sign_in(address, "Wr0ng!Passw0rd", CTX)
    await auth.handlers.forgot_password(address, CTX)
    await auth.settled()
    await auth.handlers.reset_password(auth.code(address, "forgot_password"), NEW_PASSWORD, CTX)
    assert auth.published(user_id)[-2:] == ["auth.password_reset_completed", "auth.account_unlocked"]
    assert (await auth.handlers.sign_in(address, NEW_PASSWORD, CTX)).account.id == user_id


async def test_reset_codes_stop_at_the_addresss_allowance(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    await auth.activated(address, PASSWORD, CTX)
    for _ in range(7):
        await auth.handlers.forgot_password(address, CTX)
    await auth.settled()
    assert len(auth.mailer.to(address, "forgot_password")) == 5


async def test_the_signed_in_owner_changes_the_password_and_the_other_sessions_end(auth: InMemoryAuth) -> None:
    address, user_id, first, second = await signed_in_twice(auth)
    await auth.handlers.request_password_change(user_id, CTX)
    code = auth.code(address, "password_change")
    assert auth.mailer.to(address, "password_change")[-1].variables["expires_in_minutes"] == "15"
    with pytest.raises(NotFound, match="Invalid or expired code"):  # someone else's code
        await auth.handlers.change_password(uuid.uuid4(), None, code, NEW_PASSWORD, CTX)
    assert await auth.handlers.change_password(user_id, second, code, NEW_PASSWORD, CTX) == 1
    assert auth.revocations.revoked == [first]
    assert [s.session_id for s in await auth.handlers.list_sessions(user_id)] == [second]
    changed = auth.db.published[-1]
    assert (changed.event_type, changed.payload.sessions_revoked) == ("auth.password_changed", 1)  # type: ignore[attr-defined]
    with pytest.raises(BadInput, match="already been used"):
        await auth.handlers.verify_code(code)


async def test_change_codes_stop_at_the_addresss_allowance_too(auth: InMemoryAuth) -> None:
    """Twelve change-code mails to one address in two minutes (a black-box review): the signed-in
    request counts against the address's hourly allowance as every code mail does — and says so."""
    address, user_id, _, _ = await signed_in_twice(auth)
    for _ in range(5):
        await auth.handlers.request_password_change(user_id, CTX)
    last = auth.code(address, "password_change")
    with pytest.raises(Throttled, match="Too many e-mails to this address") as refused:
        await auth.handlers.request_password_change(user_id, CTX)
    assert refused.value.retry_after == 3600
    assert len(auth.mailer.to(address, "password_change")) == 5
    assert auth.code(address, "password_change") == last, "the last code sent still works"
    assert await auth.handlers.verify_code(last) == "password_change"


async def test_only_an_active_owner_is_sent_a_change_code(auth: InMemoryAuth) -> None:
    with pytest.raises(Unauthenticated):
        await auth.handlers.request_password_change(uuid.uuid4(), CTX)


# ---------------------------------------------------------------------------------- users' news


async def test_an_admin_created_user_sets_a_password_with_the_link_and_is_active(auth: InMemoryAuth) -> None:
    user_id, address, admin = uuid.uuid4(), new_email("ada"), uuid.uuid4()
    created = created_by_admin(user_id, address, 10, admin)
    assert await auth.handlers.user_events(user_event(created))
    [link] = auth.mailer.to(address, "user_must_set_password")
    assert (link.variables["user_id"], link.variables["expires_in_hours"]) == (str(user_id), "24")
    code = link.variables["code"]
    await auth.handlers.check_set_password_link(user_id, code)
    with pytest.raises(NotFound, match="Invalid or expired link"):
        await auth.handlers.check_set_password_link(uuid.uuid4(), code)
    with pytest.raises(BadInput, match="Invalid code type"):
        await auth.handlers.verify_code(code)
    await auth.handlers.set_password(user_id, code, NEW_PASSWORD, CTX)
    assert auth.published(user_id) == ["auth.account_activated"]
    assert auth.db.published[-1].payload.method == "set_password"  # type: ignore[attr-defined]
    signed_in = await auth.handlers.sign_in(address, NEW_PASSWORD, CTX)
    assert (signed_in.account.permissions, signed_in.account.last_name) == (10, "Hopper")
    with pytest.raises(BadInput, match="Link has expired or already been used"):
        await auth.handlers.set_password(user_id, code, PASSWORD, CTX)


async def test_a_permission_change_by_command_ends_the_sessions_and_the_event_after_it_does_nothing(
    auth: InMemoryAuth,
) -> None:
    address, user_id, first, second = await signed_in_twice(auth)
    assert await auth.handlers.revoke_access(user_id, "permissions_changed", 10, 5) == 2
    assert auth.db.tables.credentials[user_id]["permissions"] == 10
    changed = ue.UserPermissionsChanged(user_id=user_id, permissions=10, previous_permissions=1)
    assert await auth.handlers.user_events(user_event(changed, version=5))
    assert set(auth.revocations.revoked) == {first, second}
    third = (await auth.handlers.sign_in(address, PASSWORD, CTX)).tokens.session_id
    late = ue.UserPermissionsChanged(user_id=user_id, permissions=1, previous_permissions=10)
    await auth.handlers.user_events(user_event(late, version=4))  # older than the one applied: ignored
    assert [s.session_id for s in await auth.handlers.list_sessions(user_id)] == [third]
    newer = ue.UserPermissionsChanged(user_id=user_id, permissions=1, previous_permissions=10)
    await auth.handlers.user_events(user_event(newer, version=6))  # the command never came: applied now
    assert await auth.handlers.list_sessions(user_id) == []
    assert auth.db.tables.credentials[user_id]["permissions"] == 1


async def test_a_deleted_user_is_erased_once(auth: InMemoryAuth) -> None:
    address, user_id, first, second = await signed_in_twice(auth)
    deleted = user_event(ue.UserDeleted(user_id=user_id))
    assert await auth.handlers.user_events(deleted)
    assert not await auth.handlers.user_events(deleted), "the inbox: a redelivery has no second effect"
    t = auth.db.tables
    assert user_id not in t.credentials
    assert user_id not in t.profiles
    assert not [row for row in t.codes.values() if row["owner"] == user_id]
    assert {(s["ip"], s["user_agent"]) for s in t.sessions.values() if s["user_id"] == user_id} == {(None, None)}
    assert set(auth.revocations.revoked) == {first, second}
    stored = auth.stored(user_id)
    assert stored[-1].event_type == "erased"
    assert all(e.data == ERASED for e in stored if e.event_type != "erased"), "the stream keeps no personal data"
    with pytest.raises(Unauthenticated):
        await auth.handlers.sign_in(address, PASSWORD, CTX)
    assert await auth.handlers.revoke_access(user_id, "deleted", None, 0) == 0


async def test_a_user_created_arriving_after_the_deletion_brings_nothing_back(auth: InMemoryAuth) -> None:
    """A dead-lettered user.created replayed (or read again) after its user.deleted was applied."""
    user_id, address = uuid.uuid4(), new_email("ada")
    created = created_by_admin(user_id, address, 1, uuid.uuid4())
    assert await auth.handlers.user_events(user_event(ue.UserDeleted(user_id=user_id), version=2))
    assert await auth.handlers.user_events(user_event(created))
    assert user_id not in auth.db.tables.credentials
    assert user_id not in auth.db.tables.profiles
    assert auth.db.tables.codes == {}
    assert auth.mailer.sent == []
    assert [e.event_type for e in auth.stored(user_id)] == ["erased"]


async def test_the_profile_read_model_follows_user_events(auth: InMemoryAuth) -> None:
    address = new_email("ada")
    user_id = await auth.activated(address, PASSWORD, CTX)
    at = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    events = [
        ue.UserCreated(
            user_id=user_id, email=address, first_name="Ada", last_name="Byron", permissions=1, activated=True
        ),
        ue.UserProfileUpdated(
            user_id=user_id, fields_changed=["avatar_url", "first_name"], first_name="Augusta", avatar_url="/a.png"
        ),
        ue.UserBalanceUpdated(user_id=user_id, balance=700),
    ]
    for n, payload in enumerate(events):
        await auth.handlers.user_events(user_event(payload, at=at.replace(minute=n)))
    older = ue.UserBalanceUpdated(user_id=user_id, balance=5)
    await auth.handlers.user_events(user_event(older, at=at.replace(hour=11)))  # late: ignored
    account = (await auth.handlers.sign_in(address, PASSWORD, CTX)).account
    assert (account.first_name, account.last_name, account.balance, account.avatar_url) == (
        "Augusta",
        "Byron",
        700,
        "/a.png",
    )
    assert account.updated_at == at.replace(minute=2)
    assert auth.db.tables.credentials[user_id]["profile_confirmed"]


# ---------------------------------------------------------------------------------- jobs and keys


async def test_revocations_are_told_again_while_their_tokens_live(auth: InMemoryAuth) -> None:
    _, user_id, first, second = await signed_in_twice(auth)
    await auth.handlers.sign_out(user_id, first, "session", CTX)
    auth.revocations.revoked.clear()
    assert await auth.handlers.resync_revocations() == 1
    assert auth.revocations.revoked == [first]
    auth.clock.advance(seconds=961)
    assert await auth.handlers.resync_revocations() == 0, "its access tokens expired: nothing to tell"
    assert second not in auth.revocations.revoked


async def test_keys_rotate_and_are_published(auth: InMemoryAuth) -> None:
    await auth.handlers.rotate_keys()
    assert auth.handlers.public_keys() == {"keys": [{"kid": "key-1"}]}


# ---------------------------------------------------------------------------------- the invariant


async def test_every_published_event_is_a_stored_events_publication(auth: InMemoryAuth) -> None:
    """aggregate_version is the stream version of the stored event behind each auth.events event."""
    address, user_id, first, _second = await signed_in_twice(auth)
    with pytest.raises(Unauthenticated):
        await auth.handlers.sign_in(address, "Wr0ng!Passw0rd", CTX)
    with pytest.raises(Unauthenticated):
        await auth.handlers.sign_in(new_email("ada"), PASSWORD, CTX)
    await auth.handlers.sign_out(user_id, first, "session", CTX)
    await auth.handlers.forgot_password(address, CTX)
    await auth.settled()
    await auth.handlers.reset_password(auth.code(address, "forgot_password"), NEW_PASSWORD, CTX)
    assert len(auth.db.published) >= 8
    for event in auth.db.published:
        stored = {e.version: e for e in auth.stored(uuid.UUID(event.aggregate_id))}
        assert event.aggregate_version in stored, event
        assert event.occurred_at == stored[event.aggregate_version].occurred_at
        assert event.producer == "auth"
    versions = [e.aggregate_version for e in auth.db.published if e.aggregate_id == str(user_id)]
    assert versions == sorted(versions), "per-aggregate order on Kafka is the stream's order"
