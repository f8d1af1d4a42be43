"""The original Rust app (../shared/peers/money-flow) as the benches' peer, measured in the same run.

``Peer.find()`` is the peer when ``setup.sh`` started it (its pid file names a live ``money_flow``
that answers on 127.0.0.1:9888), else None — the benches then say so in one line and go on. Its
bench user is made as the peer's own bench.sh makes it (sign-up, activated in its database, signed
in for its JWT). ``Peer.run`` drives one of its routes with wrk while CpuMeter measures every
process of our stack plus the peer's: the peer's PostgreSQL work shows up under ``postgres``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import httpx
import psycopg
from cpu import CpuMeter, beside_original, components, cpu_fields, print_rows, wrk

ROOT = Path(os.environ.get("PEER_ROOT", "/tmp/peer-rust"))
PORT = int(os.environ.get("PEER_PORT", "9888"))
BASE = f"http://127.0.0.1:{PORT}"
EMAIL = "peer.bench@example.com"
PASSWORD = "PeerBench123!"  # the peer's bench account, on loopback only
NOT_BUILT = "the original app is not running (build and start it: ../shared/peers/money-flow/setup.sh): no peer figures"


def _peer_pid() -> int | None:
    try:
        pid = int((ROOT / "app.pid").read_text().split()[0])
        exe = os.readlink(f"/proc/{pid}/exe")
    except (OSError, ValueError, IndexError):
        return None
    return pid if exe.endswith("/money_flow") else None


@dataclass
class Peer:
    pid: int
    token: str

    @classmethod
    def find(cls, admin_database_url: str) -> Peer | None:
        """The running peer with its bench user's token, or None (printed as NOT_BUILT)."""
        if (pid := _peer_pid()) is None:
            return None
        try:
            with httpx.Client(base_url=BASE, timeout=30) as client:
                client.post(
                    "/api/v1/auth/sign-up",
                    json={"email": EMAIL, "password": PASSWORD, "first_name": "Peer", "last_name": "Bench"},
                )  # 201, or 409 when it exists
                database = admin_database_url.rsplit("/", 1)[0] + "/" + os.environ.get("PEER_DB", "money_flow_peer")
                with psycopg.connect(database, autocommit=True) as db:
                    db.execute("update users set activated = 1 where email = %s and activated = 0", (EMAIL,))
                r = client.post("/api/v1/auth/sign-in", json={"email": EMAIL, "password": PASSWORD})
                r.raise_for_status()
                return cls(pid, r.json()["token"])
        except (httpx.HTTPError, psycopg.Error, KeyError) as exc:
            print(f"the original app is running but its bench user failed ({exc!r}): no peer figures")
            return None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def quiesce(self, within: float = 120) -> None:
        """Actix finishes requests whose client has gone behind one global mutex: before a run,
        wait until a read answers fast again (as the peer's bench.sh does)."""
        deadline = time.monotonic() + within
        with httpx.Client(base_url=BASE, timeout=2) as client:
            while time.monotonic() < deadline:
                start = time.monotonic()
                with contextlib.suppress(httpx.HTTPError):
                    client.get("/api/v1/user", headers=self.auth)
                if time.monotonic() - start < 0.2:
                    return
                time.sleep(1)

    def run(self, path: str, seconds: float, connections: int, script: str | None = None) -> dict[str, object]:
        """wrk against the peer with the CPU per request of the peer and of every stack process."""
        self.quiesce()
        meter = CpuMeter(roots={**components(), "peer": self.pid})
        meter.idle()
        with meter.measure():
            result = wrk(BASE + path, self.auth if script is None else None, seconds, connections, script)
        return {**result, **cpu_fields(meter, int(result["requests"]))}

    def patch_script(self) -> str:
        """The peer's nearest write (it has no transaction API): PATCH /api/v1/user."""
        lua = (
            'wrk.method = "PATCH"\n'
            f"wrk.body = {json.dumps(json.dumps({'balance': 1000}))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {self.token}"\n'
        )
        path = Path(tempfile.mkstemp(suffix=".lua")[1])
        path.write_text(lua)
        return str(path)


def print_beside(
    rows: list[tuple[str, dict[str, object]]], original: tuple[str, dict[str, object] | None], unit: str
) -> None:
    """Our rows, then the original's (``original``: its label and figures, None when it did not
    run, which one line says) — rates, p99 and CPU per request per component."""
    label, theirs = original
    if theirs is None:
        print(NOT_BUILT)
    print_rows([*rows, *([(label, theirs)] if theirs else [])], unit)


THROUGH = "through_nginx_gateway"


class Beside(NamedTuple):
    result: dict[str, object]
    """When, the bench's figures, our summaries, the original's (None when it did not run), the ratios."""
    ratios: dict[str, float | None]
    through: dict[str, object]
    """The summary through nginx + gateway, with its CPU and net-of-idle CPU per request per component:"""
    cpu: dict[str, float]
    net: dict[str, float]


def through_beside_straight(
    through: list[dict[str, object]],
    straight: tuple[str, list[dict[str, object]]],
    original: tuple[str, list[dict[str, object]]],
    unit: str,
    figures: dict[str, object],
) -> Beside:
    """The runs through nginx + gateway beside the same calls straight to the service and the
    original's (each: its key in the result, which is also its label, and its runs), summarised and
    printed as rows; the result starts with when and the bench's ``figures``."""
    (straight_key, straight_runs), (original_key, original_runs) = straight, original
    ours, theirs, ratios = beside_original({THROUGH: through, straight_key: straight_runs}, original_runs)
    result = {"when": datetime.now(UTC).isoformat(), **figures, **ours, original_key: theirs, "ratios": ratios}
    edge = ours[THROUGH]
    rows = [(label.replace("_", " "), ours[label]) for label in (THROUGH, straight_key)]
    print_beside(rows, (original_key.replace("_", " "), theirs), unit)
    cpu, net = edge["cpu_ms_per_request"], edge["cpu_net_ms_per_request"]
    assert isinstance(cpu, dict)
    assert isinstance(net, dict)
    return Beside(result, ratios, edge, cpu, net)
