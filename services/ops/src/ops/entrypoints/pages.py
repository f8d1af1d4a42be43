"""The ops console: server-rendered pages at https://localhost/ops/ for admins.

Sign-in goes through auth; the access token is kept in an HttpOnly, Secure, SameSite=Strict
cookie that the gateway accepts on the console's pages only (not /ops/api), so every page is checked
exactly like an API call (signature, expiry, revocation); a cookie the gateway no longer vouches for
is expired with whatever page answers. Forms post back with the same cookie; a post whose Origin
(or, without one, Referer) is not this site is refused. No script and no inline style: a strict CSP.
Every failure on a console page is an HTML page (the API under /ops/api answers JSON).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import HTTPException, ValidationException
from litestar.response import Redirect, Template

from blazing_service.errors import EXCEPTION_HANDLERS, ApiError, ValidationFailed, status_of
from blazing_service.identity import Identity, identity_of, sign
from blazing_service.pages import same_origin
from blazing_service.pagination import MAX_OFFSET
from ops.application.replay import JobNotFound, JobStateError
from ops.application.store import Actor
from ops.domain.dead_letters import STATUSES, Filter
from ops.entrypoints.api import MAX_IDS, detail, filter_of, rate_errors, state
from ops.entrypoints.session import CONSOLE_SESSION, is_console_page

log = logging.getLogger(__name__)
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


class ConsoleError(Exception):
    """Ends a console request with the error page."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code, self.message = status_code, message


def from_this_site(request: Request[Any, Any, Any]) -> None:
    if not same_origin(request.headers, request.app.state.settings.public_base_url):
        raise ConsoleError(403, "This form was not sent from the console's pages; go back, reload and try again")


def actor(identity: Identity) -> Actor:
    return Actor(user_id=identity.user_id, name=str(identity.user_id))


def not_allowed_handler(_: Request[Any, Any, Any], exc: NotAllowed) -> Response[Any]:
    return exc.response


MESSAGES = {
    400: "This request is not valid",
    403: "This is not allowed",
    404: "There is no such page",
    405: "This page does not take that kind of request",
    413: "What you sent is too large",
}


def error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Errors on the console's pages are the error page; anywhere else (the API, /health …) the
    API's one JSON shape, as every service answers them."""
    if not is_console_page(request.url.path):
        handler = next(EXCEPTION_HANDLERS[t] for t in type(exc).__mro__ if t in EXCEPTION_HANDLERS)
        return handler(request, exc)
    errors: dict[str, list[str]] = {}
    if isinstance(exc, ConsoleError):
        status, message = exc.status_code, exc.message
    elif isinstance(exc, ApiError):
        status, message = status_of(exc), exc.message
        errors = exc.errors if isinstance(exc, ValidationFailed) else {}
    elif isinstance(exc, ValidationException):
        status, message = 400, MESSAGES[400]
    elif isinstance(exc, HTTPException) and exc.status_code < 500:
        status, message = exc.status_code, MESSAGES.get(exc.status_code, "This request cannot be served")
    else:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        status, message = 500, "Something went wrong on our side; please try again"
    response = Template(
        "error.html",
        context={"identity": identity_of(request), "message": message, "errors": errors},
        status_code=status,
    )
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update({k: v for k, v in exc.headers.items() if k.lower() == "allow"})
    return response


NOTICES = {
    "dry-run": "Dry run: {count} dead letter(s) would be replayed",
    "discarded": "{count} dead letter(s) discarded",
    "select-first": "Select dead letters or filter first",
}
"""What ``?notice=`` may show: a key and a count, never text from the URL."""


def notice_of(params: Any) -> str | None:
    template = NOTICES.get(str(params.get("notice") or ""))
    count = str(params.get("count") or "0")
    if template is None or not count.isascii() or not count.isdigit() or len(count) > 12:
        return None
    return template.format(count=int(count))


def _filter_from(params: Any) -> tuple[Filter, dict[str, str]]:
    given = {k: str(params.get(k)) for k in FILTER_FIELDS if params.get(k)}
    f = filter_of(given)
    return f, given


def _offset(params: Any) -> int:
    try:
        offset = int(params.get("offset") or 0)
    except ValueError:
        raise ValidationFailed({"offset": ["Offset must be a whole number"]}) from None
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


