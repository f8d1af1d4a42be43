"""The users use cases on the in-memory fakes: every rule of every command and query, what is stored,
what is published, what the profiles read model shows and when auth is asked to end sessions — no
server."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import pytest

from blazing_app import Conflict, Forbidden, NotFound, Refused
from blazing_es.events import ERASED
from blazing_es.memory import TablesDatabase
from users.adapters.memory import InMemoryProfileReads, InMemorySessions, InMemoryUsersUnitOfWork, UsersTables
from users.application.access import Access
from users.application.commands import (
    ChangePermissions,
    CreateUser,
    DeleteUser,
    MakeAdmin,
    NewUser,
    RecordActivation,
    RecordPasswordChange,
    SetAvatar,
    TakeBalance,
    UpdateProfile,
)
from users.application.ports import Caller, Profile, UsersUnitOfWork
from users.application.publishing import user_streams
from users.application.queries import UsersQueries
from users.domain import user as u

LEVELS = (u.BASIC, u.ADMIN, u.AFFILIATE, u.SUPER_ADMIN)


class Users:
    """The users service's handlers on one in-memory database."""

    def __init__(self, *, auth_confirms: bool = True) -> None:
        self.db = TablesDatabase(tables=UsersTables())
        self.streams = user_streams(cache_size=100)
        reads = InMemoryProfileReads(self.db)
        access = Access(reads)
        self.sessions = InMemorySessions(confirms=auth_confirms)
        self.reads = reads
        self.create = CreateUser(self.uow, self.streams, access, reads)
        self.update = UpdateProfile(self.uow, self.streams, reads)
        self.avatar = SetAvatar(self.uow, self.streams, "users.set-avatar")
        self.permissions = ChangePermissions(self.uow, self.streams, access, reads, self.sessions)
        self.make_admin = MakeAdmin(reads, ChangePermissions(self.uow, self.streams, access, reads, None))
        self.delete = DeleteUser(self.uow, self.streams, access, self.sessions)
        self.activated = RecordActivation(self.uow, self.streams, "users.auth-events")
        self.password = RecordPasswordChange(self.uow, self.streams, "users.auth-events")
        self.balance = TakeBalance(self.uow, self.streams, "users.balance")
        self.queries = UsersQueries(reads, access)

    def uow(self) -> UsersUnitOfWork:
        return InMemoryUsersUnitOfWork(self.db)

    async def sign_up(self, email: str | None = None, **fields: Any) -> uuid.UUID:
        user_id = fields.pop("user_id", uuid.uuid4())
        new = NewUser(
            user_id=user_id,
            email=email or f"u-{user_id.hex[:8]}@example.org",
            first_name=fields.pop("first_name", "Ada"),
            last_name=fields.pop("last_name", "Byron"),
            **fields,
        )
        assert await self.create.sign_up(new, "c") == "created"
        return user_id

    async def at_level(self, level: int) -> Caller:
        """A user holding ``level`` (set by the operator), as their token claims it."""
        user_id = await self.sign_up()
        if level != u.BASIC:
            await self.make_admin.permissions.set(user_id, level, None, "c")
        return Caller(user_id=user_id, permissions=level)

    async def profile(self, user_id: uuid.UUID) -> Profile:
        profile = await self.reads.profile(user_id)
        assert profile is not None
        return profile

    def stored(self, user_id: uuid.UUID) -> list[str]:
        return [e.event_type for e in self.db.streams.get(self.streams.stream_id(user_id), [])]

    def published(self, user_id: uuid.UUID | None = None) -> list[str]:
        return [e.event_type for e in self.db.published if user_id is None or e.aggregate_id == str(user_id)]


@pytest.fixture
def users() -> Users:
    return Users()


# ---------------------------------------------------------------------------------- creation


async def test_create_user_is_idempotent_by_id(users: Users) -> None:
    new = NewUser(user_id=uuid.uuid4(), email="ada@example.org", first_name="Ada", last_name="Byron")
    assert await users.create.sign_up(new, "c") == "created"
    assert await users.create.sign_up(new, "c") == "already_exists"
    assert await users.create.sign_up(msgspec.structs.replace(new, email="other@example.org"), "c") == "already_exists"
    assert users.stored(new.user_id) == ["created"]
    assert users.published() == ["user.created"]
    profile = await users.profile(new.user_id)
    assert (profile.email, profile.first_name, profile.permissions, profile.activated, profile.balance) == (
        "ada@example.org",
        "Ada",
        u.BASIC,
        False,
        0,
    )


