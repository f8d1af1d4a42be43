"""The ops console: server-rendered pages at https://localhost/ops/ for admins.

Sign-in goes through auth; the access token is kept in an HttpOnly, Secure, SameSite=Strict
cookie that the gateway accepts for /ops/ paths only, so every page is checked exactly like an API
call (signature, expiry, revocation). Forms post back with the same cookie; a post whose Origin is
not this site is refused.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from blazing_service.identity import Identity, identity_of, sign
from ops.application.replay import JobNotFound, JobStateError
from ops.application.store import Actor
from ops.domain.dead_letters import STATUSES, Filter
from ops.entrypoints.api import detail, filter_of, state

COOKIE = "bs_ops"
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


def same_origin(request: Request[Any, Any, Any]) -> None:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return
    expected = urlsplit(request.app.state.settings.public_base_url)
    if urlsplit(origin)[:2] != expected[:2]:
        raise NotAllowed(Response("Cross-site form posts are refused", status_code=403))


def actor(identity: Identity) -> Actor:
    return Actor(user_id=identity.user_id, name=str(identity.user_id))


def not_allowed_handler(_: Request[Any, Any, Any], exc: NotAllowed) -> Response[Any]:
    return exc.response


def _filter_from(params: Any) -> tuple[Filter, dict[str, str]]:
    given = {k: params.get(k) for k in FILTER_FIELDS if params.get(k)}
    f = filter_of(given)
    return f, given


def _selection(form: Any) -> tuple[Filter, dict[str, str]]:
    """What a form post acts on: the ticked dead letters, or else everything its filter matches."""
    f, given = _filter_from(form)
    ids = [uuid.UUID(str(v)) for v in form.getall("id")] if "id" in form else []
    return (Filter(ids=ids) if ids else f), given


class Console(Controller):
    path = "/ops"
    include_in_schema = False

    # ------------------------------------------------------------------ sign-in

    @get("/sign-in")
    async def sign_in_page(self) -> Template:
        return Template("sign_in.html", context={"error": None, "email": ""})

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any]) -> Response[Any]:
        same_origin(request)
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
            if r.status_code != 200:
                message = r.json().get("message", "Sign-in failed") if r.content else "Sign-in failed"
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
        return Redirect(
            "/ops/",
            cookies=[
                Cookie(
                    key=COOKIE,
                    value=body["access_token"],
                    path="/ops",
                    max_age=int(body["expires_in"]),
                    httponly=True,
                    secure=True,
                    samesite="strict",
                )
            ],
        )

    @post("/sign-out")
    async def sign_out(self, request: Request[Any, Any, Any]) -> Response[Any]:
        same_origin(request)
        identity = identity_of(request)
        if identity is not None:
            settings = request.app.state.settings
            async with httpx.AsyncClient(timeout=10) as client:
                await client.post(
                    f"{settings.auth_url}/api/v1/auth/sign-out", headers=sign(identity, settings.identity_secret)
                )
        return Redirect("/ops/sign-in", cookies=[Cookie(key=COOKIE, value="", path="/ops", max_age=0)])

    # ------------------------------------------------------------------ pages

    @get("/")
    async def index(self, request: Request[Any, Any, Any]) -> Template:
        identity = admin(request)
        f, given = _filter_from(request.query_params)
        offset = max(0, int(request.query_params.get("offset") or 0))
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
                "jobs": [j for j in await replays.page(5) if j["status"] in ("queued", "running")],
                "notice": request.query_params.get("notice"),
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
        same_origin(request)
        form = await request.form()
        f, given = _selection(form)
        store, replays, audit = state(request)
        if form.get("dry_run"):
            count = await store.count(f, replayable=True)
            await audit.append(actor(identity), "replay_dry_run", {"filter": msgspec.to_builtins(f)}, count)
            notice = f"Dry run: {count} dead letter(s) would be replayed"
            return Redirect(f"/ops/?{urlencode({**given, 'notice': notice})}")
        try:
            rate = int(str(form.get("rate_per_s") or request.app.state.settings.replay_rate))
        except ValueError:
            rate = request.app.state.settings.replay_rate
        await replays.create(f, max(1, rate), actor(identity))
        return Redirect("/ops/replays")

    @post("/actions/discard")
    async def discard(self, request: Request[Any, Any, Any]) -> Response[Any]:
        identity = admin(request)
        same_origin(request)
        form = await request.form()
        f, given = _selection(form)
        if f.is_empty():
            return Redirect(f"/ops/?{urlencode({**given, 'notice': 'Select dead letters or filter first'})}")
        store, _, _ = state(request)
        count = await store.discard(f, actor(identity))
        return Redirect(f"/ops/?{urlencode({**given, 'notice': f'{count} dead letter(s) discarded'})}")

    @post("/replays/{job_id:uuid}/{action:str}")
    async def move(self, request: Request[Any, Any, Any], job_id: uuid.UUID, action: str) -> Response[Any]:
        identity = admin(request)
        same_origin(request)
        _, replays, _ = state(request)
        if action not in ("cancel", "resume"):
            return Response("Unknown action", status_code=404)
        with contextlib.suppress(JobNotFound, JobStateError):  # the page shows the job as it is
            await (replays.cancel if action == "cancel" else replays.resume)(job_id, actor(identity))
        return Redirect("/ops/replays")
