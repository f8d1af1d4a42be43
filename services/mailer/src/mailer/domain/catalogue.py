"""Every e-mail the system sends: its subject, the variables its sender must supply, and the links
it carries (absolute, built from PUBLIC_BASE_URL). Pure data and functions."""

from __future__ import annotations

from urllib.parse import urlencode

import msgspec


class TemplateSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    subject: str
    required: tuple[str, ...]
    links: dict[str, tuple[str, tuple[str, ...]]] = {}
    """link variable → (path, variables passed as query parameters)."""


class MissingVariablesError(ValueError):
    def __init__(self, template: str, missing: list[str]) -> None:
        self.template, self.missing = template, missing
        super().__init__(f"template {template!r} is missing variable(s): {', '.join(missing)}")


class UnknownTemplateError(ValueError):
    pass


APP_NAME = "Blazing Sun"

CATALOGUE: dict[str, TemplateSpec] = {
    spec.name: spec
    for spec in (
        TemplateSpec(
            name="welcome",
            subject=f"Welcome to {APP_NAME}!",
            required=("first_name",),
            links={"sign_in_url": ("/sign-in", ())},
        ),
        TemplateSpec(
            name="account_activation",
            subject=f"Activate your {APP_NAME} account",
            required=("first_name", "activation_code", "expires_in_minutes"),
            links={"activation_url": ("/activate", ("activation_code",))},
        ),
        TemplateSpec(
            name="account_exists",
            subject=f"You already have a {APP_NAME} account",
            required=("first_name",),
            links={"sign_in_url": ("/sign-in", ()), "forgot_password_url": ("/forgot-password", ())},
        ),
        TemplateSpec(
            name="forgot_password",
            subject="Reset your password",
            required=("first_name", "reset_code", "expires_in_minutes"),
            links={"reset_url": ("/reset-password", ("reset_code",))},
        ),
        TemplateSpec(
            name="user_must_set_password",
            subject="Set up your password",
            required=("first_name", "user_id", "code", "expires_in_hours"),
            links={"set_password_url": ("/set-password", ("user_id", "code"))},
        ),
        TemplateSpec(
            name="password_change",
            subject="Password change request",
            required=("first_name", "change_code", "expires_in_minutes"),
            links={"change_url": ("/password/verify", ("change_code",))},
        ),
        TemplateSpec(
            name="activation_success",
            subject="Your account is activated",
            required=("first_name",),
            links={"sign_in_url": ("/sign-in", ())},
        ),
        TemplateSpec(
            name="password_reset_success",
            subject="Your password was changed",
            required=("first_name",),
            links={"sign_in_url": ("/sign-in", ()), "forgot_password_url": ("/forgot-password", ())},
        ),
        TemplateSpec(
            name="account_locked",
            subject=f"Your {APP_NAME} account is locked for a while",
            required=("first_name", "locked_until"),
            links={"forgot_password_url": ("/forgot-password", ())},
        ),
    )
}


def spec_of(template: str) -> TemplateSpec:
    try:
        return CATALOGUE[template]
    except KeyError:
        raise UnknownTemplateError(f"unknown template {template!r}") from None


def check_variables(spec: TemplateSpec, variables: dict[str, str]) -> None:
    missing = [v for v in spec.required if not variables.get(v)]
    if missing:
        raise MissingVariablesError(spec.name, missing)


def build_links(spec: TemplateSpec, variables: dict[str, str], base_url: str) -> dict[str, str]:
    links = {}
    for name, (path, params) in spec.links.items():
        query = urlencode({("code" if p.endswith("code") else p): variables[p] for p in params})
        links[name] = f"{base_url.rstrip('/')}{path}" + (f"?{query}" if query else "")
    return links
