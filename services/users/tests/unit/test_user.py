"""The user decider: the avatar follows what the files service says; who may grant, change and
delete what."""

from __future__ import annotations

import uuid

import pytest

from users.domain import user as u


def test_the_avatar_follows_what_files_says_and_a_repeat_changes_nothing() -> None:
    state = u.evolve(
        u.User(user_id=uuid.uuid4()), u.Created(email="a@example.org", first_name="A", last_name="B", permissions=1)
    )
    [changed] = u.change_avatar(state, "/api/v1/avatar/1")
    state = u.evolve(state, changed)
    assert state.avatar_url == "/api/v1/avatar/1"
    assert u.change_avatar(state, "/api/v1/avatar/1") == []
    assert u.evolve(state, u.change_avatar(state, None)[0]).avatar_url is None


LEVELS = (u.BASIC, u.ADMIN, u.AFFILIATE, u.SUPER_ADMIN)


def someone(level: int) -> u.User:
    return u.evolve(
        u.User(user_id=uuid.uuid4()), u.Created(email="t@example.org", first_name="T", last_name="T", permissions=level)
    )


def actor(level: int) -> u.Actor:
    return u.Actor(user_id=uuid.uuid4(), level=level)


@pytest.mark.parametrize("granted", LEVELS)
@pytest.mark.parametrize("level", LEVELS)
def test_nobody_grants_a_level_above_their_own(level: int, granted: int) -> None:
    refusal = u.grant_refusal(actor(level), granted)
    if level not in (u.ADMIN, u.SUPER_ADMIN):
        assert refusal == u.INSUFFICIENT
    elif granted > level:
        assert refusal == u.ABOVE_OWN
    else:
        assert refusal is None


def test_only_a_super_admin_grants_super_admin() -> None:
    assert [lvl for lvl in LEVELS if u.grant_refusal(actor(lvl), u.SUPER_ADMIN) is None] == [u.SUPER_ADMIN]
    assert [lvl for lvl in LEVELS if u.change_refusal(actor(lvl), someone(1), u.SUPER_ADMIN) is None] == [u.SUPER_ADMIN]


@pytest.mark.parametrize("target", LEVELS)
@pytest.mark.parametrize("new_level", LEVELS)
def test_an_admin_changes_only_users_below_them_and_never_above_their_level(target: int, new_level: int) -> None:
    refusal = u.change_refusal(actor(u.ADMIN), someone(target), new_level)
    assert (refusal is None) == (target < u.ADMIN and new_level <= u.ADMIN)


def test_nobody_changes_their_own_level() -> None:
    for level in LEVELS:
        me = someone(level)
        assert u.change_refusal(u.Actor(user_id=me.user_id, level=level), me, u.BASIC) == u.OWN


def test_who_deletes_whom() -> None:
    admin, root = actor(u.ADMIN), actor(u.SUPER_ADMIN)
    assert u.delete_refusal(admin, someone(u.BASIC)) is None
    assert u.delete_refusal(admin, someone(u.ADMIN)) == u.AT_OR_ABOVE
    assert u.delete_refusal(admin, someone(u.AFFILIATE)) == u.AT_OR_ABOVE
    assert u.delete_refusal(admin, someone(u.SUPER_ADMIN)) == u.AT_OR_ABOVE
    assert u.delete_refusal(root, someone(u.SUPER_ADMIN)) is None
    assert u.delete_refusal(actor(u.BASIC), someone(u.BASIC)) == u.INSUFFICIENT
    me = someone(u.BASIC)
    assert u.delete_refusal(u.Actor(user_id=me.user_id, level=u.BASIC), me) is None


# ---------------------------------------------------------------------------------- the deciders
# Given the stored events so far, when a command is decided, then these events (or the refusal).


def given(*events: u.Event, user_id: uuid.UUID | None = None) -> u.User:
    state = u.initial(user_id or uuid.uuid4())
    for event in events:
        state = u.evolve(state, event)
    return state


CREATED = u.Created(email="ada@example.org", first_name="Ada", last_name="Byron", permissions=u.BASIC)


def create(state: u.User, *, activated: bool = False) -> list[u.Event]:
    return u.decide_create(
        state,
        email="ada@example.org",
        first_name="Ada",
        last_name="Byron",
        permissions=u.BASIC,
        created_by=None,
        activated=activated,
    )


