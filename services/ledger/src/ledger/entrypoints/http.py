"""The ledger's HTTP API (SPEC §4.3). Every route is the caller's own ledger: another user's
category or transaction is simply not found."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, MediaType, Request, Response, delete, get, patch, post
from litestar.params import Parameter

from blazing_service import (
    BadRequest,
    Checks,
    Conflict,
    NotFound,
    Unprocessable,
    current_identity,
    read_json,
    require_user,
    success,
)
from blazing_service.errors import FieldErrors
from blazing_service.pagination import Limit, Offset
from ledger.application.queries import Queries
from ledger.application.service import Decision, LedgerService
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


def ledger(request: Request[Any, Any, Any]) -> LedgerService:
    svc: LedgerService = request.app.state.ledger
    return svc


def queries(request: Request[Any, Any, Any]) -> Queries:
    q: Queries = request.app.state.queries
    return q


def if_match(request: Request[Any, Any, Any]) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None:
        return None
    try:
        return int(raw.strip().removeprefix("W/").strip('"'))
    except ValueError:
        raise BadRequest("If-Match must be an ETag given by this API") from None


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


def category_body(state: lg.Ledger, category_id: uuid.UUID) -> dict[str, Any]:
    c = state.categories[category_id]
    return {
        "id": str(category_id),
        "name": c.name,
        "description": c.description,
        "balance": state.category_balance(category_id),
    }


def transaction_body(state: lg.Ledger, transaction_id: uuid.UUID) -> dict[str, Any]:
    t = state.transactions[transaction_id]
    return {
        "id": str(transaction_id),
        "category_id": str(t.category_id),
        "type": t.type,
        "amount": t.amount,
        "memo": t.memo,
        "description": t.description,
        "occurred_on": t.occurred_on.isoformat(),
        "balance": state.balance,
    }


async def run_write(request: Request[Any, Any, Any], decide: Decision, respond: Any) -> Response[Any]:
    who = current_identity(request)
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 200:
        raise BadRequest("Idempotency-Key must be 1 to 200 characters")
    body = await request.body()
    try:
        outcome = await ledger(request).write(
            who.user_id,
            decide,
            respond,
            correlation_id=request.headers.get("x-request-id", ""),
            if_match=if_match(request),
            idempotency_key=key,
            request=f"{request.method} {request.url.path} {body.decode(errors='replace')}",
        )
    except lg.NotFoundError as exc:
        raise NotFound(str(exc)) from exc
    except lg.DuplicateNameError as exc:
        raise Conflict(str(exc)) from exc
    except lg.LedgerError as exc:
        raise Unprocessable(str(exc)) from exc
    headers = etag(outcome.version) if outcome.version >= 0 else {}
    if key is not None and outcome.version < 0:
        headers["Idempotent-Replayed"] = "true"
    return Response(outcome.body, status_code=outcome.status_code, media_type=MediaType.JSON, headers=headers)


class CategoryController(Controller):
    path = "/api/v1/categories"
    tags = ["categories"]
    guards = [require_user]

    @get("/", summary="The caller's categories with their balances")
    async def list_categories(self, request: Request[Any, Any, Any]) -> Any:
        who = current_identity(request)
        items, version = await queries(request).categories(who.user_id)
        return success("Categories", headers=etag(version), items=items, total=len(items))

    @post("/", summary="Create a category (name unique per user, case-insensitive)")
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        body = await read_json(request, CategoryCreate)
        cid = uuid.uuid4()
        return await run_write(
            request,
            lambda s: lg.create_category(s, cid, body.name.strip(), body.description),
            lambda s: (201, {"status": "success", "message": "Category created", "category": category_body(s, cid)}),
        )

    @get("/{category_id:uuid}", summary="One category")
    async def one(self, request: Request[Any, Any, Any], category_id: uuid.UUID) -> Any:
        who = current_identity(request)
        item, version = await queries(request).category(who.user_id, category_id)
        if item is None:
            raise NotFound("Category not found")
        return success("Category", headers=etag(version), category=item)

    @patch("/{category_id:uuid}", summary="Rename or describe a category")
    async def change(self, request: Request[Any, Any, Any], category_id: uuid.UUID) -> Response[Any]:
        body = await read_json(request, CategoryPatch)
        given = body.description is not msgspec.UNSET
        description = None if body.description is msgspec.UNSET else body.description
        return await run_write(
            request,
            lambda s: lg.update_category(
                s, category_id, body.name.strip() if body.name else None, description, description_given=given
            ),
            lambda s: (
                200,
                {"status": "success", "message": "Category updated", "category": category_body(s, category_id)},
            ),
        )

    @delete("/{category_id:uuid}", status_code=200, summary="Delete a category and its transactions")
    async def remove(self, request: Request[Any, Any, Any], category_id: uuid.UUID) -> Response[Any]:
        return await run_write(
            request,
            lambda s: lg.delete_category(s, category_id),
            lambda s: (200, {"status": "success", "message": "Category deleted", "balance": s.balance}),
        )


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
        q: Annotated[str | None, Parameter(max_length=100)] = None,
        sort: Literal["occurred_on", "-occurred_on", "amount", "-amount", "created_at", "-created_at"] = "-occurred_on",
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Any:
        who = current_identity(request)
        items, total, version = await queries(request).transactions(
            who.user_id,
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
        return success("Transactions", headers=etag(version), items=items, total=total, limit=limit, offset=offset)

    @post("/", summary="Record an income or an expense (never below a zero balance)")
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        body = await read_json(request, TransactionCreate)
        tid = uuid.uuid4()
        day = body.occurred_on or datetime.now(UTC).date()
        return await run_write(
            request,
            lambda s: lg.create_transaction(
                s, tid, body.category_id, body.type, body.amount, body.memo.strip(), day, body.description
            ),
            lambda s: (
                201,
                {"status": "success", "message": "Transaction created", "transaction": transaction_body(s, tid)},
            ),
        )

    @get("/{transaction_id:uuid}", summary="One transaction")
    async def one(self, request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Any:
        who = current_identity(request)
        item, version = await queries(request).transaction(who.user_id, transaction_id)
        if item is None:
            raise NotFound("Transaction not found")
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
        return await run_write(
            request,
            lambda s: lg.change_transaction(s, transaction_id, change),
            lambda s: (
                200,
                {
                    "status": "success",
                    "message": "Transaction updated",
                    "transaction": transaction_body(s, transaction_id),
                },
            ),
        )

    @delete("/{transaction_id:uuid}", status_code=200, summary="Delete a transaction")
    async def remove(self, request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Response[Any]:
        return await run_write(
            request,
            lambda s: lg.delete_transaction(s, transaction_id),
            lambda s: (200, {"status": "success", "message": "Transaction deleted", "balance": s.balance}),
        )


class BalanceController(Controller):
    tags = ["balance"]
    guards = [require_user]

    @get("/api/v1/balance", summary="Balance, income and expense totals, per-category balances")
    async def balance(self, request: Request[Any, Any, Any]) -> Any:
        who = current_identity(request)
        data, version = await queries(request).balance(who.user_id)
        return success("Balance", headers=etag(version), **data)

    @get("/api/v1/reports/monthly", summary="Income and expense per month and category")
    async def monthly(
        self,
        request: Request[Any, Any, Any],
        date_from: Annotated[date | None, Parameter(query="from")] = None,
        date_to: Annotated[date | None, Parameter(query="to")] = None,
    ) -> Any:
        if date_from and date_to and date_from > date_to:
            raise BadRequest("'from' must not be after 'to'")
        who = current_identity(request)
        rows = await queries(request).monthly(who.user_id, date_from, date_to)
        return success("Monthly report", months=rows)
