"""Every template renders with both parts, its subject, absolute links and no placeholder left."""

from __future__ import annotations

import re

import pytest

from mailer.adapters.templates import JinjaTemplates
from mailer.application.ports import RenderError
from mailer.application.rendering import Renderer
from mailer.domain.catalogue import CATALOGUE

BASE = "https://money.example.org"


def variables_for(template: str) -> dict[str, str]:
    values = {
        "first_name": "Ada",
        "activation_code": "A" * 40,
        "reset_code": "R" * 40,
        "change_code": "C" * 40,
        "code": "S" * 40,
        "user_id": "6a1f1c9b-7a10-4d0b-9f55-6f1c1d3e8a8e",
        "expires_in_minutes": "60",
        "expires_in_hours": "24",
        "locked_until": "2026-11-29 15:30 UTC",
    }
    return {k: values[k] for k in CATALOGUE[template].required}


@pytest.mark.parametrize("template", sorted(CATALOGUE))
def test_template_renders_completely(template: str) -> None:
    email = Renderer(JinjaTemplates(), BASE).render(template, "ada@example.org", "Ada", variables_for(template))
    assert email.subject == CATALOGUE[template].subject
    assert "Blazing Sun" in email.html
    assert "Hello Ada" in email.text
    for part in (email.text, email.html):
        assert "{{" not in part
        assert "{%" not in part
        assert "ada@example.org" in part
    for name, (path, _params) in CATALOGUE[template].links.items():
        links = re.findall(rf'{re.escape(BASE + path)}[^"\s<]*', email.text)
        assert links, f"{name} missing from the text part"
        assert all(link.startswith("https://") for link in links)
        assert BASE + path in email.html


def test_links_carry_the_codes() -> None:
    email = Renderer(JinjaTemplates(), BASE).render(
        "account_activation", "a@b.co", "Ada", variables_for("account_activation")
    )
    assert f"{BASE}/activate?code={'A' * 40}" in email.text
    email = Renderer(JinjaTemplates(), BASE).render(
        "user_must_set_password", "a@b.co", "Ada", variables_for("user_must_set_password")
    )
    assert f"{BASE}/set-password?user_id=6a1f1c9b-7a10-4d0b-9f55-6f1c1d3e8a8e&code={'S' * 40}" in email.text


def test_html_is_autoescaped_and_text_is_not_html() -> None:
    email = Renderer(JinjaTemplates(), BASE).render("welcome", "a@b.co", "Bob", {"first_name": "<script>x</script>"})
    assert "<script>x</script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "<p>" not in email.text


@pytest.mark.parametrize("template", sorted(t for t in CATALOGUE if len(CATALOGUE[t].required) > 1))
def test_missing_variable_is_a_render_error(template: str) -> None:
    variables = variables_for(template)
    dropped = CATALOGUE[template].required[-1]
    del variables[dropped]
    with pytest.raises(RenderError, match=dropped):
        Renderer(JinjaTemplates(), BASE).render(template, "a@b.co", "Ada", variables)


def test_unknown_template_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="unknown template"):
        Renderer(JinjaTemplates(), BASE).render("newsletter", "a@b.co", "Ada", {})