def test_a_user_is_created_once_and_never_again_after_deletion() -> None:
    assert create(given()) == [CREATED]
    assert create(given(CREATED)) == []
    assert create(given(CREATED, u.Deleted())) == [], "a deleted user's id is not reused"


def test_an_activation_that_came_first_is_created_with_the_user() -> None:
    assert create(given(), activated=True) == [CREATED, u.Activated()]
    assert given(*create(given(), activated=True)).activated


def test_nothing_but_creation_happens_to_a_user_that_does_not_exist() -> None:
    for decide in (
        lambda s: u.update_profile(s, "A", None),
        lambda s: u.change_avatar(s, "/a"),
        u.decide_activate,
        lambda s: u.decide_password_changed(s, "reset"),
        lambda s: u.decide_permissions(s, u.ADMIN, None),
        lambda s: u.decide_delete(s, actor(u.SUPER_ADMIN)),
    ):
        with pytest.raises(u.UserMissing, match="User not found"):
            decide(given())
        with pytest.raises(u.UserMissing):
            decide(given(CREATED, u.Deleted()))


def test_a_profile_update_names_only_what_changed() -> None:
    state = given(CREATED)
    assert u.update_profile(state, "Ada", "Lovelace") == [
        u.ProfileUpdated(first_name="Ada", last_name="Lovelace", fields_changed=["last_name"])
    ]
    assert u.update_profile(state, None, None) == []
    assert u.update_profile(state, "Ada", None) == []


def test_an_activation_happens_once() -> None:
    assert u.decide_activate(given(CREATED)) == [u.Activated()]
    assert u.decide_activate(given(CREATED, u.Activated())) == []


def test_permissions_change_by_the_rules_and_the_same_level_is_no_change() -> None:
    state = given(CREATED)
    root = actor(u.SUPER_ADMIN)
    assert u.decide_permissions(state, u.AFFILIATE, root) == [
        u.PermissionsChanged(permissions=u.AFFILIATE, previous=u.BASIC, changed_by=root.user_id)
    ]
    assert u.decide_permissions(state, u.BASIC, root) == []
    with pytest.raises(u.NotAllowed, match=u.ABOVE_OWN):
        u.decide_permissions(state, u.AFFILIATE, actor(u.ADMIN))
    assert u.decide_permissions(state, u.SUPER_ADMIN, None) == [
        u.PermissionsChanged(permissions=u.SUPER_ADMIN, previous=u.BASIC)
    ], "the operator's command line: no rule but existence"


def test_a_deletion_forgets_everything_but_that_the_user_was_deleted() -> None:
    admin = actor(u.ADMIN)
    state = given(CREATED, u.Activated(), u.AvatarChanged(avatar_url="/a"))
    [deleted] = u.decide_delete(state, admin)
    assert deleted == u.Deleted(deleted_by=admin.user_id)
    after = u.evolve(state, deleted)
    assert after == u.User(user_id=state.user_id, deleted=True)
    with pytest.raises(u.NotAllowed, match=u.AT_OR_ABOVE):
        u.decide_delete(given(u.Created(email="e", first_name="F", last_name="L", permissions=u.ADMIN)), admin)


def test_a_balance_is_taken_once_and_never_older_over_newer() -> None:
    source = uuid.uuid4()
    state = given(CREATED)
    [first] = u.take_balance(state, 100, 1, source)
    assert first == u.BalanceChanged(balance=100, ledger_version=1, source_event_id=source)
    state = u.evolve(state, first)
    state = u.evolve(state, u.take_balance(state, 300, 3, uuid.uuid4())[0])
    assert (state.balance, state.balance_version) == (300, 3)
    assert u.take_balance(state, 200, 2, uuid.uuid4()) == [], "v2 arriving after v3 is older news"
    assert u.take_balance(state, 300, 3, uuid.uuid4()) == [], "the same version again"
    assert u.take_balance(given(), 5, 1, source) == [], "no such user: nothing to keep"
    assert u.take_balance(given(CREATED, u.Deleted()), 5, 9, source) == []


def test_an_account_sees_itself_and_an_admin_sees_anyone() -> None:
    me = actor(u.BASIC)
    assert u.sees(me, me.user_id)
    assert not u.sees(me, uuid.uuid4())
    assert not u.sees(actor(u.AFFILIATE), uuid.uuid4()), "affiliate is not an admin level"
    assert u.sees(actor(u.ADMIN), uuid.uuid4())
    assert u.sees(actor(u.SUPER_ADMIN), uuid.uuid4())
