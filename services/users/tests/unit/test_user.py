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
