"""The RabbitMQ definitions file (vhost, user, exchanges, queues, bindings) built from the topology.

``python -m blazing_contracts.rabbitmq_definitions --user U --password P`` prints it; the local
stack and the compose deployment load it at broker start, so the broker is ready before any
service connects, and services declare the very same objects with the very same arguments.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
from typing import Any

from blazing_contracts import topology


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt ‖ sha256(salt ‖ password))."""
    salt = salt if salt is not None else os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(user: str, password: str, vhost: str = "/", queue_type: str = "classic") -> dict[str, Any]:
    """``queue_type``: classic or quorum (topology.QUEUE_TYPES) for every queue."""

    def exchange(name: str, kind: str) -> dict[str, Any]:
        return {
            "name": name,
            "vhost": vhost,
            "type": kind,
            "durable": True,
            "auto_delete": False,
            "internal": False,
            "arguments": {},
        }

    def queue(name: str, arguments: dict[str, object]) -> dict[str, Any]:
        return {"name": name, "vhost": vhost, "durable": True, "auto_delete": False, "arguments": arguments}

    def binding(source: str, queue_name: str, key: str) -> dict[str, Any]:
        return {
            "source": source,
            "vhost": vhost,
            "destination": queue_name,
            "destination_type": "queue",
            "routing_key": key,
            "arguments": {},
        }

    exchanges = [
        exchange(topology.COMMANDS_EXCHANGE, "direct"),
        exchange(topology.DEAD_LETTER_EXCHANGE, "fanout"),
        *(exchange(t.exchange, "fanout") for t in topology.RETRY_TIERS),
    ]
    queues = [
        *(queue(topology.job_queue(j), topology.job_queue_arguments(queue_type)) for j in topology.ALL_JOBS),
        *(queue(t.queue, topology.retry_queue_arguments(t, queue_type)) for t in topology.RETRY_TIERS),
        queue(topology.JOBS_DEAD_LETTER_QUEUE, topology.queue_type_arguments(queue_type)),
    ]
    bindings = [
        *(binding(topology.COMMANDS_EXCHANGE, topology.job_queue(j), j) for j in topology.ALL_JOBS),
        *(binding(t.exchange, t.queue, "") for t in topology.RETRY_TIERS),
        binding(topology.DEAD_LETTER_EXCHANGE, topology.JOBS_DEAD_LETTER_QUEUE, ""),
    ]
    return {
        "rabbit_version": "3.10.8",
        "users": [
            {
                "name": user,
                "password_hash": password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": ["administrator"],
            }
        ],
        "vhosts": [{"name": vhost}],
        "permissions": [{"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}],
        "parameters": [],
        "policies": [],
        "exchanges": exchanges,
        "queues": queues,
        "bindings": bindings,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--queue-type", default="classic", choices=topology.QUEUE_TYPES)
    args = parser.parse_args(argv)
    json.dump(definitions(args.user, args.password, args.vhost, args.queue_type), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
