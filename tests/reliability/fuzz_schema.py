"""What schemathesis needs beyond a service's published OpenAPI to reach the handlers.

The services read their JSON bodies by hand (``read_json(request, SomeStruct)``), so their OpenAPI
documents no request body and a fuzzer would only ever send empty POSTs. Here the loaded document
is completed, for the fuzz run only (the services' own OpenAPI is not touched):

* request bodies: the JSON Schema of the very msgspec Struct each handler decodes (imported, so it
  cannot drift), multipart for uploads, raw bytes for chunks;
* the headers every API honours (``X-Request-Id``; ``Idempotency-Key`` and ``If-Match`` on ledger
  writes), so that their values are fuzzed too;
* OpenAPI links (POST that creates → GET / PATCH / DELETE by id …) for schemathesis' stateful phase,
  so that the by-id handlers are reached with real ids instead of answering 404 to random ones.

A link or body whose operation is not in the document (a service's own OpenAPI holds only its
routes; the gateway's holds them all) is left out.
"""

from __future__ import annotations

import copy
import importlib
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

# (method, path) → "module:Struct" the handler decodes with read_json, named in the handler's own
# module (where `read_json(request, Struct)` needs the name, wherever the Struct is defined)
JSON_BODIES: dict[tuple[str, str], str] = {
    ("post", "/api/v1/auth/sign-up"): "auth.entrypoints.http:SignUp",
    ("post", "/api/v1/auth/sign-in"): "auth.entrypoints.http:SignIn",
    ("post", "/api/v1/auth/refresh"): "auth.entrypoints.http:RefreshBody",
    ("post", "/api/v1/account/activate-account"): "auth.entrypoints.http:CodeBody",
    ("post", "/api/v1/account/verify-hash"): "auth.entrypoints.http:CodeBody",
    ("post", "/api/v1/account/forgot-password"): "auth.entrypoints.http:EmailBody",
    ("post", "/api/v1/account/resend-activation"): "auth.entrypoints.http:EmailBody",
    ("post", "/api/v1/account/reset-password"): "auth.entrypoints.http:CodePasswordBody",
    ("post", "/api/v1/account/set-password-when-needed"): "auth.entrypoints.http:SetPasswordBody",
    ("post", "/api/v1/password/verify-password-change"): "auth.entrypoints.http:CodePasswordBody",
    ("patch", "/api/v1/user"): "users.entrypoints.http:ProfilePatch",
    ("put", "/api/v1/user"): "users.entrypoints.http:ProfilePut",
    ("post", "/api/v1/user"): "users.entrypoints.http:AdminCreate",
    ("patch", "/api/v1/admin/users/{user_id}/permissions"): "users.entrypoints.http:PermissionsBody",
    ("post", "/api/v1/categories"): "ledger.entrypoints.http:CategoryCreate",
    ("patch", "/api/v1/categories/{category_id}"): "ledger.entrypoints.http:CategoryPatch",
    ("post", "/api/v1/transactions"): "ledger.entrypoints.http:TransactionCreate",
    ("patch", "/api/v1/transactions/{transaction_id}"): "ledger.entrypoints.http:TransactionPatch",
    ("post", "/api/v1/upload/chunked/start"): "files.entrypoints.http:ChunkStart",
    ("post", "/ops/api/replays"): "ops.entrypoints.http:ReplayRequest",
    ("post", "/ops/api/discard"): "ops.entrypoints.http:DiscardRequest",
}

