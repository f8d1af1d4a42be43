"""#20 on the compose deployment running on this machine (`make compose-test`; collected only then:
tests/deploy/conftest.py): every service runs as two containers, NAME and NAME-2, behind both gateways.

* `make deploy SERVICE=x` (deploy/compose/local.sh deploy) of the gateway, auth, users and the ledger,
  each under load through the compose nginx over HTTPS — the load of the local stack's deploy test
  (tests/reliability/test_deploys.py: writes with an Idempotency-Key, reads, sign-ins) — answers not
  one request other than 2xx, and the reliability checker's invariants (tests/reliability/chaos.py:
  settle, check) hold against the deployment's PostgreSQL and Kafka once it settled;
* one instance killed (docker kill) under load: both gateways eject it within 2 s, and no request
  fails but those it was serving when it died.

The figures go to var/compose/deploys.json (tests/deploy/compose-test.sh prints them).

The clients: each from an address of its own on the host's side of the deployment's network (added
to its bridge for the test, gone with the network), so that the gateways' per-client rate limits see
them as the local stack's tests' clients are seen (a loopback address each)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import ssl
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from blazing_testing import StackEnv
from blazing_testing.maildir import text_and_html, wait_for_message

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/reliability"))
import chaos  # noqa: E402
import test_deploys  # noqa: E402

ENV_FILE = Path(os.environ.get("BLAZING_COMPOSE_ENV", "/nonexistent"))
PROJECT = os.environ.get("BLAZING_COMPOSE_PROJECT", "blazing-sun")
LOCAL = ROOT / "deploy/compose/local.sh"
FIGURES = ENV_FILE.parent / "deploys.json"
EDGE_HOST = "localhost"  # the name on the deployment's self-signed certificate
PASSWORD = "Str0ng!Passw0rd"
CODE = re.compile(r"code=([A-Za-z0-9]{40})")
CLIENTS = 64  # addresses for the clients (sign-ins each take one: the strict limit is per client)
KAFKA_DEVNET_PORT = 9094  # the broker's listener on its devnet address (docker-compose.local.yml)
EJECTED_WITHIN = 2.0

pytestmark = pytest.mark.integration


def read_env(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", path.read_text(), re.MULTILINE))


def docker(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout


def container(service: str) -> str:
    ids = docker(
        "ps", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}",
        "--filter", f"label=com.docker.compose.service={service}",
    ).split()  # fmt: skip
    assert len(ids) == 1, (service, ids)
    return ids[0]


def record(key: str, value: Any) -> None:
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    figures[key] = value
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n")


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return read_env(ENV_FILE)


@pytest.fixture(scope="module")
def compose_env(env: dict[str, str]) -> StackEnv:
    """The deployment's settings as the checker reads them from this machine: PostgreSQL and Kafka
    on their devnet addresses (the host names resolve only inside the network)."""
    values = dict(env)
    for key, value in env.items():
        if key.endswith("_DATABASE_URL"):
            values[key] = value.replace("@postgres:", f"@{env['POSTGRES_IP']}:")
    values.update(KAFKA_HOST=env["KAFKA_IP"], KAFKA_PORT=str(KAFKA_DEVNET_PORT), POSTGRES_HOST=env["POSTGRES_IP"])
    return StackEnv(values)


@pytest.fixture(scope="module")
def addresses(env: dict[str, str]) -> Iterator[list[str]]:
    """CLIENTS addresses on the host's side of the deployment's network (172.28.255.0/24)."""
    network = docker(
        "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}"
    ).split()  # fmt: skip
    assert len(network) == 1, network
    bridge = "br-" + network[0][:12]
    added = [f"172.28.255.{n}" for n in range(10, 10 + CLIENTS)]
    for address in added:
        subprocess.run(["ip", "addr", "replace", f"{address}/16", "dev", bridge], check=True)
    try:
        yield added
    finally:
        for address in added:
            subprocess.run(["ip", "addr", "del", f"{address}/16", "dev", bridge], check=False, capture_output=True)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("edge") / "server.crt"
    path.write_text(docker("exec", container("nginx"), "cat", "/etc/nginx/ssl/server.crt"))
    return path


@pytest.fixture(scope="module")
def edge_client(env: dict[str, str], certificate: Path, addresses: list[str]) -> Any:
    """blazing_testing.edge_client for the compose nginx: https://localhost on its devnet address,
    its certificate verified, from one of the clients' addresses."""
    context = ssl.create_default_context(cafile=str(certificate))

    async def name_the_server(request: httpx.Request) -> None:
        request.extensions["sni_hostname"] = EDGE_HOST

    def make(_env: object = None, *, timeout: float = 30.0, **kwargs: Any) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(verify=context, local_address=random.choice(addresses))
        return httpx.AsyncClient(
            base_url=f"https://{env['NGINX_IP']}",
            transport=transport,
            headers={"host": EDGE_HOST},
            timeout=timeout,
            event_hooks={"request": [name_the_server]},
            **kwargs,
        )

    return make


