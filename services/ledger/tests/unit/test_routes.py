"""The ledger's routes over the in-memory fakes (Litestar's test client, no server): what the
headers of a write may carry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from litestar import Request
from litestar.testing import TestClient, create_test_client

from blazing_es.memory import TablesDatabase
from blazing_service.errors import EXCEPTION_HANDLERS, BadRequest
from blazing_service.identity import Identity, sign
from ledger.adapters.memory import InMemoryLedgerReads, InMemoryLedgerUnitOfWork, LedgerTables
from ledger.application.commands import LedgerWrites
from ledger.application.queries import LedgerQueries
from ledger.bootstrap import ledgers
from ledger.entrypoints.http import CategoryController, idempotency_key

SECRET = "test-identity-secret"


@pytest.fixture
def api() -> Iterator[TestClient[Any]]:
    db = TablesDatabase(tables=LedgerTables())
    with create_test_client([CategoryController], exception_handlers=EXCEPTION_HANDLERS) as client:
        state = client.app.state
        state.identity_secret = SECRET
        state.writes = LedgerWrites(lambda: InMemoryLedgerUnitOfWork(db), ledgers())
        state.queries = LedgerQueries(InMemoryLedgerReads(db))
        client.headers.update(sign(Identity(user_id=uuid.uuid4(), permissions=1), SECRET))
        yield client


def create(client: TestClient[Any], name: str, key: bytes) -> Any:
    # the header's bytes as a client (through the gateway: UTF-8) sends them
    return client.post("/api/v1/categories", json={"name": name}, headers=[(b"idempotency-key", key)])


@pytest.mark.parametrize("key", ["€" * 200, "ключ-оплаты-1", "١٢٣"])
def test_an_idempotency_key_of_up_to_200_characters_in_utf8_is_taken_and_replayed(
    api: TestClient[Any], key: str
) -> None:
    """The key's length counted Latin-1 characters, one per byte: 67 "€" (201 bytes) were refused."""
    first = create(api, "Food", key.encode())
    assert first.status_code == 201, first.text
    again = create(api, "Food", key.encode())
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    other = create(api, "Rent", key.encode())
    assert (other.status_code, other.json()["message"]) == (
        422,
        "Idempotency-Key was already used for a different request",
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("€" * 201, "Idempotency-Key must be 1 to 200 characters"),
        ("a" * 201, "Idempotency-Key must be 1 to 200 characters"),
    ],
)
def test_an_idempotency_key_too_long_is_a_400(api: TestClient[Any], key: str, message: str) -> None:
    r = create(api, "Food", key.encode())
    assert (r.status_code, r.json()) == (400, {"status": "error", "message": message})
    assert api.get("/api/v1/categories").json()["total"] == 0


def test_an_idempotency_key_that_is_not_utf8_is_refused() -> None:
    """Bytes that are not UTF-8 (the gateway refuses them; a caller inside the host may send them)."""
    scope: Any = {"type": "http", "headers": [(b"idempotency-key", b"\xff\xfe")]}
    with pytest.raises(BadRequest, match=r"^Idempotency-Key must be UTF-8 text$"):
        idempotency_key(Request(scope))