async def test_an_email_another_user_has_is_a_conflict_whatever_its_case(users: Users) -> None:
    await users.sign_up("ada@example.org")
    late = NewUser(user_id=uuid.uuid4(), email="ADA@Example.org", first_name="Ada", last_name="B")
    with pytest.raises(Conflict, match="A user with this e-mail already exists"):
        await users.create.sign_up(late, "c")
    assert users.stored(late.user_id) == []
    assert users.published() == ["user.created"]


async def test_a_sign_up_starts_as_a_basic_user(users: Users) -> None:
    with pytest.raises(Refused, match="permissions 10 refused"):
        await users.sign_up(permissions=u.ADMIN)
    assert users.published() == []


async def test_a_deleted_users_id_is_not_created_again(users: Users) -> None:
    user_id = await users.sign_up()
    me = Caller(user_id=user_id, permissions=u.BASIC)
    await users.delete(me, user_id, "c")
    again = NewUser(user_id=user_id, email="new@example.org", first_name="N", last_name="N")
    assert await users.create.sign_up(again, "c") == "already_exists"
    assert await users.reads.profile(user_id) is None


@pytest.mark.parametrize("granted", LEVELS)
@pytest.mark.parametrize("level", LEVELS)
async def test_an_admin_creates_users_at_most_at_their_own_level(users: Users, level: int, granted: int) -> None:
    creator = await users.at_level(level)
    email = f"new-{uuid.uuid4().hex[:8]}@example.org"
    if level not in (u.ADMIN, u.SUPER_ADMIN):
        with pytest.raises(Forbidden, match=u.INSUFFICIENT):
            await users.create.by_admin(creator, email, "Grace", "Hopper", granted, "c")
    elif granted > level:
        with pytest.raises(Forbidden, match=u.ABOVE_OWN):
            await users.create.by_admin(creator, email, "Grace", "Hopper", granted, "c")
    else:
        profile = await users.create.by_admin(creator, email, "Grace", "Hopper", granted, "c")
        assert (profile.email, profile.permissions) == (email, granted)
        created = users.db.published[-1]
        assert (created.event_type, created.actor_id) == ("user.created", creator.user_id)
        assert created.payload.created_by == creator.user_id
        return
    assert await users.reads.by_email(email) is None


async def test_an_admin_claim_counts_only_as_far_as_the_account_holds_it(users: Users) -> None:
    basic = await users.at_level(u.BASIC)
    claims_admin = Caller(user_id=basic.user_id, permissions=u.SUPER_ADMIN)
    with pytest.raises(Forbidden):
        await users.create.by_admin(claims_admin, "x@example.org", "X", "Y", u.BASIC, "c")
    admin = await users.at_level(u.ADMIN)
    with pytest.raises(Forbidden, match=u.ABOVE_OWN):
        await users.create.by_admin(
            Caller(user_id=admin.user_id, permissions=u.SUPER_ADMIN), "x@example.org", "X", "Y", u.AFFILIATE, "c"
        )
    stranger = Caller(user_id=uuid.uuid4(), permissions=u.SUPER_ADMIN)
    with pytest.raises(Forbidden):
        await users.queries.search(stranger, None, 10, 0)


async def test_an_admin_cannot_create_a_user_with_a_taken_email(users: Users) -> None:
    await users.sign_up("taken@example.org")
    admin = await users.at_level(u.ADMIN)
    with pytest.raises(Conflict):
        await users.create.by_admin(admin, "Taken@example.org", "T", "T", u.BASIC, "c")


# ---------------------------------------------------------------------------------- the profile


async def test_a_profile_update_changes_and_publishes_only_what_differs(users: Users) -> None:
    user_id = await users.sign_up()
    me = Caller(user_id=user_id, permissions=u.BASIC)
    profile = await users.update(me, None, "Lovelace", "c")
    assert (profile.first_name, profile.last_name) == ("Ada", "Lovelace")
    updated = users.db.published[-1]
    assert updated.event_type == "user.profile_updated"
    assert updated.payload.fields_changed == ["last_name"]
    assert updated.actor_id == user_id
    await users.update(me, "Ada", "Lovelace", "c")
    assert users.stored(user_id) == ["created", "profile_updated"], "the same names again change nothing"
    with pytest.raises(NotFound, match="User not found"):
        await users.update(Caller(user_id=uuid.uuid4(), permissions=u.BASIC), "A", "B", "c")


