"""The e-mails' Jinja templates (``mailer/templates``: ``<name>.txt`` and ``<name>.html``): the HTML
part autoescaped, the plain-text part not; a variable a template uses but the context lacks is an
error (StrictUndefined), never a blank."""

from __future__ import annotations

from collections.abc import Mapping

import jinja2

from mailer.application.ports import RenderError


class JinjaTemplates:
    def __init__(self) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.PackageLoader("mailer", "templates"),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, template: str, context: Mapping[str, object]) -> tuple[str, str]:
        try:
            return (
                self._env.get_template(f"{template}.txt").render(context),
                self._env.get_template(f"{template}.html").render(context),
            )
        except jinja2.TemplateError as exc:
            raise RenderError(str(exc)) from exc
