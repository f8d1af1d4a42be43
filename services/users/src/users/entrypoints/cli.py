"""``python -m users.entrypoints.cli make-admin EMAIL`` (``make admin EMAIL=…``): make an existing
user a super admin (the first admin).

Goes through the user stream like any change: user.permissions_changed reaches auth, so the next
sign-in's token carries the new permissions.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from blazing_app import NotFound
from blazing_es import install
from blazing_service.db import open_database
from users import settings
from users.adapters.postgres import PostgresProfileReads, PostgresUsersUnitOfWork
from users.application.access import Access
from users.application.commands import ChangePermissions, MakeAdmin
from users.application.ports import UsersUnitOfWork
from users.application.publishing import user_streams


async def make_admin(email: str) -> int:
    url = settings.load().database_url
    async with await open_database(url, name="users-cli", migrations=settings.MIGRATIONS, prepare=install) as db:

        def uow() -> UsersUnitOfWork:
            return PostgresUsersUnitOfWork(db)

        reads = PostgresProfileReads(db)
        permissions = ChangePermissions(uow, user_streams(), Access(reads), reads, None)
        try:
            user = await MakeAdmin(reads, permissions)(email)
        except NotFound:
            print(f"no user with e-mail {email}; sign up first", file=sys.stderr)
            return 1
    print(f"{user.email} ({user.id}) is now a super admin")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m users.entrypoints.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    admin = sub.add_parser("make-admin", help="make the user with this e-mail a super admin")
    admin.add_argument("email")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(make_admin(args.email)))


if __name__ == "__main__":
    main()