def _rate(form: Any, default: int, max_rate: int) -> int:
    raw = str(form.get("rate_per_s") or "").strip()
    try:
        rate = int(raw) if raw else default
    except ValueError:
        raise ValidationFailed(
            {"rate_per_s": [f"Rate per second must be a whole number from 1 to {max_rate}"]}
        ) from None
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
        from_this_site(request)
        form = await request.form()
        email, password = str(form.get("email") or "").strip(), str(form.get("password") or "")
        settings = request.app.state.settings
        forwarded = request.headers.get("x-forwarded-for") or request.headers.get("x-real-ip") or ""
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.post(
                f"{settings.auth_url}/api/v1/auth/sign-in",
                json={"email": email, "password": password},
                headers={"x-forwarded-for": forwarded, "user-agent": request.headers.get("user-agent", "")},
            )
            if r.status_code >= 500:
                raise ConsoleError(503, "Sign-in is unavailable right now; please try again in a moment")
            if r.status_code != 200:
                try:
                    message = str(r.json().get("message") or "Sign-in failed")
                except (ValueError, AttributeError):
                    message = "Sign-in failed"
                return Template("sign_in.html", context={"error": message, "email": email}, status_code=r.status_code)
            body = r.json()
            user = body["user"]
            identity = Identity(
                user_id=uuid.UUID(user["id"]), permissions=user["permissions"], session_id=uuid.UUID(body["session_id"])
            )
            if not identity.is_admin:  # no console session for a non-admin: end the one just made
                await client.post(
                    f"{settings.auth_url}/api/v1/auth/sign-out", headers=sign(identity, settings.identity_secret)
                )
                return Template(
                    "sign_in.html",
                    context={"error": "The ops console is for admins only", "email": email},
                    status_code=403,
                )
        await request.app.state.audit.signed_in(identity.user_id, user["email"])
        return Redirect("/ops/", cookies=[CONSOLE_SESSION.issued(body["access_token"], int(body["expires_in"]))])

    @post("/sign-out")
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        from_this_site(request)
        identity = identity_of(request)
        if identity is not None:
            settings = request.app.state.settings
            async with httpx.AsyncClient(timeout=10) as client:
                await client.post(
                    f"{settings.auth_url}/api/v1/auth/sign-out", headers=sign(identity, settings.identity_secret)
                )
        return Redirect("/ops/sign-in", cookies=[CONSOLE_SESSION.expired()])

    # ------------------------------------------------------------------ pages

    @get("/")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        identity = admin(request)
        f, given = _filter_from(request.query_params)
        offset = _offset(request.query_params)
        store, replays, _ = state(request)
        items, total = await store.page(f, PAGE, offset)
        groups = await store.groups(msgspec.structs.replace(f, fingerprint=None))
        replayable = await store.count(f, replayable=True)
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
                "groups": groups,
                "replayable": replayable,
                "statuses": STATUSES,
                "default_rate": request.app.state.settings.replay_rate,
                "max_rate": request.app.state.settings.replay_max_rate,
                "jobs": [j for j in await replays.page(5) if j["status"] in ("queued", "running")],
                "notice": notice_of(request.query_params),
            },
        )

    @get("/dead-letters/{dead_letter_id:uuid}")
    async def one(self, request: Request[Any, Any, Any], dead_letter_id: uuid.UUID) -> Template:
        identity = admin(request)
        store, _, audit = state(request)
        found = await store.get(dead_letter_id)
        if found is None:
            return Template("not_found.html", context={"identity": identity}, status_code=404)
        await audit.append(actor(identity), "viewed", {"dead_letter_id": str(dead_letter_id)}, 1)
        return Template("detail.html", context={"identity": identity, "item": detail(*found)})

    @get("/replays")
    async def jobs(self, request: Request[Any, Any, Any]) -> Template:
        identity = admin(request)
        _, replays, _ = state(request)
        jobs = await replays.page()
        active = any(j["status"] in ("queued", "running") for j in jobs)
        return Template("jobs.html", context={"identity": identity, "jobs": jobs, "refresh": active})

    @get("/audit")
    async def audit(self, request: Request[Any, Any, Any]) -> Template:
        identity = admin(request)
        _, _, audit = state(request)
        return Template("audit.html", context={"identity": identity, "entries": await audit.page(200)})

    # ------------------------------------------------------------------ actions (form posts)

    @post("/actions/replay")
    async def replay(self, request: Request[Any, Any, Any]) -> Response[Any]:
        identity = admin(request)
        from_this_site(request)
        form = await request.form()
        f, given = _selection(form)
        settings = request.app.state.settings
        rate = _rate(form, settings.replay_rate, settings.replay_max_rate)
        store, replays, audit = state(request)
        if form.get("dry_run"):
            count = await store.count(f, replayable=True)
            await audit.append(actor(identity), "replay_dry_run", {"filter": msgspec.to_builtins(f)}, count)
            return Redirect(f"/ops/?{urlencode({**given, 'notice': 'dry-run', 'count': count})}")
        await replays.create(f, rate, actor(identity))
        return Redirect("/ops/replays")

    @post("/actions/discard")
    async def discard(self, request: Request[Any, Any, Any]) -> Response[Any]:
        identity = admin(request)
        from_this_site(request)
        form = await request.form()
        f, given = _selection(form)
        if f.is_empty():
            return Redirect(f"/ops/?{urlencode({**given, 'notice': 'select-first'})}")
        store, _, _ = state(request)
        count = await store.discard(f, actor(identity))
        return Redirect(f"/ops/?{urlencode({**given, 'notice': 'discarded', 'count': count})}")

    @post("/replays/{job_id:uuid}/{action:str}")
    async def move(self, request: Request[Any, Any, Any], job_id: uuid.UUID, action: str) -> Response[Any]:
        identity = admin(request)
        from_this_site(request)
        _, replays, _ = state(request)
        if action not in ("cancel", "resume"):
            raise ConsoleError(404, "There is no such action on a replay job (cancel or resume)")
        with contextlib.suppress(JobNotFound, JobStateError):  # the page shows the job as it is
            await (replays.cancel if action == "cancel" else replays.resume)(job_id, actor(identity))
        return Redirect("/ops/replays")
