"""The ledger's HTTP API (SPEC §4.3). Every route is the caller's own ledger: another user's
category or transaction is simply not found."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, MediaType, Request, Response, delete, get, patch, post
from litestar.params import Parameter

from blazing_app import Stale
from blazing_es.runner import Context
from blazing_service import BadRequest, Checks, current_identity, read_json, require_user, success
from blazing_service.errors import FieldErrors
from blazing_service.pagination import MAX_LIMIT, Limit, Offset, Search, page, page_of
from blazing_service.state import StateKey
from ledger.application.commands import Idempotency, LedgerWrites, Write, Written
from ledger.application.ports import TransactionFilter
from ledger.application.queries import LedgerQueries
from ledger.domain import ledger as lg

MAX_AMOUNT = 10**13
"""The largest amount in cents a transaction (or an amount filter) takes: 100 billion in the currency."""


class CategoryCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str
    description: str | None = None

    def validate(self) -> FieldErrors:
        c = Checks()
        c.length(self.name.strip(), "name", 1, 255, "Name")
        c.length(self.description, "description", 0, 1000, "Description", multiline=True)
        return c.errors


class CategoryPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: str | None = None
    description: str | msgspec.UnsetType | None = msgspec.UNSET

    def validate(self) -> FieldErrors:
        c = Checks()
        c.length(self.name.strip() if self.name is not None else None, "name", 1, 255, "Name")
        if isinstance(self.description, str):
            c.length(self.description, "description", 0, 1000, "Description", multiline=True)
        return c.errors


class TransactionCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    category_id: uuid.UUID
    type: Literal["income", "expense"]
    amount: int
    memo: str
    description: str | None = None
    occurred_on: date | None = None

    def validate(self) -> FieldErrors:
        c = Checks()
        c.require(0 < self.amount <= MAX_AMOUNT, "amount", "Amount must be a positive number of cents")
        c.length(self.memo.strip(), "memo", 1, 255, "Memo")
        c.length(self.description, "description", 0, 1000, "Description", multiline=True)
        return c.errors


class TransactionPatch(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    category_id: uuid.UUID | None = None
    type: Literal["income", "expense"] | None = None
    amount: int | None = None
    memo: str | None = None
    description: str | msgspec.UnsetType | None = msgspec.UNSET
    occurred_on: date | None = None

    def validate(self) -> FieldErrors:
        c = Checks()
        if self.amount is not None:
            c.require(0 < self.amount <= MAX_AMOUNT, "amount", "Amount must be a positive number of cents")
        c.length(self.memo.strip() if self.memo is not None else None, "memo", 1, 255, "Memo")
        if isinstance(self.description, str):
            c.length(self.description, "description", 0, 1000, "Description", multiline=True)
        return c.errors


writes = StateKey[LedgerWrites]("writes")
queries = StateKey[LedgerQueries]("queries")


IDEMPOTENCY_KEY_MAX = 200
_ETAG = re.compile(r'(W/)?"(\d{1,18})"')


def if_match(request: Request[Any, Any, Any]) -> int | None:
    """The version an If-Match names (RFC 9110 §13.1.1): ``*`` names whatever is current (no version
    to hold the write to); a weak tag never matches, since If-Match compares strongly (412); what is
    not one quoted ETag of this API is a 400."""
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    tag = _ETAG.fullmatch(raw.strip())
    if tag is None:
        raise BadRequest('If-Match must be an ETag given by this API, e.g. "3"')
    if tag.group(1):
        raise Stale("A weak ETag never matches If-Match: send the ETag as the API gave it")
    return int(tag.group(2))


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    """The Idempotency-Key as the client wrote it: UTF-8 text (the gateway passes nothing else on)
    of 1 to 200 characters. The framework reads a header's bytes as Latin-1, which counted each
    byte of a UTF-8 character as a character: a key of 67 "€" was refused as longer than 200."""
    raw = request.headers.get("idempotency-key")
    if raw is None:
        return None
    try:
        key = raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise BadRequest("Idempotency-Key must be UTF-8 text") from None
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        raise BadRequest(f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX} characters")
    return key


async def write_of(request: Request[Any, Any, Any]) -> Write:
    """Who writes, with the request's If-Match and Idempotency-Key."""
    key = idempotency_key(request)
    who = current_identity(request)
    idempotency = None
    if key is not None:
        body = (await request.body()).decode(errors="replace")
        idempotency = Idempotency(key, f"{request.method} {request.url.path} {body}")
    return Write(
        user_id=who.user_id,
        context=Context(correlation_id=request.headers.get("x-request-id") or str(uuid.uuid4()), actor_id=who.user_id),
        expected_version=if_match(request),
        idempotency=idempotency,
    )


def answer(written: Written, message: str, status_code: int = 200, *, shown: str | None = None) -> Response[Any]:
    """The write's answer: the category or transaction it shows (or the balance), the ETag of the
    stream after it — or, for a replayed Idempotency-Key, the first answer again."""
    data: dict[str, Any] = {"status": "success", "message": message}
    if shown == "category":
        data["category"] = written.category
    elif shown == "transaction":
        data["transaction"] = written.transaction
    else:
        data["balance"] = written.balance
    headers = {"Idempotent-Replayed": "true"} if written.replayed else etag(written.version)
    return Response(data, status_code=status_code, media_type=MediaType.JSON, headers=headers)