# The rules of SPEC §4 the Structs cannot carry (they are checked in code): with them, most generated
# bodies get past validation to the handler, and the negative cases probe each boundary (one past
# it must be a 400, never a 2xx or a 500).
# Unicode control characters (Cc: C0, DEL, C1) are refused in one-line fields; descriptions allow TAB, LF, CR
PRINTABLE = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
MULTILINE = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
NAME = {"minLength": 2, "maxLength": 50, "pattern": PRINTABLE}
EMAIL = {"format": "email", "maxLength": 100}
PASSWORD = {"minLength": 8, "maxLength": 128}
CODE = {"pattern": "^[A-Za-z0-9]{40}$"}
DESCRIPTION = {"maxLength": 1000, "pattern": MULTILINE}
PERMISSIONS = {"enum": [1, 10, 50, 100]}
RULES: dict[str, dict[str, dict[str, Any]]] = {
    "SignUp": {"email": EMAIL, "password": PASSWORD, "first_name": NAME, "last_name": NAME},
    "SignIn": {"email": {"minLength": 1, "maxLength": 100}, "password": {"minLength": 1, "maxLength": 128}},
    "RefreshBody": {"refresh_token": {"minLength": 1, "maxLength": 200}},
    "EmailBody": {"email": EMAIL},
    "CodeBody": {"code": CODE},
    "CodePasswordBody": {"code": CODE, "password": PASSWORD},
    "SetPasswordBody": {"hash": CODE, "password": PASSWORD},
    "ProfilePatch": {"first_name": NAME, "last_name": NAME},
    "ProfilePut": {"first_name": NAME, "last_name": NAME},
    "AdminCreate": {"email": EMAIL, "first_name": NAME, "last_name": NAME, "permissions": PERMISSIONS},
    "PermissionsBody": {"permissions": PERMISSIONS},
    "CategoryCreate": {"name": {"minLength": 1, "maxLength": 255, "pattern": PRINTABLE}, "description": DESCRIPTION},
    "CategoryPatch": {"name": {"minLength": 1, "maxLength": 255, "pattern": PRINTABLE}, "description": DESCRIPTION},
    "TransactionCreate": {
        "amount": {"minimum": 1, "maximum": 10**13},
        "memo": {"minLength": 1, "maxLength": 255, "pattern": PRINTABLE},
        "description": DESCRIPTION,
    },
    "TransactionPatch": {
        "amount": {"minimum": 1, "maximum": 10**13},
        "memo": {"minLength": 1, "maxLength": 255, "pattern": PRINTABLE},
        "description": DESCRIPTION,
    },
    "ChunkStart": {
        "filename": {"minLength": 1, "maxLength": 255},
        "total_chunks": {"minimum": 1},
        "total_size": {"minimum": 1},
        "storage_type": {"enum": ["public", "private"]},
        "sha256": {"pattern": "^[0-9a-f]{64}$"},
    },
    "ReplayRequest": {"rate_per_s": {"minimum": 1}},
}

BINARY = {"type": "string", "format": "binary"}
ONE_FILE = {"type": "object", "properties": {"file": BINARY}, "required": ["file"]}
OTHER_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/v1/upload/public"): {"multipart/form-data": {"schema": ONE_FILE}},
    ("post", "/api/v1/upload/private"): {"multipart/form-data": {"schema": ONE_FILE}},
    ("post", "/api/v1/upload/avatar"): {"multipart/form-data": {"schema": ONE_FILE}},
    ("post", "/api/v1/upload/multiple"): {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"files": {"type": "array", "items": BINARY, "minItems": 1}},
                "required": ["files"],
            }
        }
    },
    ("post", "/api/v1/upload/chunked/{session_id}/chunk/{index}"): {"application/octet-stream": {"schema": BINARY}},
}

LEDGER_WRITE_PATHS = ("/api/v1/categories", "/api/v1/transactions")
WRITES = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class Link:
    """``source`` answering ``status`` → ``target`` with ``parameters`` / ``body`` taken from it."""

    source: str  # "METHOD /path"
    status: str
    target: str
    parameters: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


def _by_id(source: str, status: str, targets: list[str], name: str, expression: str) -> list[Link]:
    return [Link(source, status, target, {name: expression}) for target in targets]


CATEGORY = "/api/v1/categories/{category_id}"
TRANSACTION = "/api/v1/transactions/{transaction_id}"
UPLOAD = "/api/v1/upload/{upload_id}"
CHUNKED = "/api/v1/upload/chunked/{session_id}"
USER = "/api/v1/user/{user_id}"
REPLAY = "/ops/api/replays/{job_id}"