@pytest.fixture(scope="module")
def checker(compose_env: StackEnv, edge_client: Any) -> Iterator[None]:
    """chaos (the checker) and test_deploys (the load) pointed at the compose deployment."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chaos, "ENV", compose_env)
        patch.setattr(chaos, "edge_client", edge_client)
        patch.setattr(test_deploys, "edge_client", edge_client)
        yield


async def signed_in_account(edge_client: Any, prefix: str) -> tuple[str, dict[str, Any]]:
    """A new account signed up, activated (its mail in the SMTP sink's Maildir) and signed in through
    the compose edge: (e-mail, the sign-in response body)."""
    email = f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"
    body = {
        "email": email,
        "password": PASSWORD,
        "confirm_password": PASSWORD,
        "first_name": "Ada",
        "last_name": "Byron",
    }
    async with edge_client() as edge:
        assert (await edge.post("/api/v1/auth/sign-up", json=body)).status_code in (201, 202)
    message = await asyncio.to_thread(
        wait_for_message,
        ENV_FILE.parent / "mail",
        lambda m: email in str(m["To"]) and "Activate" in str(m["Subject"]),
        90,
    )
    code = CODE.search(text_and_html(message)[0])
    assert code, "no activation code in the e-mail"
    async with edge_client() as edge:
        assert (await edge.post("/api/v1/account/activate-account", json={"code": code.group(1)})).status_code == 200
    async with edge_client() as edge:
        session = await edge.post("/api/v1/auth/sign-in", json={"email": email, "password": PASSWORD})
        assert session.status_code == 200, session.text
    return email, session.json()


@pytest.fixture(scope="module")
async def pool(checker: None, edge_client: Any) -> list[chaos.Account]:
    accounts = []
    for _ in range(4):
        email, session = await signed_in_account(edge_client, "compose-deploy")
        async with edge_client() as edge:
            r = await edge.post(
                "/api/v1/categories",
                json={"name": "deploys"},
                headers={"authorization": f"Bearer {session['access_token']}"},
            )
            assert r.status_code == 201, r.text
        category = r.json()["category"]["id"]
        accounts.append(chaos.Account(email, session["user"]["id"], session["access_token"], category))
    return accounts


async def under_load(pool: list[chaos.Account], action: Any, after: float = 2) -> tuple[chaos.Tally, Any, float]:
    """``action`` (blocking: run in a thread) while test_deploys.load runs through the edge with 4
    workers, 2 s before and ``after`` s after: (the tally, what action returned, how long it took)."""
    tally, stop = chaos.Tally(), asyncio.Event()
    workers = [asyncio.create_task(test_deploys.load(pool, tally, stop, n)) for n in range(4)]
    try:
        await asyncio.sleep(2)
        started = time.monotonic()
        result = await asyncio.to_thread(action)
        took = time.monotonic() - started
        await asyncio.sleep(after)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    return tally, result, took


def group_members(env: dict[str, str]) -> dict[str, dict[str, int]]:
    """Each Kafka consumer group of the services: its members (consumer ids) and how many partitions
    each holds, as the broker's own tool describes them."""
    described = docker(
        "exec", container("kafka"), "/opt/kafka/bin/kafka-consumer-groups.sh",
        "--bootstrap-server", f"localhost:{env['KAFKA_PORT']}", "--describe", "--all-groups",
        timeout=90,
    )  # fmt: skip
    groups: dict[str, dict[str, int]] = {}
    for line in described.splitlines():
        cells = line.split()
        if len(cells) < 9 or cells[0] == "GROUP" or cells[0].startswith(("smoke-", "test-")):
            continue
        members = groups.setdefault(cells[0], {})
        if cells[6] != "-":  # a partition no member holds (a rebalance under way) has none
            members[cells[6]] = members.get(cells[6], 0) + 1
    return groups


@pytest.mark.timeout(300)
def test_every_consumer_group_spreads_its_partitions_over_both_instances(env: dict[str, str]) -> None:
    """Two instances of each consuming service: each group has two members, each holding partitions
    (3 per topic), so both instances consume — not one while the other idles."""
    deadline = time.monotonic() + 120
    while True:
        groups = group_members(env)
        spread = {name: sorted(members.values()) for name, members in groups.items()}
        if len(groups) >= 5 and all(len(held) == 2 and min(held) >= 1 for held in spread.values()):
            break
        assert time.monotonic() < deadline, f"partitions held per member of each group: {spread}"
        time.sleep(5)
    record("consumer groups: partitions per member", spread)


def make_deploy(service: str) -> str:
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "deploy", f"SERVICE={service}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", test_deploys.DEPLOYED)
async def test_a_rolling_deploy_under_load_fails_no_request_and_loses_nothing(
    service: str, pool: list[chaos.Account], edge_client: Any
) -> None:
    _, revoked = await signed_in_account(edge_client, "compose-deploy-revoked")
    async with edge_client() as edge:
        bearer = {"authorization": f"Bearer {revoked['access_token']}"}
        assert (await edge.post("/api/v1/auth/sign-out", headers=bearer)).status_code == 200
    before = {inst: container(inst) for inst in (service, f"{service}-2")}
    tally, _, took = await under_load(pool, lambda: make_deploy(service))
    after = {inst: container(inst) for inst in (service, f"{service}-2")}
    assert all(before[i] != after[i] for i in before), "both instances were replaced"
    settled = await chaos.settle(pool)
    violations = await chaos.check(pool, tally, revoked["access_token"])
    record(
        f"deploy {service}",
        {
            "seconds": round(took, 1),
            "answered 2xx": sum(tally.ok.values()),
            "not 2xx": dict(tally.failed),
            "settled in s": round(settled, 1),
            "invariant violations": violations,
        },
    )
    assert sum(tally.ok.values()) > 50, tally
    assert tally.failed == Counter(), f"answers other than 2xx during the deploy of {service}: {tally.failed}"
    assert violations == []


