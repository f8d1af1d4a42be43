"""The user decider: the avatar follows what the files service says."""

from __future__ import annotations

import uuid

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