LINKS: list[Link] = [
    # ledger: a real category, then its transactions
    *_by_id(
        "POST /api/v1/categories",
        "201",
        [f"GET {CATEGORY}", f"PATCH {CATEGORY}", f"DELETE {CATEGORY}"],
        "category_id",
        "$response.body#/category/id",
    ),
    # an income (never refused for the balance) of whole cents in that category; the memo still varies
    Link(
        "POST /api/v1/categories",
        "201",
        "POST /api/v1/transactions",
        body={"category_id": "$response.body#/category/id", "type": "income", "amount": 12345},
    ),
    Link("POST /api/v1/categories", "201", "GET /api/v1/transactions", {"category_id": "$response.body#/category/id"}),
    *_by_id(
        f"PATCH {CATEGORY}",
        "200",
        [f"GET {CATEGORY}", f"DELETE {CATEGORY}"],
        "category_id",
        "$request.path.category_id",
    ),
    *_by_id(
        "POST /api/v1/transactions",
        "201",
        [f"GET {TRANSACTION}", f"PATCH {TRANSACTION}", f"DELETE {TRANSACTION}"],
        "transaction_id",
        "$response.body#/transaction/id",
    ),
    *_by_id(
        f"PATCH {TRANSACTION}",
        "200",
        [f"GET {TRANSACTION}", f"DELETE {TRANSACTION}"],
        "transaction_id",
        "$request.path.transaction_id",
    ),
    # files: an upload, then its download and deletion; a chunked session, then its chunks
    *_by_id(
        "POST /api/v1/upload/public",
        "201",
        ["GET /api/v1/upload/download/public/{upload_id}", f"DELETE {UPLOAD}"],
        "upload_id",
        "$response.body#/upload/uuid",
    ),
    *_by_id(
        "POST /api/v1/upload/private",
        "201",
        ["GET /api/v1/upload/private/{upload_id}", f"DELETE {UPLOAD}"],
        "upload_id",
        "$response.body#/upload/uuid",
    ),
    *_by_id(
        "POST /api/v1/upload/multiple",
        "201",
        ["GET /api/v1/upload/download/public/{upload_id}", f"DELETE {UPLOAD}"],
        "upload_id",
        "$response.body#/uploads/0/uuid",
    ),
    *_by_id(
        "POST /api/v1/upload/avatar",
        "201",
        ["GET /api/v1/avatar/{upload_id}", f"DELETE {UPLOAD}"],
        "upload_id",
        "$response.body#/upload/uuid",
    ),
    *_by_id(
        "POST /api/v1/upload/chunked/start",
        "201",
        [f"GET {CHUNKED}", f"DELETE {CHUNKED}", f"POST {CHUNKED}/complete"],
        "session_id",
        "$response.body#/session_uuid",
    ),
    Link(
        "POST /api/v1/upload/chunked/start",
        "201",
        f"POST {CHUNKED}/chunk/{{index}}",
        {"session_id": "$response.body#/session_uuid", "index": 0},
    ),
    *_by_id(
        f"POST {CHUNKED}/chunk/{{index}}",
        "200",
        [f"GET {CHUNKED}", f"POST {CHUNKED}/complete", f"DELETE {CHUNKED}"],
        "session_id",
        "$request.path.session_id",
    ),
    # users: an admin-created user (never the fuzzing account itself: a listing's first item may be it)
    *_by_id(
        "POST /api/v1/user",
        "201",
        [f"GET {USER}", f"DELETE {USER}", "PATCH /api/v1/admin/users/{user_id}/permissions"],
        "user_id",
        "$response.body#/user/id",
    ),
    Link("GET /api/v1/admin/users", "200", f"GET {USER}", {"user_id": "$response.body#/items/0/id"}),
    # auth: one of the caller's sessions (the fuzz hooks sign in again when it was the current one);
    # a new session's refresh token (see SIGN_IN_LINKS)
    Link(
        "GET /api/v1/auth/sessions",
        "200",
        "DELETE /api/v1/auth/sessions/{session_id}",
        {"session_id": "$response.body#/items/0/session_id"},
    ),
    # ops: a stored dead letter; a replay job (the fuzz hooks confine replays and discards to nothing)
    Link(
        "GET /ops/api/dead-letters",
        "200",
        "GET /ops/api/dead-letters/{dead_letter_id}",
        {"dead_letter_id": "$response.body#/items/0/dead_letter_id"},
    ),
    *_by_id(
        "POST /ops/api/replays",
        "202",
        [f"GET {REPLAY}", f"POST {REPLAY}/cancel", f"POST {REPLAY}/resume"],
        "job_id",
        "$response.body#/job/job_id",
    ),
    *_by_id(
        "GET /ops/api/replays",
        "200",
        [f"GET {REPLAY}", f"POST {REPLAY}/cancel"],
        "job_id",
        "$response.body#/jobs/0/job_id",
    ),
]


# The stateful phase has no fixtures: a chain starts at any operation and follows links. These links
# start chains with a request known to succeed, from an operation that always answers 200.
CHUNKED_START = Link(
    "GET /api/v1/upload/user",
    "200",
    "POST /api/v1/upload/chunked/start",
    body={"filename": "fuzz.txt", "total_chunks": 2, "total_size": 10, "storage_type": "private", "sha256": None},
)


