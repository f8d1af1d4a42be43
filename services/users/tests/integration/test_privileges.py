"""Who may grant what (issue #17 items 1 and 4): nobody grants a level above their own, only a super
admin grants super admin or changes permissions, nobody changes their own, an admin does not act on
someone above them — and a permission change or a deletion takes effect on the very next request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from blazing_commands import CommandBus
from blazing_contracts import CreateUser, make_command
from blazing_service.identity import Identity, sign
from blazing_testing import edge_client, stack_env
from blazing_testing.accounts import PASSWORD, activated_account, admin_account, bearer

pytestmark = pytest.mark.integration
ENV = stack_env()
AUTH = f"http://127.0.0.1:{ENV['AUTH_PORT']}"
USERS = f"http://127.0.0.1:{ENV['USERS_PORT']}"
LEVELS = (1, 10, 50, 100)


def as_user(user_id: uuid.UUID, permissions: int) -> dict[str, str]:
    return sign(Identity(user_id=user_id, permissions=permissions), ENV["GATEWAY_IDENTITY_SECRET"])


async def new_user(client: httpx.AsyncClient) -> tuple[str, uuid.UUID]:
    email, session = await activated_account(client, base=AUTH, prefix="priv")
    return email, uuid.UUID(session["user"]["id"])


@pytest.fixture(scope="module")
async def actors() -> AsyncIterator[dict[int, uuid.UUID]]:
    """A real account at each level (a super admin from `make admin` sets the others)."""
    async with httpx.AsyncClient(timeout=30) as client:
        _, session = await admin_account(client, base=AUTH)
        root = uuid.UUID(session["user"]["id"])
        ids = {100: root}
        for level in (1, 10, 50):
            _, user_id = await new_user(client)
            if level != 1:
                r = await client.patch(
                    f"{USERS}/api/v1/admin/users/{user_id}/permissions",
                    json={"permissions": level},
                    headers=as_user(root, 100),
                )
                assert r.status_code == 200, r.text
            ids[level] = user_id
        yield ids


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as c:
        yield c


@pytest.mark.parametrize("wanted", LEVELS)
@pytest.mark.parametrize("actor", LEVELS)
async def test_create_grants_at_most_the_creators_level(
    client: httpx.AsyncClient, actors: dict[int, uuid.UUID], actor: int, wanted: int
) -> None:
    email = f"granted-{uuid.uuid4().hex[:10]}@example.org"
    r = await client.post(
        f"{USERS}/api/v1/user",
        json={"email": email, "first_name": "Grace", "last_name": "Hopper", "permissions": wanted},
        headers=as_user(actors[actor], actor),
    )
    allowed = actor in (10, 100) and wanted <= actor
    assert r.status_code == (201 if allowed else 403), r.text
    if allowed:
        assert r.json()["user"]["permissions"] == wanted
    else:
        listed = await client.get(f"{USERS}/api/v1/admin/users", params={"q": email}, headers=as_user(actors[100], 100))
        assert listed.json()["total"] == 0, "a refused create wrote nothing"


@pytest.mark.parametrize("wanted", LEVELS)
@pytest.mark.parametrize("actor", LEVELS)
async def test_only_a_super_admin_changes_permissions(
    client: httpx.AsyncClient, actors: dict[int, uuid.UUID], actor: int, wanted: int
) -> None:
    _, target = await new_user(client)
    r = await client.patch(
        f"{USERS}/api/v1/admin/users/{target}/permissions",
        json={"permissions": wanted},
        headers=as_user(actors[actor], actor),
    )
    assert r.status_code == (200 if actor == 100 else 403), r.text
    profile = (await client.get(f"{USERS}/api/v1/user/{target}", headers=as_user(actors[100], 100))).json()
    assert profile["user"]["permissions"] == (wanted if actor == 100 else 1)


@pytest.mark.parametrize("level", LEVELS)
async def test_nobody_changes_their_own_permissions(
    client: httpx.AsyncClient, actors: dict[int, uuid.UUID], level: int
) -> None:
    me = actors[100]
    r = await client.patch(
        f"{USERS}/api/v1/admin/users/{me}/permissions", json={"permissions": level}, headers=as_user(me, 100)
    )
    assert r.status_code == 403, r.text
    profile = (await client.get(f"{USERS}/api/v1/user/{me}", headers=as_user(me, 100))).json()
    assert profile["user"]["permissions"] == 100


async def test_the_level_is_the_current_one_not_the_tokens(
    client: httpx.AsyncClient, actors: dict[int, uuid.UUID]
) -> None:
    """An identity that claims more than the account holds now (a stale token) acts at the lower level."""
    basic = actors[1]
    r = await client.post(
        f"{USERS}/api/v1/user",
        json={"email": f"stale-{uuid.uuid4().hex[:8]}@example.org", "first_name": "Ada", "last_name": "Byron"},
        headers=as_user(basic, 100),
    )
    assert r.status_code == 403, r.text
    stranger = uuid.uuid4()  # no account at all
    r = await client.get(f"{USERS}/api/v1/admin/users", headers=as_user(stranger, 100))
    assert r.status_code in (401, 403), r.text


async def test_an_admin_does_not_delete_someone_above_them(
    client: httpx.AsyncClient, actors: dict[int, uuid.UUID]
) -> None:
    _, session = await admin_account(client, base=AUTH)
    other_super = uuid.UUID(session["user"]["id"])
    for target in (other_super, actors[50]):
        r = await client.delete(f"{USERS}/api/v1/user/{target}", headers=as_user(actors[10], 10))
        assert r.status_code == 403, r.text
        assert (await client.get(f"{USERS}/api/v1/user/{target}", headers=as_user(target, 100))).status_code == 200
    _, basic = await new_user(client)
    assert (await client.delete(f"{USERS}/api/v1/user/{basic}", headers=as_user(actors[10], 10))).status_code == 200


async def test_create_user_command_never_makes_an_admin(bus: CommandBus) -> None:
    """The sign-up command path: create_user carrying permissions > 1 is refused, a basic one is not."""
    replies = {}
    for level in (100, 1):
        user_id = uuid.uuid4()
        command = make_command(
            CreateUser(
                user_id=user_id,
                email=f"cmd-{uuid.uuid4().hex[:10]}@example.org",
                first_name="Eve",
                last_name="Mallory",
                permissions=level,  # type: ignore[arg-type]
            ),
            job_id=user_id,
            created_at=datetime.now(UTC),
            correlation_id="privilege-test",
            max_attempts=1,
        )
        replies[level] = (user_id, await bus.call(command, 5))
    async with httpx.AsyncClient(timeout=30) as client:
        refused, ok = replies[100][0], replies[1][0]
        assert replies[100][1] is None
        assert (await client.get(f"{USERS}/api/v1/user/{refused}", headers=as_user(refused, 1))).status_code == 404
        assert replies[1][1] is not None
        assert (await client.get(f"{USERS}/api/v1/user/{ok}", headers=as_user(ok, 1))).json()["user"][
            "permissions"
        ] == 1


async def test_a_permission_change_takes_effect_on_the_next_request(client: httpx.AsyncClient) -> None:
    """Through https://localhost: promoted → the next sign-in carries it; demoted → the old token
    is refused at once; a new sign-in carries the lower level."""
    _, root_session = await admin_account(client, base=AUTH)
    root = bearer(root_session["access_token"])
    email, target = await new_user(client)
    async with edge_client() as edge:
        url = f"/api/v1/admin/users/{target}/permissions"
        assert (await edge.patch(url, json={"permissions": 10}, headers=root)).status_code == 200
        promoted = (await edge.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})).json()
        assert promoted["user"]["permissions"] == 10, "the sign-in right after the change carries it"
        old = bearer(promoted["access_token"])
        assert (await edge.get("/api/v1/admin/users", headers=old)).status_code == 200

        assert (await edge.patch(url, json={"permissions": 1}, headers=root)).status_code == 200
        for path in ("/api/v1/admin/users", "/api/v1/user"):
            assert (await edge.get(path, headers=old)).status_code in (401, 403), path
        again = (await edge.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})).json()
        assert again["user"]["permissions"] == 1
        assert (await edge.get("/api/v1/admin/users", headers=bearer(again["access_token"]))).status_code == 403
        assert (await edge.get("/api/v1/user", headers=bearer(again["access_token"]))).status_code == 200


async def test_a_deleted_users_token_is_refused_on_the_next_request(client: httpx.AsyncClient) -> None:
    email, session = await activated_account(client, base=AUTH, prefix="priv-del")
    headers = bearer(session["access_token"])
    async with edge_client() as edge:
        me = session["user"]["id"]
        assert (await edge.delete(f"/api/v1/user/{me}", headers=headers)).status_code == 200
        assert (await edge.get("/api/v1/user", headers=headers)).status_code == 401
        again = await edge.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        assert again.status_code == 401
        refreshed = await edge.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert refreshed.status_code == 401
