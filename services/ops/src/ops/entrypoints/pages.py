"""The ops console: server-rendered pages at https://localhost/ops/ for admins.

Sign-in goes through auth; the access token is kept in an HttpOnly, Secure, SameSite=Strict
cookie that the gateway accepts on the console's pages only (not /ops/api), so every page is checked
exactly like an API call (signature, expiry, revocation); a cookie the gateway no longer vouches for
is expired with whatever page answers. Forms post back with the same cookie; a post whose Origin
(or, without one, Referer) is not this site is refused. No script and no inline style: a strict CSP.
Every failure on a console page is an HTML page (the API under /ops/api answers JSON). What pages
share with the web pages (the session cookie, the origin check, the error page, notices) is
blazing_service.pages.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect, Template

from blazing_app import ApplicationError, Conflict, NotFound, Refused, Unavailable
from blazing_service.errors import EXCEPTION_HANDLERS, ValidationFailed, status_of
from blazing_service.identity import Identity, identity_of
from blazing_service.pages import (
    PageError,
    browser_of,
    error_page_of,
    form_fields,
    from_this_site,
    notice_of,
)
from blazing_service.pagination import MAX_OFFSET
from ops.domain.audit import Actor
from ops.domain.dead_letters import STATUSES, Filter
from ops.domain.replays import ACTIVE
from ops.entrypoints.http import CONSOLE_SESSION, MAX_IDS, actor, filter_of, handlers, rate_errors

CONSOLE = "/ops"
API_PREFIX = "/ops/api"
FILTER_FIELDS = (
    "topic",
    "event_type",
    "consumer_group",
    "service",
    "error",
    "aggregate_id",
    "fingerprint",
    "status",
    "source",
    "since",
    "until",
)
PAGE = 50
FOREIGN = "This form was not sent from the console's pages; go back, reload and try again"
NOTICES = {
    "dry-run": "Dry run: {count} dead letter(s) would be replayed",
    "discarded": "{count} dead letter(s) discarded",
    "select-first": "Select dead letters or filter first",
    "nothing-to-replay": "Nothing to replay: what you selected was discarded or quarantined, or is not there",
}
"""What ``?notice=`` may show: a key and a count, never text from the URL."""


def is_console_page(path: str) -> bool:
    """The console's pages answer HTML (errors included); /ops/api and the service's own endpoints
    (/health, /metrics …) answer JSON."""
    under_api = path == API_PREFIX or path.startswith(API_PREFIX + "/")
    return (path == CONSOLE or path.startswith(CONSOLE + "/")) and not under_api


class NotAllowed(Exception):
    def __init__(self, response: Response[Any]) -> None:
        self.response = response


def admin(request: Request[Any, Any, Any]) -> Identity:
    identity = identity_of(request)
    if identity is None:
        raise NotAllowed(Redirect("/ops/sign-in"))
    if not identity.is_admin:
        raise NotAllowed(Template("forbidden.html", context={"identity": identity}, status_code=403))
    return identity


def from_the_console(request: Request[Any, Any, Any]) -> None:
    from_this_site(request, request.app.state.settings.public_base_url, FOREIGN)


def not_allowed_handler(_: Request[Any, Any, Any], exc: NotAllowed) -> Response[Any]:
    return exc.response


def error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors on the console's pages are the error page; anywhere else (the API, /health …) the
    API's one JSON shape, as every service answers them."""
    if not is_console_page(request.url.path):
        handler = next(EXCEPTION_HANDLERS[t] for t in type(exc).__mro__ if t in EXCEPTION_HANDLERS)
        return handler(request, exc)
    shown = error_page_of(request, exc)
    context = {"identity": identity_of(request), "message": shown.message, "errors": shown.errors}
    return Template("error.html", context=context, status_code=shown.status, headers=shown.headers)


def _filter_from(params: Any) -> tuple[Filter, dict[str, str]]:
    given = {k: str(params.get(k)) for k in FILTER_FIELDS if params.get(k)}
    return filter_of(given), given


def _offset(params: Any) -> int:
    raw = str(params.get("offset") or "0")
    if not (raw.isascii() and raw.isdigit()):  # int() also reads full-width digits, "1_0" and " 5"
        raise ValidationFailed({"offset": ["Offset must be a whole number"]})
    offset = int(raw)
    if not 0 <= offset <= MAX_OFFSET:
        raise ValidationFailed({"offset": [f"Offset must be from 0 to {MAX_OFFSET}"]})
    return offset


def _selection(form: Any) -> tuple[Filter, dict[str, str]]:
    """What a form post acts on: the ticked dead letters, or else everything its filter matches."""
    f, given = _filter_from(form)
    sent = form.getall("id") if "id" in form else []
    if len(sent) > MAX_IDS:
        raise ValidationFailed({"id": [f"Select at most {MAX_IDS} dead letters"]})
    try:
        ids = [uuid.UUID(str(v)) for v in sent]
    except ValueError:
        raise ValidationFailed({"id": ["A selected dead letter id is not an id"]}) from None
    return (Filter(ids=ids) if ids else f), given


async def _posted(request: Request[Any, Any, Any]) -> tuple[Actor, Any, Filter, dict[str, str]]:
    """An action posted from the console: by an admin, from the console's own pages. Who acts, the
    form, and what it acts on (with the filter it was given, to go back to)."""
    identity = admin(request)
    from_the_console(request)
    form = await form_fields(request, max_fields=MAX_IDS + len(FILTER_FIELDS) + 10)  # a selection, a filter, a rate
    f, given = _selection(form)
    return actor(identity), form, f, given


