"""``python -m ledger.cli rebuild``: rebuild the read models from the event store (make rebuild SERVICE=ledger)."""

from __future__ import annotations

import argparse
import asyncio

from blazing_service import ServiceSettings
from ledger.application.service import LedgerService
from ledger.bootstrap import prepare


async def rebuild() -> int:
    db = await prepare(ServiceSettings.from_env("ledger", 8003))
    try:
        count = await LedgerService(db).rebuild()
        print(f"ledger read models rebuilt from {count} events")
        return 0
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m ledger.cli")
    parser.add_argument("command", choices=["rebuild"])
    parser.parse_args()
    raise SystemExit(asyncio.run(rebuild()))


if __name__ == "__main__":
    main()
