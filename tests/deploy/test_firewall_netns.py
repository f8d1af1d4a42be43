"""deploy/compose/firewall-setup.sh run for real, inside a network namespace made for the test
(`make compose-test` sets BLAZING_FIREWALL_NETNS=1 and installs ufw and iptables; collected only then:
tests/deploy/conftest.py):
a veth pair joins the namespace to this machine, a listener inside answers on SSH, HTTP, HTTPS and
every internal port the script blocks (and one it does not name), and from outside the namespace
only 22, 80 and 443 answer once the script ran. The namespace gets its own /etc/ufw and
/etc/default (ip netns exec binds /etc/netns/<name>/* over /etc), so this machine's firewall
configuration is never touched."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy/compose/firewall-setup.sh"
OPEN = {22, 80, 443}
UNNAMED = 8888  # a port the script does not name: the default policy (deny incoming) covers it
HOST_IP, NS_IP = "198.18.77.1", "198.18.77.2"  # a benchmarking range (RFC 2544), unused here


LISTENER = """
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in map(int, sys.argv[1:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    sel.register(s, selectors.EVENT_READ)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        conn, _ = key.fileobj.accept()
        conn.close()
"""


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    if check:
        assert done.returncode == 0, f"{' '.join(args)}: {done.stdout}{done.stderr}"
    return done


@dataclass
class Namespace:
    name: str
    interface: str  # the namespace's end of the veth pair: its "external" interface


@pytest.fixture
def namespace() -> Iterator[Namespace]:
    tag = f"{os.getpid() % 100000}"
    ns = Namespace(name=f"bsfw{tag}", interface=f"bsfwn{tag}")
    host_end = f"bsfwh{tag}"
    etc = Path("/etc/netns") / ns.name
    try:
        etc.mkdir(parents=True)
        shutil.copytree("/etc/ufw", etc / "ufw", symlinks=True)
        shutil.copytree("/etc/default", etc / "default", symlinks=True)
        sh("ip", "netns", "add", ns.name)
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name", ns.interface)
        sh("ip", "link", "set", ns.interface, "netns", ns.name)
        sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", host_end)
        sh("ip", "link", "set", host_end, "up")
        sh("ip", "netns", "exec", ns.name, "ip", "addr", "add", f"{NS_IP}/30", "dev", ns.interface)
        sh("ip", "netns", "exec", ns.name, "ip", "link", "set", ns.interface, "up")
        sh("ip", "netns", "exec", ns.name, "ip", "link", "set", "lo", "up")
        yield ns
    finally:
        sh("ip", "netns", "del", ns.name, check=False)  # takes the veth pair with it
        sh("ip", "link", "del", host_end, check=False)
        shutil.rmtree(etc, ignore_errors=True)


def answering(ports: list[int]) -> set[int]:
    """The ports of the namespace a TCP connection from outside reaches (a dropped SYN times out)."""

    def answers(port: int) -> bool:
        try:
            socket.create_connection((NS_IP, port), timeout=2).close()
        except OSError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        return {port for port, ok in zip(ports, pool.map(answers, ports), strict=True) if ok}


def test_only_ssh_http_and_https_answer_from_outside(namespace: Namespace) -> None:
    internal = [int(p) for p in sh(str(SCRIPT), "--print-ports").stdout.split()]
    assert {5432, 6379, 5672, 9092, 9999, 8001, 8007} <= set(internal)
    ports = sorted({*OPEN, *internal, UNNAMED})
    listener = subprocess.Popen(
        ["ip", "netns", "exec", namespace.name, sys.executable, "-c", LISTENER, *map(str, ports)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"
        assert answering(ports) == set(ports), "before the firewall every port answers"

        setup = sh("ip", "netns", "exec", namespace.name, str(SCRIPT), namespace.interface)
        assert "Status: active" in setup.stdout

        assert answering(ports) == OPEN
        rules = sh("ip", "netns", "exec", namespace.name, "iptables", "-S", "DOCKER-USER").stdout
        assert f"-i {namespace.interface}" in rules
        assert "-j DROP" in rules, "Docker-published ports are dropped before Docker's own rules"
        again = sh("ip", "netns", "exec", namespace.name, str(SCRIPT), namespace.interface)
        assert again.returncode == 0, "the script can run again"
        assert sh("ip", "netns", "exec", namespace.name, "iptables", "-S", "DOCKER-USER").stdout == rules
        assert answering(ports) == OPEN
    finally:
        listener.kill()
        listener.wait()
    assert "ENABLED=no" in Path("/etc/ufw/ufw.conf").read_text(), "this machine's ufw stays as it was"