def _back(given: dict[str, str], notice: str, **more: Any) -> Redirect:
    """Back to the list as it was filtered, with a notice (NOTICES)."""
    return Redirect(f"/ops/?{urlencode({**given, 'notice': notice, **more})}")


def _rate(form: Any, default: int, max_rate: int) -> int:
    raw = str(form.get("rate_per_s") or "").strip()
    if raw and not (raw.isascii() and raw.isdigit()):  # int() also reads Arabic-Indic digits, "1_0" and "+5"
        raise ValidationFailed({"rate_per_s": [f"Rate per second must be a whole number from 1 to {max_rate}"]})
    rate = int(raw) if raw else default
    if errors := rate_errors(rate, max_rate):
        raise ValidationFailed(errors)
    return rate


class Console(Controller):
    path = "/ops"
    include_in_schema = False

    # ------------------------------------------------------------------ sign-in

    @get("/sign-in")
    async def sign_in_page(self, request: Request[Any, Any, Any]) -> Response[Any]:
        identity = identity_of(request)
        if identity is not None and identity.is_admin:
            return Redirect("/ops/")
        return Template("sign_in.html", context={"error": None, "email": ""})

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any]) -> Response[Any]:
        from_the_console(request)
        form = await form_fields(request)
        email, password = str(form.get("email") or "").strip(), str(form.get("password") or "")
        browser = browser_of(request)
        try:
            operator = await handlers(request).sign_in(email, password, browser)
        except Unavailable:
            raise PageError(503, "Sign-in is unavailable right now; please try again in a moment") from None
        except ApplicationError as exc:
            context = {"error": exc.message, "email": email}
            return Template("sign_in.html", context=context, status_code=status_of(exc))
        return Redirect("/ops/", cookies=[CONSOLE_SESSION.issued(operator.access_token, operator.expires_in)])

    @post("/sign-out")
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        from_the_console(request)
        identity = identity_of(request)
        if identity is not None:
            sign_out = handlers(request).sign_out
            await sign_out(identity.user_id, identity.session_id, identity.permissions, admin=identity.is_admin)
        return Redirect("/ops/sign-in", cookies=[CONSOLE_SESSION.expired()])

    # ------------------------------------------------------------------ pages

    @get("/")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        identity = admin(request)
        f, given = _filter_from(request.query_params)
        offset = _offset(request.query_params)
        found = handlers(request)
        items, total = await found.queries.listing(f, PAGE, offset)
        settings = request.app.state.settings
        return Template(
            "index.html",
            context={
                "identity": identity,
                "filter": given,
                "query": urlencode(given),
                "items": items,
                "total": total,
                "offset": offset,
                "page": PAGE,
                "groups": await found.queries.groups(f),
                "replayable": await found.queries.replayable(f),
                "statuses": STATUSES,
                "default_rate": settings.replay_rate,
                "max_rate": settings.replay_max_rate,
                "jobs": [j for j in await found.replays.jobs(5) if j["status"] in ACTIVE],
                "notice": notice_of(request.query_params, NOTICES),
            },
        )

    @get("/dead-letters/{dead_letter_id:uuid}")
    async def one(self, request: Request[Any, Any, Any], dead_letter_id: uuid.UUID) -> Template:
        identity = admin(request)
        try:
            item = await handlers(request).view(dead_letter_id, actor(identity))
        except NotFound:
            return Template("not_found.html", context={"identity": identity}, status_code=404)
        return Template("detail.html", context={"identity": identity, "item": item})

    @get("/replays")
    async def jobs(self, request: Request[Any, Any, Any]) -> Template:
        identity = admin(request)
        jobs = await handlers(request).replays.jobs()
        active = any(j["status"] in ACTIVE for j in jobs)
        return Template("jobs.html", context={"identity": identity, "jobs": jobs, "refresh": active})

    @get("/audit")
    async def audit(self, request: Request[Any, Any, Any]) -> Template:
        identity = admin(request)
        entries = await handlers(request).queries.audit(200)
        return Template("audit.html", context={"identity": identity, "entries": entries})

    # ------------------------------------------------------------------ actions (form posts)

    @post("/actions/replay")
    async def replay(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who, form, f, given = await _posted(request)
        settings = request.app.state.settings
        rate = _rate(form, settings.replay_rate, settings.replay_max_rate)
        replays = handlers(request).replays
        if f.is_empty():
            return _back(given, "select-first")
        if form.get("dry_run"):
            return _back(given, "dry-run", count=await replays.dry_run(f, who))
        try:
            await replays.start(f, rate, who)
        except Refused:
            return _back(given, "nothing-to-replay")
        return Redirect("/ops/replays")

    @post("/actions/discard")
    async def discard(self, request: Request[Any, Any, Any]) -> Response[Any]:
        who, _, f, given = await _posted(request)
        if f.is_empty():
            return _back(given, "select-first")
        return _back(given, "discarded", count=await handlers(request).discard(f, who))

    @post("/replays/{job_id:uuid}/{action:str}")
    async def move(self, request: Request[Any, Any, Any], job_id: uuid.UUID, action: str) -> Response[Any]:
        identity = admin(request)
        from_the_console(request)
        replays = handlers(request).replays
        if action not in ("cancel", "resume"):
            raise PageError(404, "There is no such action on a replay job (cancel or resume)")
        with contextlib.suppress(NotFound, Conflict):  # the page shows the job as it is
            await (replays.cancel if action == "cancel" else replays.resume)(job_id, actor(identity))
        return Redirect("/ops/replays")