def ejected_at(gateway: str, url: str, since: str) -> float | None:
    """When ``gateway`` logged that it ejected the instance at ``url`` (seconds since the epoch)."""
    logs = subprocess.run(
        ["docker", "logs", "--since", since, container(gateway)], capture_output=True, text=True, check=False
    )
    for line in (logs.stdout + logs.stderr).splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            message = str(entry.get("message", entry.get("msg", "")))
            if f"instance {url} " in message and "eject" in message:
                return datetime.fromisoformat(entry["ts"]).timestamp()
    return None


@pytest.mark.timeout(300)
async def test_an_instance_killed_under_load_is_ejected_within_two_seconds(
    pool: list[chaos.Account], env: dict[str, str]
) -> None:
    victim, url = "users-2", f"http://users-2:{env['USERS_PORT']}"
    since = datetime.now().astimezone().isoformat()

    def kill_and_wait() -> float:
        killed = time.time()
        docker("kill", container(victim))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            seen = [ejected_at(gw, url, since) for gw in ("gateway", "gateway-2")]
            if all(seen):
                return max(s for s in seen if s) - killed
            time.sleep(0.5)
        raise AssertionError(f"{victim} was not ejected by both gateways within 15 s")

    try:
        tally, ejected_after, _ = await under_load(pool, kill_and_wait, after=8)
    finally:
        up = [str(LOCAL), "compose", "up", "-d", "--no-deps", "--no-build", victim]
        await asyncio.to_thread(subprocess.run, up, check=True, capture_output=True)
    record(
        "kill users-2",
        {
            "ejected by both gateways after s": round(ejected_after, 2),
            "answered 2xx": sum(tally.ok.values()),
            "not 2xx": dict(tally.failed),
        },
    )
    assert ejected_after <= EJECTED_WITHIN, f"ejected {ejected_after:.2f} s after the kill"
    # at most the requests the killed instance was serving: one per worker
    assert sum(tally.failed.values()) <= 4, tally.failed
    # started again, and back in both gateways' rotation before the next test
    address = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container(victim))
    deadline = time.monotonic() + 120
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://{address.strip()}:{env['USERS_PORT']}/health")).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"{victim} did not start again"
            await asyncio.sleep(1)
    await asyncio.sleep(3)
