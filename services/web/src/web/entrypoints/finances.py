"""The signed-in pages: profile, balance with its monthly chart, categories, transactions."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.response import Template

from web.application.finances import FILTERS, PAGE_SIZE, Finances
from web.application.ports import Caller
from web.application.refusals import Refusal
from web.entrypoints.common import FORM, form_of, go, page, signed_in, use_cases

# ------------------------------------------------------------------ what the lists share

ListPage = Callable[..., Awaitable[Template]]
"""A list's page function: (request, status code, the form shown back, the refusal) -> the page."""


async def answered(refused: Refusal | None, done: Response[Any], again: ListPage) -> Response[Any]:
    """A form post's answer: ``done`` (on to the next page) when the application took it, else the
    page again (``again``: its page function with what of the form it shows back) with the refusal."""
    if refused is None:
        return done
    return await again(errors=refused.errors, error=refused.message)


def list_page(path: str, render: ListPage) -> HTTPRouteHandler:
    """The GET of a list: its page with nothing posted (the posts of its forms show it again)."""

    async def show(request: Request[Any, Any, Any]) -> Template:
        return await render(request)

    return get(path)(show)


def deleting(
    path: str, delete: Callable[[Finances, Caller, str], Awaitable[Refusal | None]], notice: str, render: ListPage
) -> HTTPRouteHandler:
    """The post of a delete button of the list at ``path``: back to the list with ``notice``, or the
    list again with the refusal."""

    async def delete_one(request: Request[Any, Any, Any], item_id: uuid.UUID) -> Response[Any]:
        await form_of(request)
        refused = await delete(use_cases(request).finances, signed_in(request), str(item_id))
        return await answered(refused, go(path, notice), partial(render, request))

    return post(f"{path}/{{item_id:uuid}}/delete")(delete_one)


# ------------------------------------------------------------------ profile and balance


@get("/profile")
async def profile(request: Request[Any, Any, Any]) -> Template:
    user = await use_cases(request).finances.profile(signed_in(request))
    return page(request, "profile.html", user=user, form={"first_name": user.first_name, "last_name": user.last_name})


@post("/profile")
async def update_profile(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    finances = use_cases(request).finances
    changes = {k: v.strip() for k, v in form.pick("first_name", "last_name").items()}
    refused = Refusal(message=FORM, errors=form.refused)
    if not form.refused:
        if (done := await finances.update_profile(signed_in(request), *changes.values())) is None:
            return go("/profile", "profile-saved")
        refused = done
    user = await finances.profile(signed_in(request))
    return page(
        request, "profile.html", form.status, user=user, form=changes, errors=refused.errors, error=refused.message
    )


@get("/balance")
async def balance(request: Request[Any, Any, Any]) -> Template:
    shown = await use_cases(request).finances.balance(signed_in(request))
    return page(request, "balance.html", data=shown.balance, chart=shown.chart)


# ------------------------------------------------------------------ categories


async def categories_page(request: Request[Any, Any, Any], status_code: int = 200, **context: Any) -> Template:
    items = await use_cases(request).finances.categories(signed_in(request))
    return page(request, "categories.html", status_code, items=items, **context)


categories = list_page("/categories", categories_page)


@post("/categories")
async def create_category(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    refused = (
        Refusal(message=FORM, errors=form.refused)
        if form.refused
        else await use_cases(request).finances.add_category(
            signed_in(request), form.get("name"), form.get("description")
        )
    )
    again = partial(categories_page, request, form.status, form=form.pick("name", "description"))
    return await answered(refused, go("/categories", "category-added"), again)


delete_category = deleting("/categories", Finances.delete_category, "category-deleted", categories_page)


# ------------------------------------------------------------------ transactions


async def transactions_page(request: Request[Any, Any, Any], status_code: int = 200, **context: Any) -> Template:
    """The list (filtered, a page at a time) with the add form. The ledger judges the filters: a
    refused one shows the page with the filter's field errors and no list (400)."""
    q = request.query_params
    filters = {k: q.get(k, "") for k in FILTERS}
    shown = await use_cases(request).finances.transactions(signed_in(request), filters, q.get("offset", ""))
    if shown.filter_errors:
        context = {"error": "Please correct the filter", **context, "filter_errors": shown.filter_errors}
        status_code = 400
    return page(
        request,
        "transactions.html",
        status_code,
        items=shown.items,
        total=shown.total,
        offset=shown.offset,
        page_size=PAGE_SIZE,
        query={k: v for k, v in filters.items() if v},
        categories=shown.categories,
        names={c.id: c.name for c in shown.categories},
        filters=filters,
        **{"filter_errors": {}, **context},
    )


transactions = list_page("/transactions", transactions_page)


@post("/transactions")
async def create_transaction(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    refused = await use_cases(request).finances.add_transaction(signed_in(request), form.fields, form.refused)
    again = partial(transactions_page, request, form.status, form=form.fields)
    return await answered(refused, go("/transactions", "transaction-added"), again)


async def edit_page(
    request: Request[Any, Any, Any], transaction_id: uuid.UUID, status_code: int = 200, **context: Any
) -> Template:
    shown = await use_cases(request).finances.edit(signed_in(request), str(transaction_id))
    return page(
        request,
        "edit_transaction.html",
        status_code,
        item=shown.item,
        categories=shown.categories,
        **{"form": shown.form, **context},
    )


@get("/transactions/{transaction_id:uuid}/edit")
async def edit_transaction_page(request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Template:
    return await edit_page(request, transaction_id)


@post("/transactions/{transaction_id:uuid}")
async def update_transaction(request: Request[Any, Any, Any], transaction_id: uuid.UUID) -> Response[Any]:
    form = await form_of(request)
    finances = use_cases(request).finances
    refused = await finances.update_transaction(signed_in(request), str(transaction_id), form.fields, form.refused)
    again = partial(edit_page, request, transaction_id, form.status, form=form.fields)
    return await answered(refused, go("/transactions", "transaction-saved"), again)


delete_transaction = deleting("/transactions", Finances.delete_transaction, "transaction-deleted", transactions_page)


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