class CategoryController(Controller):
    path = "/api/v1/categories"
    tags = ["categories"]
    guards = [require_user]

    @get("/", summary="The caller's categories with their balances")
    async def list_categories(
        self, request: Request[Any, Any, Any], limit: Limit = MAX_LIMIT, offset: Offset = 0
    ) -> Any:
        items, version = await queries(request).categories(current_identity(request).user_id)
        return success("Categories", headers=etag(version), **page_of(items, limit, offset))

    @post("/", summary="Create a category (name unique per user, case-insensitive)")
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        body = await read_json(request, CategoryCreate)
        written = await writes(request).create_category(await write_of(request), body.name.strip(), body.description)
        return answer(written, "Category created", 201, shown="category")

    @get("/{category_id:uuid}", summary="One category")
    async def one(self, request: Request[Any, Any, Any], category_id: uuid.UUID) -> Any:
        item, version = await queries(request).category(current_identity(request).user_id, category_id)
        return success("Category", headers=etag(version), category=item)

    @patch("/{category_id:uuid}", summary="Rename or describe a category")
    async def change(self, request: Request[Any, Any, Any], category_id: uuid.UUID) -> Response[Any]:
        body = await read_json(request, CategoryPatch)
        written = await writes(request).update_category(
            await write_of(request),
            category_id,
            body.name.strip() if body.name else None,
            None if body.description is msgspec.UNSET else body.description,
            description_given=body.description is not msgspec.UNSET,
        )
        return answer(written, "Category updated", shown="category")

    @delete("/{category_id:uuid}", status_code=200, summary="Delete a category and its transactions")
    async def remove(self, request: Request[Any, Any, Any], category_id: uuid.UUID) -> Response[Any]:
        written = await writes(request).delete_category(await write_of(request), category_id)
        return answer(written, "Category deleted")


class TransactionController(Controller):
    path = "/api/v1/transactions"
    tags = ["transactions"]
    guards = [require_user]

    @get("/", summary="The caller's transactions: filters, text search, sort, pagination")
    async def list_transactions(
        self,
        request: Request[Any, Any, Any],
        date_from: Annotated[date | None, Parameter(query="from")] = None,
        date_to: Annotated[date | None, Parameter(query="to")] = None,
        category_id: uuid.UUID | None = None,
        kind: Annotated[Literal["income", "expense"] | None, Parameter(query="type")] = None,
        min_amount: Annotated[int | None, Parameter(ge=1, le=MAX_AMOUNT)] = None,
        max_amount: Annotated[int | None, Parameter(ge=1, le=MAX_AMOUNT)] = None,
        q: Search = None,
        sort: Literal["occurred_on", "-occurred_on", "amount", "-amount", "created_at", "-created_at"] = "-occurred_on",
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Any:
        f = TransactionFilter(
            date_from=date_from,
            date_to=date_to,
            category_id=category_id,
            kind=kind,
            min_amount=min_amount,
            max_amount=max_amount,
            q=q,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        items, total, version = await queries(request).transactions(current_identity(request).user_id, f)
        return success("Transactions", headers=etag(version), **page(items, total, limit, offset))

    @post("/", summary="Record an income or an expense (never below a zero balance)")
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        body = await read_json(request, TransactionCreate)
        new = lg.Transaction(
            category_id=body.category_id,
            type=body.type,
            amount=body.amount,
            memo=body.memo.strip(),
            occurred_on=body.occurred_on or datetime.now(UTC).date(),
            description=body.description,
        )
        written = await writes(request).create_transaction(await write_of(request), new)
        return answer(written, "Transaction created", 201, shown="transaction")

    @get("/{transaction_id:uuid}", summary="One transaction")
    async def one(self, request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Any:
        item, version = await queries(request).transaction(current_identity(request).user_id, transaction_id)
        return success("Transaction", headers=etag(version), transaction=item)

    @patch("/{transaction_id:uuid}", summary="Change a transaction (amount, category, or the rest)")
    async def change(self, request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Response[Any]:
        body = await read_json(request, TransactionPatch)
        change = lg.TransactionChange(
            category_id=body.category_id,
            type=body.type,
            amount=body.amount,
            memo=body.memo.strip() if body.memo else None,
            occurred_on=body.occurred_on,
            description=None if body.description is msgspec.UNSET else body.description,
            description_given=body.description is not msgspec.UNSET,
        )
        written = await writes(request).change_transaction(await write_of(request), transaction_id, change)
        return answer(written, "Transaction updated", shown="transaction")

    @delete("/{transaction_id:uuid}", status_code=200, summary="Delete a transaction")
    async def remove(self, request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Response[Any]:
        written = await writes(request).delete_transaction(await write_of(request), transaction_id)
        return answer(written, "Transaction deleted")


class BalanceController(Controller):
    tags = ["balance"]
    guards = [require_user]

    @get("/api/v1/balance", summary="Balance, income and expense totals, per-category balances")
    async def balance(self, request: Request[Any, Any, Any]) -> Any:
        data, version = await queries(request).balance(current_identity(request).user_id)
        return success("Balance", headers=etag(version), **data)

    @get("/api/v1/reports/monthly", summary="Income and expense per month and category")
    async def monthly(
        self,
        request: Request[Any, Any, Any],
        date_from: Annotated[date | None, Parameter(query="from")] = None,
        date_to: Annotated[date | None, Parameter(query="to")] = None,
    ) -> Any:
        rows = await queries(request).monthly(current_identity(request).user_id, date_from, date_to)
        return success("Monthly report", months=rows)