async def test_the_avatar_follows_set_avatar_once_per_command(users: Users) -> None:
    user_id = await users.sign_up()
    job = uuid.uuid4()
    assert await users.avatar(job, user_id, "/api/v1/avatar/1", "c")
    assert not await users.avatar(job, user_id, "/api/v1/avatar/2", "c"), "a redelivered command"
    assert await users.avatar(uuid.uuid4(), user_id, "/api/v1/avatar/1", "c")
    assert (await users.profile(user_id)).avatar_url == "/api/v1/avatar/1"
    assert users.stored(user_id) == ["created", "avatar_changed"]
    assert users.db.published[-1].payload.fields_changed == ["avatar_url"]
    assert await users.avatar(uuid.uuid4(), user_id, None, "c")
    assert (await users.profile(user_id)).avatar_url is None
    with pytest.raises(NotFound):
        await users.avatar(uuid.uuid4(), uuid.uuid4(), "/a", "c")


async def test_a_user_sees_only_their_own_profile_and_an_admin_anyones(users: Users) -> None:
    alice, bob = await users.sign_up(), await users.sign_up()
    as_alice = Caller(user_id=alice, permissions=u.BASIC)
    assert (await users.queries.me(as_alice)).id == alice
    assert (await users.queries.profile(as_alice, alice)).id == alice
    with pytest.raises(NotFound):
        await users.queries.profile(as_alice, bob)
    with pytest.raises(NotFound):  # an admin claim above what the account holds
        await users.queries.profile(Caller(user_id=alice, permissions=u.ADMIN), bob)
    admin = await users.at_level(u.ADMIN)
    assert (await users.queries.profile(admin, bob)).id == bob
    with pytest.raises(NotFound):
        await users.queries.profile(admin, uuid.uuid4())
    with pytest.raises(NotFound):
        await users.queries.me(Caller(user_id=uuid.uuid4(), permissions=u.BASIC))


async def test_an_admin_searches_by_email_or_name_literally(users: Users) -> None:
    await users.sign_up("grace@example.org", first_name="Grace", last_name="Hopper")
    await users.sign_up("ada@example.org", first_name="Ada", last_name="Lovelace")
    await users.sign_up("x_y@example.org", first_name="Xavier", last_name="Percent%")
    admin = await users.at_level(u.ADMIN)
    found, total = await users.queries.search(admin, "HOPPER", 10, 0)
    assert ([p.email for p in found], total) == (["grace@example.org"], 1)
    assert (await users.queries.search(admin, "_", 10, 0))[1] == 1, "_ is a character, not a wildcard"
    assert (await users.queries.search(admin, "%", 10, 0))[1] == 1
    page, total = await users.queries.search(admin, None, 2, 1)
    assert (len(page), total) == (2, 4)
    with pytest.raises(Forbidden):
        await users.queries.search(await users.at_level(u.AFFILIATE), None, 10, 0)


# ---------------------------------------------------------------------------------- permissions


@pytest.mark.parametrize("target", LEVELS)
@pytest.mark.parametrize("new_level", LEVELS)
@pytest.mark.parametrize("level", LEVELS)
async def test_only_a_super_admin_changes_permissions_by_the_rules(
    users: Users, level: int, target: int, new_level: int
) -> None:
    actor = await users.at_level(level)
    subject = (await users.at_level(target)).user_id
    if level != u.SUPER_ADMIN:
        with pytest.raises(Forbidden, match=u.INSUFFICIENT):
            await users.permissions(actor, subject, new_level, "c")
        assert (await users.profile(subject)).permissions == target
        return
    changed = await users.permissions(actor, subject, new_level, "c")
    assert changed.confirmed
    assert changed.profile.permissions == new_level
    revoked = [r for r in users.sessions.revoked if r.user_id == subject]
    if new_level == target:
        assert revoked == [], "nothing changed: no session ends"
        return
    [revocation] = revoked
    stream = users.db.streams[users.streams.stream_id(subject)]
    assert (revocation.reason, revocation.permissions, revocation.user_version) == (
        "permissions_changed",
        new_level,
        stream[-1].version,
    ), "the sessions end with the stream version of the change (auth orders by it)"
    event = users.db.published[-1]
    assert (event.event_type, event.aggregate_version) == ("user.permissions_changed", stream[-1].version)
    assert (event.payload.previous_permissions, event.payload.changed_by) == (target, actor.user_id)


