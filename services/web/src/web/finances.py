"""The signed-in pages: profile, balance with its monthly chart, categories, transactions."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Template

from web.common import Form, PageError, call, cents, errors_of, form_of, go, load, money, page, settings

PAGE_SIZE = 100
FILTERS = ("type", "category_id", "from", "to", "q")
FILTER_NAMES = {"date_from": "from", "date_to": "to", "kind": "type"}
"""The ledger names some refused query parameters by its own argument names."""


def ledger_url(request: Request[Any, Any, Any], path: str) -> str:
    return f"{settings(request).ledger_url}{path}"


def users_url(request: Request[Any, Any, Any], path: str) -> str:
    return f"{settings(request).users_url}{path}"


# ------------------------------------------------------------------ profile and balance


@get("/profile")
async def profile(request: Request[Any, Any, Any]) -> Template:
    user = (await load(request, users_url(request, "/api/v1/user")))["user"]
    return page(request, "profile.html", user=user, form=user, money=money)


@post("/profile")
async def update_profile(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    changes = {k: v.strip() for k, v in form.pick("first_name", "last_name").items()}
    if not form.refused:
        r = await call(request, "PATCH", users_url(request, "/api/v1/user"), json=changes)
        if r.is_success:
            return go("/profile", "profile-saved")
        message, errors = errors_of(r)
    else:
        message, errors = "Please correct the form", form.refused
    user = (await load(request, users_url(request, "/api/v1/user")))["user"]
    return page(
        request, "profile.html", form.status, user=user, form=changes, errors=errors, error=message, money=money
    )


def chart(months: list[dict[str, Any]]) -> dict[str, Any]:
    """Monthly income and expense bars as SVG geometry (server-side: no script, no inline style)."""
    totals: dict[str, list[int]] = {}
    for row in months:
        pair = totals.setdefault(row["month"], [0, 0])
        pair[0] += row["income"]
        pair[1] += row["expense"]
    top = max((max(v) for v in totals.values()), default=0) or 1
    bars, width = [], 48
    for i, (month, (income, expense)) in enumerate(sorted(totals.items())[-12:]):
        x = 10 + i * (width + 12)
        bars.append(
            {
                "month": month,
                "x": x,
                "income": {"y": 170 - 150 * income / top, "h": 150 * income / top, "value": money(income)},
                "expense": {"y": 170 - 150 * expense / top, "h": 150 * expense / top, "value": money(expense)},
            }
        )
    return {"bars": bars, "width": max(200, 20 + len(bars) * (width + 12)), "bar": width // 2}


@get("/balance")
async def balance(request: Request[Any, Any, Any]) -> Template:
    data = await load(request, ledger_url(request, "/api/v1/balance"))
    months = (await load(request, ledger_url(request, "/api/v1/reports/monthly")))["months"]
    return page(request, "balance.html", data=data, chart=chart(months), money=money)


# ------------------------------------------------------------------ categories


async def categories_page(request: Request[Any, Any, Any], status_code: int = 200, **context: Any) -> Template:
    items = (await load(request, ledger_url(request, "/api/v1/categories")))["items"]
    return page(request, "categories.html", status_code, items=items, money=money, **context)


@get("/categories")
async def categories(request: Request[Any, Any, Any]) -> Template:
    return await categories_page(request)


@post("/categories")
async def create_category(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    if not form.refused:
        body = {"name": form.get("name")}
        if form.get("description"):
            body["description"] = form.get("description")
        r = await call(request, "POST", ledger_url(request, "/api/v1/categories"), json=body)
        if r.is_success:
            return go("/categories", "category-added")
        message, errors = errors_of(r)
    else:
        message, errors = "Please correct the form", form.refused
    return await categories_page(
        request, form.status, errors=errors, error=message, form=form.pick("name", "description")
    )


@post("/categories/{category_id:uuid}/delete")
async def delete_category(request: Request[Any, Any, Any], category_id: uuid.UUID) -> Response[Any]:
    await form_of(request)
    r = await call(request, "DELETE", ledger_url(request, f"/api/v1/categories/{category_id}"))
    if r.is_success:
        return go("/categories", "category-deleted")
    if r.status_code == 404:
        raise PageError(404, "Not found: it does not exist, or it is not yours")
    return await categories_page(request, error=errors_of(r)[0])


# ------------------------------------------------------------------ transactions


def transaction_json(form: Form) -> tuple[dict[str, Any], dict[str, list[str]]]:
    errors: dict[str, list[str]] = dict(form.refused)
    amount = cents(form.get("amount"))
    if amount is None:
        errors.setdefault("amount", []).append("Enter an amount greater than 0 with at most two decimals, like 12.50")
    body: dict[str, Any] = {
        "category_id": form.get("category_id"),
        "type": form.get("type"),
        "amount": amount or 0,
        "memo": form.get("memo"),
    }
    if form.get("occurred_on"):
        body["occurred_on"] = form.get("occurred_on")
    if form.get("description"):
        body["description"] = form.get("description")
    return body, errors


async def transactions_page(request: Request[Any, Any, Any], status_code: int = 200, **context: Any) -> Template:
    """The list (filtered, a page at a time) with the add form. The ledger judges the filters: a
    refused one shows the page with the filter's field errors and no list (400)."""
    q = request.query_params
    filters = {k: q.get(k, "") for k in FILTERS}
    offset = q.get("offset", "")
    cats = (await load(request, ledger_url(request, "/api/v1/categories")))["items"]
    params = {k: v for k, v in {**filters, "offset": offset}.items() if v}
    r = await call(request, "GET", ledger_url(request, "/api/v1/transactions"), params={"limit": PAGE_SIZE, **params})
    if r.status_code == 400:
        message, refused = errors_of(r)
        filter_errors = {FILTER_NAMES.get(k, k): v for k, v in refused.items()}
        listing: dict[str, Any] = {"items": [], "total": 0, "offset": 0}
        context = {"error": "Please correct the filter", **context, "filter_errors": filter_errors or {"q": [message]}}
        status_code = 400
    elif r.is_success:
        listing = r.json()
    else:
        raise PageError(r.status_code, errors_of(r)[0])
    return page(
        request,
        "transactions.html",
        status_code,
        items=listing["items"],
        total=listing["total"],
        offset=listing.get("offset", 0),
        page_size=PAGE_SIZE,
        query={k: v for k, v in filters.items() if v},
        categories=cats,
        names={c["id"]: c["name"] for c in cats},
        filters=filters,
        money=money,
        **{"filter_errors": {}, **context},
    )


