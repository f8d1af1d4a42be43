"""APP_ENV=production refuses to start on a default, placeholder or short secret and names it (issue
#17 item 9); development keeps working with the committed defaults."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import pytest

from blazing_service.settings import ServiceSettings, ServiceUrl, SettingsError, Var, placeholder_secrets
from blazing_testing import REPO_ROOT, stack_env

STRONG = "k9V2rQ7mX4pL8sT1wZ6yB3nH5jD0fGcA"
GOOD = {
    "GATEWAY_IDENTITY_SECRET": STRONG,
    "REDIS_PASSWORD": STRONG[::-1],
    "RABBITMQ_PASSWORD": "Zr8" + STRONG[5:],
    "DATABASE_URL": f"postgresql://users:{STRONG}@db:5432/users",
}


def test_strong_secrets_pass() -> None:
    assert placeholder_secrets(GOOD) == []
    settings = ServiceSettings.from_env("users", 8001, {**GOOD, "APP_ENV": "production"})
    assert settings.app_env == "production"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_IDENTITY_SECRET", "dev-only-gateway-identity-secret-change-me"),
        ("GATEWAY_IDENTITY_SECRET", "generate_a_long_random_secret_change_me"),
        ("GATEWAY_IDENTITY_SECRET", "sh0rt9"),
        ("GATEWAY_IDENTITY_SECRET", ""),
        ("REDIS_PASSWORD", "redis_secret_password"),
        ("RABBITMQ_PASSWORD", "guest"),
        ("DATABASE_URL", "postgresql://users:users_dev_password@127.0.0.1:5432/users"),
        ("DATABASE_URL", "postgresql://users@127.0.0.1:5432/users"),
    ],
)
def test_each_weak_secret_is_named(name: str, value: str) -> None:
    env = {**GOOD, name: value, "APP_ENV": "production"}
    with pytest.raises(SettingsError) as caught:
        ServiceSettings.from_env("users", 8001, env)
    assert name in str(caught.value)
    assert value not in str(caught.value) or not value, "the secret itself is never printed"


def test_missing_identity_secret_is_named_in_production() -> None:
    env = {k: v for k, v in GOOD.items() if k != "GATEWAY_IDENTITY_SECRET"}
    assert placeholder_secrets(env) == ["GATEWAY_IDENTITY_SECRET"]


def test_development_accepts_the_committed_defaults() -> None:
    env = dict(stack_env())
    assert placeholder_secrets(env), "the committed defaults are placeholders"
    assert ServiceSettings.from_env("users", 8001, env).app_env == "development"


SERVICES = ["gateway", "users", "auth", "ledger", "mailer", "files", "ops", "web"]


async def refused_start(service: str) -> tuple[int, str]:
    env = {**os.environ, **stack_env(), "APP_ENV": "production", "SERVICE_PORT": "1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        service,
        env=env,
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    return process.returncode or 0, stderr.decode()


@pytest.mark.slow
async def test_every_service_refuses_to_start_in_production_with_the_defaults() -> None:
    """All at once (eight interpreters importing their service take a few seconds together)."""
    secret = stack_env()["GATEWAY_IDENTITY_SECRET"]
    for service, (code, stderr) in zip(SERVICES, await asyncio.gather(*map(refused_start, SERVICES)), strict=True):
        assert code != 0, service
        assert "APP_ENV=production: refusing to start" in stderr, service
        assert "GATEWAY_IDENTITY_SECRET" in stderr, service
        assert secret not in stderr, service


class Own(ServiceSettings, frozen=True, kw_only=True):
    auth_url: Annotated[str, ServiceUrl("AUTH")] = "http://127.0.0.1:8002"
    rate: Annotated[int, Var("OWN_RATE")] = 500
    tls: Annotated[bool, Var("OWN_TLS")] = False
    wait: Annotated[float, Var("OWN_WAIT")] = 5.0
    user: Annotated[str | None, Var("OWN_USER")] = None
    name: Annotated[str, Var("OWN_NAME")] = "sun"
    fixed: int = 3


def test_a_services_own_settings_are_read_from_the_variables_they_declare() -> None:
    env = {"GATEWAY_IDENTITY_SECRET": STRONG}
    own = Own.from_env("own", 1, env)
    assert (own.auth_url, own.rate, own.tls, own.wait, own.user, own.name) == (
        "http://127.0.0.1:8002",
        500,
        False,
        5.0,
        None,
        "sun",
    )
    own = Own.from_env("own", 1, {**env, "AUTH_PORT": "9", "OWN_RATE": "7", "OWN_TLS": "yes", "OWN_WAIT": "0.5"})
    assert (own.auth_url, own.rate, own.tls, own.wait) == ("http://127.0.0.1:9", 7, True, 0.5)
    own = Own.from_env("own", 1, {**env, "AUTH_URL": "http://a/", "OWN_USER": "", "OWN_NAME": "x"})
    assert (own.auth_url, own.user, own.name) == ("http://a", None, "x")
    own = Own.from_env("own", 1, {**env, "OWN_USER": "u", "OWN_RATE": "7"}, rate=2)
    assert (own.user, own.rate) == ("u", 2)  # a field passed in wins
    with pytest.raises(SettingsError, match="OWN_RATE must be an integer"):
        Own.from_env("own", 1, {**env, "OWN_RATE": "fast"})


def test_drain_seconds_default_to_none_never_go_below_zero_and_must_be_a_number() -> None:
    env = {"GATEWAY_IDENTITY_SECRET": "x"}
    assert ServiceSettings.from_env("users", 8001, env).drain_seconds == 0.0
    assert ServiceSettings.from_env("users", 8001, {**env, "DRAIN_SECONDS": "12"}).drain_seconds == 12.0
    assert ServiceSettings.from_env("users", 8001, {**env, "DRAIN_SECONDS": "-3"}).drain_seconds == 0.0
    for bad in ("soon", "nan", "inf"):
        with pytest.raises(SettingsError, match=f"DRAIN_SECONDS must be a .*number, got '{bad}'"):
            ServiceSettings.from_env("users", 8001, {**env, "DRAIN_SECONDS": bad})
