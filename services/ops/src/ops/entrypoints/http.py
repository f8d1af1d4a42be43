"""The ops API under ``/ops/api`` (admins only, through the gateway): dead letters, groups, replay
jobs, discard, the audit log. The console's pages (pages.py) call the same handlers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi import ResponseSpec
from litestar.params import Parameter

from blazing_service import (
    Checks,
    Identity,
    Unauthorized,
    ValidationFailed,
    current_identity,
    read_json,
    require_admin,
    success,
)
from blazing_service.body import field_errors_of
from blazing_service.errors import FieldErrors
from blazing_service.pages import PageSession
from blazing_service.pagination import Limit, Offset, page
from blazing_service.state import StateKey
from ops.application.dead_letters import DeadLetterQueries, DiscardDeadLetters, ViewDeadLetter
from ops.application.operators import SignIn, SignOut
from ops.application.replays import ReplayCommands
from ops.domain.audit import Actor
from ops.domain.dead_letters import Filter

TEXT_FIELDS = ("topic", "event_type", "consumer_group", "service", "error", "aggregate_id", "fingerprint")
MAX_TEXT = 255
"""No topic, consumer group, service, event type or aggregate id is longer; neither is a search."""
MAX_IDS = 1000


class ReplayRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    filter: Filter = msgspec.field(default_factory=Filter)
    rate_per_s: int | None = None
    dry_run: bool = False


class DiscardRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    filter: Filter
    dry_run: bool = False


CONSOLE_SESSION = PageSession("bs_ops", "/ops")


@dataclass(frozen=True, kw_only=True)
class Handlers:
    """The use cases the API and the console call (built by bootstrap.py)."""

    queries: DeadLetterQueries
    view: ViewDeadLetter
    discard: DiscardDeadLetters
    replays: ReplayCommands
    sign_in: SignIn
    sign_out: SignOut


handlers = StateKey[Handlers]("handlers")


def actor(identity: Identity) -> Actor:
    return Actor(user_id=identity.user_id, name=str(identity.user_id))


def actor_of(request: Request[Any, Any, Any]) -> Actor:
    return actor(current_identity(request))


def filter_errors(f: Filter, prefix: str = "") -> FieldErrors:
    """Field errors of a filter's values: one-line text of bounded length, a bounded selection, a
    time range that does not end before it starts."""
    c = Checks()
    for name in TEXT_FIELDS:
        c.length(getattr(f, name), prefix + name, 1, MAX_TEXT)
    c.require(f.ids is None or len(f.ids) <= MAX_IDS, prefix + "ids", f"Select at most {MAX_IDS} dead letters")
    inverted = f.since is not None and f.until is not None and f.since > f.until
    c.require(not inverted, prefix + "since", "Must not be after until")
    return c.errors


def filter_of(values: Mapping[str, Any]) -> Filter:
    """A Filter from query or form values (empty ones ignored); a 400 with field errors when one is
    invalid."""
    try:
        f = msgspec.convert({k: v for k, v in values.items() if v not in (None, "")}, Filter)
    except msgspec.ValidationError as exc:
        raise ValidationFailed(field_errors_of(exc)) from None
    if errors := filter_errors(f):
        raise ValidationFailed(errors)
    return f


def rate_errors(rate: int | None, max_rate: int, field: str = "rate_per_s") -> FieldErrors:
    c = Checks()
    c.require(rate is None or 1 <= rate <= max_rate, field, f"Rate per second must be from 1 to {max_rate}")
    return c.errors


def bearer_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """The API acts for bearer tokens only. A request carrying the console's cookie is refused even
    when the gateway signed an identity for it: that identity may be the cookie's, and a cookie is
    what a cross-site request carries along without being asked (the gateway reads no cookie on
    /ops/api either; this holds if it ever did)."""
    if connection.cookies.get(CONSOLE_SESSION.name):
        raise Unauthorized("The ops API takes bearer tokens only, not the console's session cookie")


Q = Annotated[str | None, Parameter(required=False)]
T = Annotated[str | None, Parameter(required=False, schema_extra={"format": "date-time"})]
"""An instant in a query: read as text here and converted strictly by filter_of (RFC 3339 with its
offset). Typed as a datetime, Litestar would also take a number of seconds (``since=0.5`` is 1970)."""


def query_filter(
    topic: Q = None,
    event_type: Q = None,
    consumer_group: Q = None,
    service: Q = None,
    error: Q = None,
    aggregate_id: Q = None,
    fingerprint: Q = None,
    status: Q = None,
    source: Q = None,
    since: T = None,
    until: T = None,
) -> Filter:
    """The filter query parameters every listing takes. An empty instant is refused here (the console's
    form leaves its empty fields out; a query that names an instant must give one)."""
    if blank := {
        name: ["An RFC 3339 date-time with its offset, e.g. 2026-11-29T00:00:00Z"]
        for name, value in (("since", since), ("until", until))
        if value == ""
    }:
        raise ValidationFailed(blank)
    return filter_of(
        {
            "topic": topic,
            "event_type": event_type,
            "consumer_group": consumer_group,
            "service": service,
            "error": error,
            "aggregate_id": aggregate_id,
            "fingerprint": fingerprint,
            "status": status,
            "source": source,
            "since": since,
            "until": until,
        }
    )


class OpsApi(Controller):
    path = "/ops/api"
    guards = [bearer_only, require_admin]
    dependencies = {"selection": Provide(query_filter, sync_to_thread=False)}

    @get("/dead-letters", summary="Dead letters, newest first (payloads masked), with filters")
    async def list_dead_letters(
        self,
        request: Request[Any, Any, Any],
        selection: Filter,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Any:
        items, total = await handlers(request).queries.listing(selection, limit, offset)
        return success("Dead letters", **page(items, total, limit, offset))

    @get("/groups", summary="Dead letters grouped by failure fingerprint (event type + consumer + error type)")
    async def groups(self, request: Request[Any, Any, Any], selection: Filter) -> Any:
        return success("Failure groups", groups=await handlers(request).queries.groups(selection))

    @get("/dead-letters/{dead_letter_id:uuid}", summary="One dead letter: payload, headers, error, traceback, history")
    async def one(self, request: Request[Any, Any, Any], dead_letter_id: uuid.UUID) -> Any:
        return success("Dead letter", dead_letter=await handlers(request).view(dead_letter_id, actor_of(request)))

    @post(
        "/replays",
        status_code=202,
        summary="Replay a selection, a group or a filter (or count it: dry_run)",
        responses={200: ResponseSpec(None, description="dry_run: what would be replayed is counted, nothing moves")},
    )
    async def replay(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, ReplayRequest)
        max_rate = request.app.state.settings.replay_max_rate
        errors = {**filter_errors(body.filter, "filter."), **rate_errors(body.rate_per_s, max_rate)}
        if body.filter.is_empty():
            errors["filter"] = ["Name what to replay (ids, a fingerprint or a filter): an empty filter is everything"]
        if errors:
            raise ValidationFailed(errors)
        replays = handlers(request).replays
        if body.dry_run:
            count = await replays.dry_run(body.filter, actor_of(request))
            return success("Dry run: nothing was replayed", status_code=200, count=count)
        job = await replays.start(body.filter, body.rate_per_s, actor_of(request))
        return success("Replay job queued", status_code=202, job=job)

    @get("/replays", summary="Replay jobs, newest first, with their progress")
    async def jobs(self, request: Request[Any, Any, Any]) -> Any:
        return success("Replay jobs", jobs=await handlers(request).replays.jobs())

    @get("/replays/{job_id:uuid}", summary="One replay job and its progress")
    async def job(self, request: Request[Any, Any, Any], job_id: uuid.UUID) -> Any:
        return success("Replay job", job=await handlers(request).replays.job(job_id))

    @post("/replays/{job_id:uuid}/cancel", status_code=200, summary="Stop a queued or running replay job")
    async def cancel(self, request: Request[Any, Any, Any], job_id: uuid.UUID) -> Any:
        return await self._move(request, job_id, cancel=True)

    @post("/replays/{job_id:uuid}/resume", status_code=200, summary="Continue a cancelled or failed replay job")
    async def resume(self, request: Request[Any, Any, Any], job_id: uuid.UUID) -> Any:
        return await self._move(request, job_id, cancel=False)

    async def _move(self, request: Request[Any, Any, Any], job_id: uuid.UUID, *, cancel: bool) -> Any:
        replays = handlers(request).replays
        job = await (replays.cancel if cancel else replays.resume)(job_id, actor_of(request))
        return success("Replay job cancelled" if cancel else "Replay job resumed", job=job)

    @post("/discard", status_code=200, summary="Discard what matches a filter (or count it: dry_run)")
    async def discard(self, request: Request[Any, Any, Any]) -> Any:
        body = await read_json(request, DiscardRequest)
        if errors := filter_errors(body.filter, "filter."):
            raise ValidationFailed(errors)
        count = await handlers(request).discard(body.filter, actor_of(request), dry_run=body.dry_run)
        return success("Dry run: nothing was discarded" if body.dry_run else "Discarded", count=count)

    @get("/audit", summary="The audit log, newest first")
    async def audit_log(
        self,
        request: Request[Any, Any, Any],
        action: Annotated[str | None, Parameter(required=False, max_length=MAX_TEXT)] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> Any:
        return success("Audit log", entries=await handlers(request).queries.audit(limit, offset, action))