@get("/transactions")
async def transactions(request: Request[Any, Any, Any]) -> Template:
    return await transactions_page(request)


@post("/transactions")
async def create_transaction(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    body, errors = transaction_json(form)
    message = "Please correct the form"
    if not errors:
        r = await call(request, "POST", ledger_url(request, "/api/v1/transactions"), json=body)
        if r.is_success:
            return go("/transactions", "transaction-added")
        message, errors = errors_of(r)
    return await transactions_page(request, form.status, errors=errors, error=message, form=form.fields)


async def edit_page(
    request: Request[Any, Any, Any], transaction_id: uuid.UUID, status_code: int = 200, **context: Any
) -> Template:
    item = (await load(request, ledger_url(request, f"/api/v1/transactions/{transaction_id}")))["transaction"]
    cats = (await load(request, ledger_url(request, "/api/v1/categories")))["items"]
    form = {**item, "amount": f"{item['amount'] / 100:.2f}"}
    return page(request, "edit_transaction.html", status_code, item=item, categories=cats, **{"form": form, **context})


@get("/transactions/{transaction_id:uuid}/edit")
async def edit_transaction_page(request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Template:
    return await edit_page(request, transaction_id)


@post("/transactions/{transaction_id:uuid}")
async def update_transaction(request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Response[Any]:
    form = await form_of(request)
    body, errors = transaction_json(form)
    message = "Please correct the form"
    if not errors:
        r = await call(request, "PATCH", ledger_url(request, f"/api/v1/transactions/{transaction_id}"), json=body)
        if r.is_success:
            return go("/transactions", "transaction-saved")
        message, errors = errors_of(r)
    return await edit_page(request, transaction_id, form.status, form=form.fields, errors=errors, error=message)


@post("/transactions/{transaction_id:uuid}/delete")
async def delete_transaction(request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Response[Any]:
    await form_of(request)
    r = await call(request, "DELETE", ledger_url(request, f"/api/v1/transactions/{transaction_id}"))
    if r.is_success:
        return go("/transactions", "transaction-deleted")
    if r.status_code == 404:
        raise PageError(404, "Not found: it does not exist, or it is not yours")
    return await transactions_page(request, error=errors_of(r)[0])


HANDLERS = [
    profile,
    update_profile,
    balance,
    categories,
    create_category,
    delete_category,
    transactions,
    create_transaction,
    edit_transaction_page,
    update_transaction,
    delete_transaction,
]
