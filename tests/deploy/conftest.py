"""The tests of a running compose deployment and of the firewall in a network namespace belong to
`make compose-test` (tests/deploy/compose-test.sh), which makes what they need and says so in the
environment; `make test` does not collect them (rather than skip them)."""

from __future__ import annotations

import os

collect_ignore = [
    name
    for name, variable in (
        ("test_compose_run.py", "BLAZING_COMPOSE_ENV"),
        ("test_firewall_netns.py", "BLAZING_FIREWALL_NETNS"),
    )
    if not os.environ.get(variable)
]
