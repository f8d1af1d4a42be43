"""The catalogue of e-mails (domain): each template's required variables and links, pure."""

from __future__ import annotations

import pytest

from mailer.domain.catalogue import (
    CATALOGUE,
    MissingVariablesError,
    UnknownTemplateError,
    build_links,
    check_variables,
    spec_of,
)


def test_given_every_required_variable_when_checked_then_nothing_is_missing() -> None:
    for spec in CATALOGUE.values():
        check_variables(spec, dict.fromkeys(spec.required, "x"))


@pytest.mark.parametrize("template", sorted(CATALOGUE))
def test_given_a_required_variable_empty_or_absent_when_checked_then_it_is_named(template: str) -> None:
    spec = CATALOGUE[template]
    variables = dict.fromkeys(spec.required, "x")
    variables[spec.required[0]] = ""
    with pytest.raises(MissingVariablesError) as missing:
        check_variables(spec, variables)
    assert missing.value.missing == [spec.required[0]]
    del variables[spec.required[0]]
    with pytest.raises(MissingVariablesError, match=f"missing variable\\(s\\): {spec.required[0]}"):
        check_variables(spec, variables)


def test_given_an_unknown_template_when_looked_up_then_it_is_refused() -> None:
    with pytest.raises(UnknownTemplateError, match="unknown template 'newsletter'"):
        spec_of("newsletter")


def test_given_codes_when_links_are_built_then_they_are_absolute_with_the_code_as_query() -> None:
    links = build_links(
        spec_of("user_must_set_password"), {"user_id": "u-1", "code": "S&1"}, "https://money.example.org/"
    )
    assert links == {"set_password_url": "https://money.example.org/set-password?user_id=u-1&code=S%261"}
    links = build_links(spec_of("forgot_password"), {"reset_code": "R1"}, "https://money.example.org")
    assert links == {"reset_url": "https://money.example.org/reset-password?code=R1"}
    assert build_links(spec_of("welcome"), {}, "https://m.example") == {"sign_in_url": "https://m.example/sign-in"}
