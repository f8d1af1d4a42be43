"""The services of the system as tests see them: deploy/services.tsv (name, port, the variable that
overrides the port, whether it owns a database), the one table the stack script reads too."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from blazing_testing.stack import REPO_ROOT

TABLE = REPO_ROOT / "deploy/services.tsv"
COLUMNS = ("name", "port", "variable", "database")


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    """Its port in the table: the default the stack and every deployment use."""
    variable: str
    """The environment variable that overrides the port (APP_PORT for the gateway, USERS_PORT, …)."""
    database: bool


@functools.cache
def services() -> tuple[Service, ...]:
    """Every row of the table, in its order; fails on a malformed table."""
    lines = [line for line in TABLE.read_text().splitlines() if line and not line.startswith("#")]
    header, rows = lines[0], lines[1:]
    if tuple(header.split("\t")) != COLUMNS:
        raise ValueError(f"{TABLE}: the header is {header!r}, not {' '.join(COLUMNS)} (tab separated)")
    table = []
    for row in rows:
        cells = row.split("\t")
        if len(cells) != len(COLUMNS) or not cells[1].isdigit() or cells[3] not in ("yes", "no"):
            raise ValueError(f"{TABLE}: malformed row {row!r}")
        table.append(Service(cells[0], int(cells[1]), cells[2], cells[3] == "yes"))
    return tuple(table)


def service(name: str) -> Service:
    for row in services():
        if row.name == name:
            return row
    raise KeyError(f"no service {name!r} in {TABLE}")
