"""Rendering an e-mail: the catalogue says what a template needs and which links it carries; the
templates (a port) make the plain-text and autoescaped HTML parts — strictly: a variable the
template uses but nobody supplied is an error, never a blank."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from mailer.application.ports import RenderError, Templates
from mailer.domain.catalogue import APP_NAME, build_links, check_variables, spec_of


class RenderedEmail(msgspec.Struct, frozen=True, kw_only=True):
    subject: str
    text: str
    html: str


class Renderer:
    def __init__(
        self, templates: Templates, base_url: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._templates = templates
        self._base_url = base_url
        self._now = now

    def render(self, template: str, to_email: str, to_name: str, variables: dict[str, str]) -> RenderedEmail:
        try:
            spec = spec_of(template)
            check_variables(spec, variables)
            links = build_links(spec, variables, self._base_url)
        except ValueError as exc:  # an unknown template, a variable missing
            raise RenderError(str(exc)) from exc
        context = {
            **variables,
            **links,
            "app_name": APP_NAME,
            "base_url": self._base_url,
            "email": to_email,
            "to_name": to_name,
            "year": self._now().year,
        }
        text, html = self._templates.render(template, context)
        return RenderedEmail(subject=spec.subject, text=text, html=html)
