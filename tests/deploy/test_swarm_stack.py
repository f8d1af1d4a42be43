"""deploy/swarm/stack.yml held to what it promises, without a swarm (the running stack is
test_swarm_run.py's): every service of deploy/services.tsv with two replicas, start-first rolling
updates rolled back on failure, a health check and a restart policy; three KRaft nodes, each a voter
of one quorum, with replication factor 3 and min.insync.replicas=2; the job queues quorum queues;
nothing published; the overlay network on its own subnet, not compose's devnet."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from blazing_testing.services import services

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy/swarm/stack.yml"


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(STACK.read_text())  # the merge keys (<<) resolved
    return loaded


def test_every_service_runs_two_replicas_with_start_first_updates(stack: dict[str, Any]) -> None:
    for service in [*(s.name for s in services()), "nginx"]:
        spec = stack["services"][service]
        deploy = spec["deploy"]
        assert deploy["replicas"] == 2, service
        assert deploy["update_config"] == {
            "order": "start-first",
            "parallelism": 1,
            "failure_action": "rollback",
            "delay": "5s",
            "monitor": "30s",
        }, service
        assert deploy["restart_policy"]["condition"] == "any", service
        assert spec["healthcheck"]["retries"] >= 3, service
        assert spec["networks"] == ["net"], service


def test_stateful_services_run_one_task_stopped_before_its_successor(stack: dict[str, Any]) -> None:
    for name in ("postgres", "redis", "rabbitmq", "kafka-1", "kafka-2", "kafka-3"):
        deploy = stack["services"][name]["deploy"]
        assert deploy["replicas"] == 1, name
        assert deploy["update_config"]["order"] == "stop-first", name
        assert "healthcheck" in stack["services"][name], name


def test_kafka_is_three_kraft_voters_replicating_three_times(stack: dict[str, Any]) -> None:
    nodes = {name: spec for name, spec in stack["services"].items() if re.fullmatch(r"kafka-\d", name)}
    assert sorted(nodes) == ["kafka-1", "kafka-2", "kafka-3"]
    for name, spec in nodes.items():
        env = spec["environment"]
        assert env["KAFKA_NODE_ID"] == name.removeprefix("kafka-")
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert (env["KAFKA_DEFAULT_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == env["TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert re.search(r"-Xmx(\d+)m", env["KAFKA_HEAP_OPTS"]), "a small heap: three JVMs share the machine"
        assert spec["volumes"] == [f"kafka{env['KAFKA_NODE_ID']}data:/var/lib/kafka/data"]


def test_services_find_every_broker_and_quorum_queues_in_the_generated_settings() -> None:
    script = (ROOT / "deploy/swarm/swarm.sh").read_text()
    assert "KAFKA_BOOTSTRAP_SERVERS=kafka-1:9092,kafka-2:9092,kafka-3:9092" in script
    assert "RABBITMQ_QUEUE_TYPE=quorum" in script
    assert "--queue-type quorum" in script


def test_nothing_is_published_and_the_network_is_not_devnet(stack: dict[str, Any]) -> None:
    assert all("ports" not in spec for spec in stack["services"].values())
    net = stack["networks"]["net"]
    assert (net["driver"], net["attachable"]) == ("overlay", True)
    subnet = ipaddress.ip_network(net["ipam"]["config"][0]["subnet"])
    assert not subnet.overlaps(ipaddress.ip_network("172.28.0.0/16"))


def test_no_secret_is_written_into_the_stack_file() -> None:
    """Every password or secret in the environment of a service is a variable (${…}) of the generated settings."""
    for line in STACK.read_text().splitlines():
        if found := re.match(r"\s*[A-Z_]*(PASSWORD|SECRET)[A-Z_]*:\s*(.+)$", line):
            assert found.group(2).strip("\"'").startswith("${"), line