async def test_nobody_changes_their_own_level(users: Users) -> None:
    root = await users.at_level(u.SUPER_ADMIN)
    with pytest.raises(Forbidden, match=u.OWN):
        await users.permissions(root, root.user_id, u.BASIC, "c")


async def test_a_permission_change_of_nobody_is_not_found(users: Users) -> None:
    root = await users.at_level(u.SUPER_ADMIN)
    with pytest.raises(NotFound):
        await users.permissions(root, uuid.uuid4(), u.ADMIN, "c")


async def test_a_change_auth_has_not_confirmed_is_done_and_says_so() -> None:
    users = Users(auth_confirms=False)
    root, subject = await users.at_level(u.SUPER_ADMIN), await users.sign_up()
    changed = await users.permissions(root, subject, u.ADMIN, "c")
    assert not changed.confirmed
    assert changed.profile.permissions == u.ADMIN
    assert users.sessions.revoked[-1].user_id == subject


async def test_make_admin_finds_the_user_by_email_and_leaves_the_sessions_to_auth(users: Users) -> None:
    user_id = await users.sign_up("ops@example.org")
    made = await users.make_admin("OPS@example.org")
    assert made.id == user_id
    assert (await users.profile(user_id)).permissions == u.SUPER_ADMIN
    event = users.db.published[-1]
    assert (event.event_type, event.correlation_id, event.actor_id) == ("user.permissions_changed", "make-admin", None)
    assert users.sessions.revoked == []
    with pytest.raises(NotFound):
        await users.make_admin("nobody@example.org")


# ---------------------------------------------------------------------------------- deletion


async def test_a_deletion_erases_the_user_and_ends_their_sessions_before_the_answer(users: Users) -> None:
    user_id = await users.sign_up("gone@example.org")
    await users.update(Caller(user_id=user_id, permissions=u.BASIC), "Gone", None, "c")
    await users.balance(uuid.uuid4(), user_id, 100, 1, "c")
    assert await users.delete(Caller(user_id=user_id, permissions=u.BASIC), user_id, "c")
    assert [(r.user_id, r.reason) for r in users.sessions.revoked] == [(user_id, "deleted")]
    assert await users.reads.profile(user_id) is None
    assert await users.reads.by_email("gone@example.org") is None
    stream = users.db.streams[users.streams.stream_id(user_id)]
    assert [e.event_type for e in stream] == ["created", "profile_updated", "balance_changed", "deleted"]
    assert all(e.data == ERASED for e in stream[:-1]), "the stream keeps its shape, not its content"
    assert b"gone@example.org" not in stream[-1].data
    assert users.published(user_id)[-1] == "user.deleted"
    assert not await users.balance(uuid.uuid4(), user_id, 500, 2, "c"), "a deleted user takes no balance"
    async with users.uow() as uow:
        state, version = await users.streams.load(uow, user_id)
    assert (state, version) == (u.User(user_id=user_id, deleted=True), 4)
    with pytest.raises(NotFound):
        await users.delete(Caller(user_id=user_id, permissions=u.BASIC), user_id, "c")


async def test_who_deletes_whom(users: Users) -> None:
    alice, bob = await users.sign_up(), await users.sign_up()
    with pytest.raises(NotFound):
        await users.delete(Caller(user_id=alice, permissions=u.BASIC), bob, "c")
    admin, other_admin = await users.at_level(u.ADMIN), await users.at_level(u.ADMIN)
    with pytest.raises(Forbidden, match=u.AT_OR_ABOVE):
        await users.delete(admin, other_admin.user_id, "c")
    with pytest.raises(NotFound):
        await users.delete(admin, uuid.uuid4(), "c")
    assert await users.delete(admin, bob, "c")
    root = await users.at_level(u.SUPER_ADMIN)
    assert await users.delete(root, other_admin.user_id, "c")
    assert [r.user_id for r in users.sessions.revoked if r.reason == "deleted"] == [bob, other_admin.user_id]


async def test_a_deletion_auth_has_not_confirmed_answers_so() -> None:
    users = Users(auth_confirms=False)
    user_id = await users.sign_up()
    assert not await users.delete(Caller(user_id=user_id, permissions=u.BASIC), user_id, "c")
    assert await users.reads.profile(user_id) is None


