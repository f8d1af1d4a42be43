"""SPEC §11, bad input: schemathesis against every service's OpenAPI (straight to the service) and the
gateway's merged one (through the gateway) finds no 5xx, no undocumented status, no error outside
the one JSON error shape and no schema-violating input accepted.

Derandomized for CI: a fixed seed and a bounded number of cases, so that two runs send the same
requests. Request bodies, honoured headers and OpenAPI links are added to the loaded documents
(fuzz_schema.py): the stateful phase follows POST that creates → GET / PATCH / DELETE by id, so the
by-id handlers are reached with real ids. Every request is made as a fresh, real super admin
(fuzz_hooks.py). `make fuzz` (fuzz.py) runs the same with a random seed and many more cases.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from blazing_testing import REPO_ROOT

sys.path.insert(0, str(Path(__file__).parent))
import fuzz
import fuzz_schema

CI_SCENARIOS = 100
WORKDIR = REPO_ROOT / "var" / "fuzz" / "ci"

# Operations only a link reaches with a real id (a random one is a 404): each must have answered a
# 2xx during the run, or the links (or the caller's credentials) no longer lead to the handlers.
REACHED_BY_LINKS = {
    "ledger": (
        "GET /api/v1/categories/{category_id}",
        "PATCH /api/v1/categories/{category_id}",
        "DELETE /api/v1/categories/{category_id}",
        "GET /api/v1/transactions/{transaction_id}",
    ),
    "users": ("GET /api/v1/user/{user_id}", "DELETE /api/v1/user/{user_id}"),
    "files": ("GET /api/v1/upload/download/public/{upload_id}", "DELETE /api/v1/upload/{upload_id}"),
    "ops": ("GET /ops/api/replays/{job_id}", "POST /ops/api/replays/{job_id}/cancel"),
}


def run(target: str) -> fuzz.Outcome:
    return fuzz.run_target(
        target,
        seed=fuzz.CI_SEED,
        examples=fuzz.CI_EXAMPLES,
        scenarios=CI_SCENARIOS,
        deterministic=True,
        max_time=540,  # within the tests' timeout below (a run that does not end in time is a hang)
        workdir=WORKDIR,
    )


def verdict(outcome: fuzz.Outcome) -> str:
    return fuzz.summary([outcome]) + "\n\n" + outcome.output[-6000:]


def not_reached(outcome: fuzz.Outcome) -> list[str]:
    return [
        label
        for label in REACHED_BY_LINKS.get(outcome.target, ())
        if not any(200 <= status < 300 for status in outcome.statuses.get(label, {}))
    ]


@pytest.mark.integration
@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", fuzz.SERVICES_WITH_AN_API)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(service: str) -> None:
    """Straight to the service, as a super admin (gateway identity headers signed per request)."""
    done = run(service)
    assert done.returncode == 0, verdict(done)
    assert done.failures == [], verdict(done)
    assert not_reached(done) == [], verdict(done)


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_schemathesis_through_the_gateway_finds_no_server_error_and_no_schema_violation() -> None:
    """The gateway's merged description of every API, through the gateway with a real token."""
    done = run("gateway")
    assert done.returncode == 0, verdict(done)
    assert done.failures == [], verdict(done)
    assert not_reached(done) == [], verdict(done)


# ---------------------------------------------------------------- what is added to the documents


def document(*operations: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for operation in operations:
        method, path = operation.split(" ", 1)
        paths.setdefault(path, {})[method.lower()] = {"responses": {"200": {"description": "OK"}}}
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths}


def test_links_are_added_only_between_operations_the_document_has() -> None:
    ledger = fuzz_schema.completed(
        document("POST /api/v1/categories", "GET /api/v1/categories/{category_id}", "GET /api/v1/user")
    )
    links = ledger["paths"]["/api/v1/categories"]["post"]["responses"]["201"]["links"]
    assert list(links.values()) == [
        {
            "operationRef": "#/paths/~1api~1v1~1categories~1{category_id}/get",
            "parameters": {"category_id": "$response.body#/category/id"},
        }
    ]
    assert "links" not in str(ledger["paths"]["/api/v1/user"])


@pytest.mark.parametrize("operation", sorted(fuzz_schema.JSON_BODIES), ids=" ".join)
def test_each_documented_body_is_a_struct_its_handler_module_names(operation: tuple[str, str]) -> None:
    """A service that renames or moves a body Struct fails here, by name, not in the middle of a run."""
    module, _, name = fuzz_schema.JSON_BODIES[operation].partition(":")
    assert name in importlib.import_module(module).__dict__, f"{operation}: {module} has no {name}"


def test_request_bodies_are_the_structs_the_handlers_decode_with_the_spec_rules() -> None:
    done = fuzz_schema.completed(document("POST /api/v1/categories", "POST /api/v1/upload/public"))
    body = done["paths"]["/api/v1/categories"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = done["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert schema["required"] == ["name"]
    assert schema["additionalProperties"] is False  # forbid_unknown_fields: an unknown field is a 400
    assert schema["properties"]["name"]["maxLength"] == 255
    upload = done["paths"]["/api/v1/upload/public"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"


def test_documented_bodies_and_headers_are_kept() -> None:
    given = document("PATCH /api/v1/transactions/{transaction_id}")
    operation = given["paths"]["/api/v1/transactions/{transaction_id}"]["patch"]
    operation["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
    done = fuzz_schema.completed(given)["paths"]["/api/v1/transactions/{transaction_id}"]["patch"]
    assert done["requestBody"] == operation["requestBody"]
    assert [p["name"] for p in done["parameters"]] == ["X-Request-Id", "Idempotency-Key", "If-Match"]
