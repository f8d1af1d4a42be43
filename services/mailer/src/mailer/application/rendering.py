"""Rendering an e-mail: subject, plain-text part and autoescaped HTML part, strictly (a variable
the template uses but nobody supplied is an error, never a blank)."""

from __future__ import annotations

from datetime import UTC, datetime

import jinja2
import msgspec

from mailer.domain.catalogue import APP_NAME, build_links, check_variables, spec_of


class RenderError(Exception):
    """The e-mail cannot be rendered from what the job carries (a permanent failure)."""


class RenderedEmail(msgspec.Struct, frozen=True, kw_only=True):
    subject: str
    text: str
    html: str


class Renderer:
    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("mailer", "templates"),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, template: str, to_email: str, to_name: str, variables: dict[str, str]) -> RenderedEmail:
        try:
            spec = spec_of(template)
            check_variables(spec, variables)
            context = {
                **variables,
                **build_links(spec, variables, self._base_url),
                "app_name": APP_NAME,
                "base_url": self._base_url,
                "email": to_email,
                "to_name": to_name,
                "year": datetime.now(UTC).year,
            }
            return RenderedEmail(
                subject=spec.subject,
                text=self._env.get_template(f"{template}.txt").render(context),
                html=self._env.get_template(f"{template}.html").render(context),
            )
        except (ValueError, jinja2.TemplateError) as exc:
            raise RenderError(str(exc)) from exc
