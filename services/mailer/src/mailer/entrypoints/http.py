"""The mailer's ops API: the mail log, admins only."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import Parameter

from blazing_service import require_admin, success
from blazing_service.pagination import Limit, Offset, page
from blazing_service.state import StateKey
from mailer.application.queries import MailLogQueries

queries = StateKey[MailLogQueries]("queries")


class MailLogController(Controller):
    path = "/ops/api/mail-log"
    guards = [require_admin]
    tags = ["mail log"]

    @get("/", summary="List sent and failed e-mails (admins only)")
    async def list_mail(
        self,
        request: Request[Any, Any, Any],
        limit: Limit = 50,
        offset: Offset = 0,
        status: Annotated[str | None, Parameter(pattern="^(pending|sent|retrying|failed|uncertain)$")] = None,
        to_email: Annotated[str | None, Parameter(max_length=100)] = None,
    ) -> Any:
        entries, total = await queries(request).list(limit=limit, offset=offset, status=status, to_email=to_email)
        return success("Mail log", **page(entries, total, limit, offset))
