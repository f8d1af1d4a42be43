"""Rendering an e-mail: the catalogue says what a template needs and which links it carries; the
templates (a port) make the plain-text and autoescaped HTML parts — strictly: a variable the
template uses but nobody supplied is an error, never a blank."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from mailer.application.ports import RenderError, Templates
from mailer.domain.catalogue import APP_NAME, build_links, check_variables, spec_of


class RenderedEmail(msgspec.Struct, frozen=True, kw_only=True):
    subject: str
    text: str
    html: str


@dataclass(eq=False)
class Renderer:
    templates: Templates
    base_url: str
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def render(self, template: str, to_email: str, to_name: str, variables: dict[str, str]) -> RenderedEmail:
        try:
            spec = spec_of(template)
            check_variables(spec, variables)
            links = build_links(spec, variables, self.base_url)
        except ValueError as exc:  # an unknown template, a variable missing
            raise RenderError(str(exc)) from exc
        context = {
            **variables,
            **links,
            "app_name": APP_NAME,
            "base_url": self.base_url,
            "email": to_email,
            "to_name": to_name,
            "year": self.now().year,
        }
        text, html = self.templates.render(template, context)
        return RenderedEmail(subject=spec.subject, text=text, html=html)