def sign_in_links(email: str, password: str) -> list[Link]:
    """The fuzzing account signs in (a new session) → refresh with its refresh token, revoke it."""
    return [
        Link(
            "GET /api/v1/auth/sessions",
            "200",
            "POST /api/v1/auth/sign-in",
            body={"email": email, "password": password},
        ),
        Link(
            "POST /api/v1/auth/sign-in",
            "200",
            "POST /api/v1/auth/refresh",
            body={"refresh_token": "$response.body#/refresh_token"},
        ),
        Link(
            "POST /api/v1/auth/sign-in",
            "200",
            "DELETE /api/v1/auth/sessions/{session_id}",
            {"session_id": "$response.body#/session_id"},
        ),
        Link(
            "POST /api/v1/auth/refresh",
            "200",
            "POST /api/v1/auth/refresh",
            body={"refresh_token": "$response.body#/refresh_token"},
        ),
    ]


def _struct(reference: str) -> type[msgspec.Struct]:
    module, _, name = reference.partition(":")
    found: type[msgspec.Struct] = getattr(importlib.import_module(module), name)
    return found


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = document.get("paths", {}).get(path, {}).get(method)
    return found


def _pointer(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": {"type": "string"}}


def _add_header(operation: dict[str, Any], parameter: dict[str, Any]) -> None:
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("in") == "header" and p.get("name", "").lower() == parameter["name"].lower() for p in parameters):
        parameters.append(parameter)


def completed(document: dict[str, Any], extra_links: list[Link] | None = None) -> dict[str, Any]:
    """A copy of ``document`` with request bodies, honoured headers and links added (see above)."""
    doc = copy.deepcopy(document)
    structs = {key: _struct(ref) for key, ref in JSON_BODIES.items() if _operation(doc, *key) is not None}
    refs, components = msgspec.json.schema_components(
        list(dict.fromkeys(structs.values())), ref_template="#/components/schemas/{name}"
    )
    for name, rules in RULES.items():
        for prop, constraints in rules.items():
            if name in components:
                components[name]["properties"][prop].update(constraints)
    doc.setdefault("components", {}).setdefault("schemas", {}).update(components)
    by_struct = dict(zip(dict.fromkeys(structs.values()), refs, strict=True))
    for (method, path), struct in structs.items():
        operation = _operation(doc, method, path)
        assert operation is not None
        operation.setdefault(
            "requestBody", {"required": True, "content": {"application/json": {"schema": by_struct[struct]}}}
        )
    for (method, path), content in OTHER_BODIES.items():
        if (operation := _operation(doc, method, path)) is not None:
            operation.setdefault("requestBody", {"required": True, "content": content})

    for path, methods in doc.get("paths", {}).items():
        for method, operation in methods.items():
            if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                continue
            _add_header(operation, _header("X-Request-Id", "Echoed back; a new one when absent or unusable"))
            if method in WRITES and path.startswith(LEDGER_WRITE_PATHS):
                _add_header(operation, _header("Idempotency-Key", "The same key returns the first result"))
                if method != "post":
                    _add_header(operation, _header("If-Match", "The ETag of a read (412 when stale)"))

    for link in [*LINKS, CHUNKED_START, *(extra_links or [])]:
        source_method, source_path = link.source.split(" ", 1)
        target_method, target_path = link.target.split(" ", 1)
        source = _operation(doc, source_method.lower(), source_path)
        if source is None or _operation(doc, target_method.lower(), target_path) is None:
            continue
        definition: dict[str, Any] = {"operationRef": _pointer(target_path, target_method.lower())}
        if link.parameters:
            definition["parameters"] = dict(link.parameters)
        if link.body is not None:
            definition["requestBody"] = dict(link.body)
        response = source.setdefault("responses", {}).setdefault(link.status, {"description": "Success"})
        name = re.sub(r"[^A-Za-z0-9]+", "_", link.target).strip("_")  # unique: one link per target
        response.setdefault("links", {})[name] = definition
    return doc


def link_count(document: dict[str, Any]) -> int:
    return sum(
        len(response.get("links", {}))
        for methods in document.get("paths", {}).values()
        for operation in methods.values()
        if isinstance(operation, dict)
        for response in operation.get("responses", {}).values()
    )
