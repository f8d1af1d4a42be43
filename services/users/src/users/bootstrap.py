"""The users composition root: everything it runs, built from its settings."""

from __future__ import annotations

from litestar import Litestar

from blazing_commands import CommandBus
from blazing_contracts.topology import AUTH_EVENTS, JOB_CREATE_USER, JOB_SET_AVATAR, TRANSACTION_EVENTS
from blazing_service import ServiceSettings, create_app
from blazing_service.runtime import Runtime
from users.adapters.auth import AuthSessions
from users.adapters.postgres import PostgresProfileReads, PostgresUsersUnitOfWork
from users.application.access import Access
from users.application.commands import (
    ChangePermissions,
    CreateUser,
    DeleteUser,
    RecordActivation,
    RecordPasswordChange,
    SetAvatar,
    TakeBalance,
    UpdateProfile,
)
from users.application.ports import UsersUnitOfWork
from users.application.publishing import user_streams
from users.application.queries import UsersQueries
from users.entrypoints.consumers import (
    AUTH_EVENT_TYPES,
    BALANCES,
    auth_events_handler,
    create_user_handler,
    set_avatar_handler,
    transaction_events_handler,
)
from users.entrypoints.http import AdminController, Handlers, UserController
from users.settings import MIGRATIONS, REVOKE_WAIT_SECONDS

AUTH_EVENTS_CONSUMER = "users.auth-events"
BALANCE_CONSUMER = "users.balance"
SET_AVATAR_CONSUMER = "users.set-avatar"


def build_app(settings: ServiceSettings) -> Litestar:
    runtime = Runtime(settings, migrations=MIGRATIONS)
    pool = runtime.pool

    def uow() -> UsersUnitOfWork:
        return PostgresUsersUnitOfWork(pool)

    streams = user_streams(cache_size=10_000)
    reads = PostgresProfileReads(pool)
    access = Access(reads)
    sessions = AuthSessions(CommandBus(runtime.rabbit), REVOKE_WAIT_SECONDS)
    create = CreateUser(uow, streams, access, reads)

    runtime.command(JOB_CREATE_USER, create_user_handler(create), concurrency=4)
    runtime.command(JOB_SET_AVATAR, set_avatar_handler(SetAvatar(uow, streams, SET_AVATAR_CONSUMER)))
    runtime.consume(
        [AUTH_EVENTS],
        group_id=AUTH_EVENTS_CONSUMER,
        handler=auth_events_handler(
            RecordActivation(uow, streams, AUTH_EVENTS_CONSUMER),
            RecordPasswordChange(uow, streams, AUTH_EVENTS_CONSUMER),
        ),
        events=AUTH_EVENT_TYPES,
    )
    runtime.consume(
        [TRANSACTION_EVENTS],
        group_id=BALANCE_CONSUMER,
        handler=transaction_events_handler(TakeBalance(uow, streams, BALANCE_CONSUMER)),
        events=BALANCES,
    )
    runtime.relay()
    app = create_app(
        settings,
        [UserController, AdminController],
        runtime=runtime,
        description="User profiles, permissions and balances.",
    )
    app.state.users = Handlers(
        queries=UsersQueries(reads, access),
        create=create,
        update_profile=UpdateProfile(uow, streams, reads),
        change_permissions=ChangePermissions(uow, streams, access, reads, sessions),
        delete=DeleteUser(uow, streams, access, sessions),
    )
    return app
