"""JSON Schema and an AsyncAPI 3 document for every topic and queue, generated from the Structs.

``python -m blazing_contracts.schema OUT_DIR`` writes ``events/<type>.v<N>.json``,
``commands/<job>.json``, ``dead_letter.json`` and ``asyncapi.json``. The committed copy under
``libs/contracts/schemas/`` is checked against a fresh generation by the tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from blazing_contracts import topology
from blazing_contracts.commands import JOB_PAYLOADS, CommandEnvelope
from blazing_contracts.dead_letter import DeadLetterRecord
from blazing_contracts.envelope import EventEnvelope
from blazing_contracts.registry import REGISTRY


def _schema(tp: Any) -> dict[str, Any]:
    return msgspec.json.schema(tp)


def documents() -> dict[str, dict[str, Any]]:
    """Relative path → JSON document."""
    docs: dict[str, dict[str, Any]] = {}
    for spec in REGISTRY.specs():
        for version, cls in sorted(spec.versions.items()):
            docs[f"events/{spec.event_type}.v{version}.json"] = _schema(EventEnvelope[cls])  # type: ignore[valid-type]
    for job, job_cls in sorted(JOB_PAYLOADS.items()):
        docs[f"commands/{job}.json"] = _schema(CommandEnvelope[job_cls])  # type: ignore[valid-type]
    docs["dead_letter.json"] = _schema(DeadLetterRecord)
    docs["asyncapi.json"] = asyncapi()
    return docs


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in topology.ALL_TOPICS:
        refs = {}
        for spec in REGISTRY.specs():
            if spec.topic == topic:
                name = spec.event_type.replace(".", "_")
                messages[name] = {
                    "name": spec.event_type,
                    "contentType": "application/json",
                    "payload": {"$ref": f"events/{spec.event_type}.v{spec.current_version}.json"},
                }
                refs[name] = {"$ref": f"#/components/messages/{name}"}
        if topic == topology.DEAD_LETTER_TOPIC:
            messages["dead_letter"] = {
                "name": "dead_letter",
                "contentType": "application/json",
                "payload": {"$ref": "dead_letter.json"},
            }
            refs["dead_letter"] = {"$ref": "#/components/messages/dead_letter"}
        channels[topic] = {
            "address": topic,
            "messages": refs,
            "bindings": {"kafka": {"partitions": topology.TOPIC_PARTITIONS}},
        }
    for job in sorted(JOB_PAYLOADS):
        name = f"command_{job}"
        messages[name] = {
            "name": job,
            "contentType": "application/json",
            "payload": {"$ref": f"commands/{job}.json"},
        }
        channels[topology.job_queue(job)] = {
            "address": topology.job_queue(job),
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": {"amqp": {"is": "queue", "queue": {"name": topology.job_queue(job), "durable": True}}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Blazing Sun events and commands", "version": "1.0.0"},
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages},
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


def write(out: Path) -> None:
    for rel, doc in documents().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(doc))


if __name__ == "__main__":
    write(Path(sys.argv[1]))