# ---------------------------------------------------------------------------------- auth's events


async def test_an_activation_after_the_profile_activates_once(users: Users) -> None:
    user_id = await users.sign_up()
    event = uuid.uuid4()
    assert await users.activated(event, user_id, "c")
    assert not await users.activated(event, user_id, "c"), "a redelivery"
    assert await users.activated(uuid.uuid4(), user_id, "c")
    assert users.stored(user_id) == ["created", "activated"]
    assert (await users.profile(user_id)).activated


async def test_an_activation_before_the_profile_waits_for_it(users: Users) -> None:
    user_id = uuid.uuid4()
    assert await users.activated(uuid.uuid4(), user_id, "c")
    assert users.stored(user_id) == []
    assert user_id in users.db.tables.early_activations
    await users.sign_up(user_id=user_id)
    assert users.stored(user_id) == ["created", "activated"]
    assert users.published(user_id) == ["user.created", "user.activated"]
    assert (await users.profile(user_id)).activated
    assert users.db.tables.early_activations == set(), "applied once"


async def test_an_activation_of_a_deleted_user_is_not_kept(users: Users) -> None:
    user_id = await users.sign_up()
    await users.delete(Caller(user_id=user_id, permissions=u.BASIC), user_id, "c")
    assert await users.activated(uuid.uuid4(), user_id, "c")
    assert users.db.tables.early_activations == set()


async def test_a_password_change_is_recorded_once(users: Users) -> None:
    user_id = await users.sign_up()
    event = uuid.uuid4()
    assert await users.password(event, user_id, "reset", "c")
    assert not await users.password(event, user_id, "reset", "c")
    assert users.db.published[-1].payload.method == "reset"
    with pytest.raises(NotFound):
        await users.password(uuid.uuid4(), uuid.uuid4(), "change", "c")
    assert users.db.claims & {("users.auth-events", event)}


# ---------------------------------------------------------------------------------- the balance


async def test_the_balance_follows_the_ledger_in_order_and_once(users: Users) -> None:
    user_id = await users.sign_up()
    first = uuid.uuid4()
    assert await users.balance(first, user_id, 100, 1, "c")
    assert await users.balance(uuid.uuid4(), user_id, 300, 3, "c")
    assert not await users.balance(uuid.uuid4(), user_id, 200, 2, "c"), "v2 after v3: older news"
    assert not await users.balance(first, user_id, 100, 1, "c"), "a redelivered event"
    assert (await users.profile(user_id)).balance == 300
    assert users.stored(user_id) == ["created", "balance_changed", "balance_changed"]
    updates = [e for e in users.db.published if e.event_type == "user.balance_updated"]
    assert [(e.payload.balance, e.aggregate_version) for e in updates] == [(100, 2), (300, 3)]
    assert updates[0].payload.source_event_id == first


async def test_a_balance_of_an_unknown_user_changes_nothing(users: Users) -> None:
    assert not await users.balance(uuid.uuid4(), uuid.uuid4(), 100, 1, "c")
    assert users.db.streams == {}
    assert users.db.published == []


# ---------------------------------------------------------------------------------- publication


async def test_every_published_event_carries_the_version_of_its_stored_event(users: Users) -> None:
    """aggregate_version is the stream version everywhere: one contract event per stored event."""
    user_id = await users.sign_up()
    await users.activated(uuid.uuid4(), user_id, "c")
    await users.update(Caller(user_id=user_id, permissions=u.BASIC), "Grace", None, "c")
    await users.avatar(uuid.uuid4(), user_id, "/a", "c")
    await users.balance(uuid.uuid4(), user_id, 100, 1, "c")
    await users.password(uuid.uuid4(), user_id, "change", "c")
    await users.make_admin.permissions.set(user_id, u.ADMIN, None, "c")
    stored = users.db.streams[users.streams.stream_id(user_id)]
    published = [e for e in users.db.published if e.aggregate_id == str(user_id)]
    assert [(e.aggregate_version, e.event_type) for e in published] == [
        (s.version, f"user.{name}") for s, name in zip(stored, EXPECTED_NAMES, strict=True)
    ]
    assert [s.version for s in stored] == list(range(1, 8))


EXPECTED_NAMES = (
    "created",
    "activated",
    "profile_updated",
    "profile_updated",
    "balance_updated",
    "password_changed",
    "permissions_changed",
)
