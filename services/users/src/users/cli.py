"""``python -m users.cli make-admin EMAIL``: make an existing user a super admin (the first admin).

Goes through the user stream like any change: user.permissions_changed reaches auth, so the next
sign-in's token carries the new permissions.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from blazing_service import NotFound, ServiceSettings
from users.application.service import UsersService
from users.bootstrap import prepare

SUPER_ADMIN = 100


async def make_admin(email: str) -> int:
    settings = ServiceSettings.from_env("users", 8001)
    db = await prepare(settings)
    try:
        svc = UsersService(db)
        matches, _total = await svc.search(email, 10, 0)
        user = next((m for m in matches if m.email.lower() == email.lower()), None)
        if user is None:
            raise NotFound(email)
        await svc.set_permissions(user.id, SUPER_ADMIN, None, "make-admin")
        print(f"{user.email} ({user.id}) is now a super admin")
        return 0
    except NotFound:
        print(f"no user with e-mail {email}; sign up first", file=sys.stderr)
        return 1
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m users.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    admin = sub.add_parser("make-admin", help="make the user with this e-mail a super admin")
    admin.add_argument("email")
    args = parser.parse_args()
    raise SystemExit(asyncio.run(make_admin(args.email)))


if __name__ == "__main__":
    main()
