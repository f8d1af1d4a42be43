"""``python -m ledger.entrypoints.cli rebuild``: the read models again from the event store
(``make rebuild SERVICE=ledger``)."""

from __future__ import annotations

import argparse
import asyncio

from blazing_es import install
from blazing_service.db import open_database
from ledger import settings
from ledger.adapters.postgres import rebuild


async def run_rebuild() -> int:
    url = settings.load().database_url
    async with await open_database(url, name="ledger-cli", migrations=settings.MIGRATIONS, prepare=install) as db:
        count = await rebuild(db)
    print(f"ledger read models rebuilt from {count} events")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ledger.entrypoints.cli")
    parser.add_argument("command", choices=["rebuild"])
    parser.parse_args()
    raise SystemExit(asyncio.run(run_rebuild()))


if __name__ == "__main__":
    main()
