"""Auth settings: the shared service settings plus tokens, codes, throttling and hashing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec

from blazing_service import Env, ServiceSettings, Var

PORT = 8002
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


class AuthSettings(ServiceSettings, frozen=True, kw_only=True):
    jwt_issuer: str = "https://localhost"
    jwt_audience: Annotated[str, Var("JWT_AUDIENCE")] = "blazing-sun"
    access_ttl_seconds: Annotated[int, Var("ACCESS_TOKEN_TTL_SECONDS")] = 900
    refresh_ttl_seconds: Annotated[int, Var("REFRESH_TOKEN_TTL_SECONDS")] = 30 * 24 * 3600
    key_rotation_days: int = 30
    lock_threshold: Annotated[int, Var("AUTH_LOCK_THRESHOLD")] = 5
    lock_window_seconds: Annotated[int, Var("AUTH_LOCK_WINDOW_SECONDS")] = 900
    lock_seconds: Annotated[int, Var("AUTH_LOCK_SECONDS")] = 900
    failed_per_ip_limit: Annotated[int, Var("AUTH_FAILED_PER_IP_LIMIT")] = 50
    """Failed sign-ins one client may make per lock window before getting 429."""
    code_minutes: dict[str, int] = msgspec.field(
        default_factory=lambda: {
            "activation": 60,
            "forgot_password": 60,
            "must_set_password": 1440,
            "password_change": 15,
        }
    )
    create_user_wait_seconds: Annotated[float, Var("AUTH_CREATE_USER_WAIT_SECONDS")] = 5.0
    mails_per_address_per_hour: Annotated[int, Var("AUTH_MAILS_PER_ADDRESS_PER_HOUR")] = 5
    """Account mails (reset, activation resend, "already registered") one address may get per hour."""
    argon2_memory_kib: int = 19_456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> AuthSettings:
        e = Env(env)
        settings = cls.from_env(
            "auth",
            PORT,
            env,
            code_minutes={
                "activation": e.integer("EXPIRY_ACCOUNT_ACTIVATION", 60),
                "forgot_password": e.integer("EXPIRY_FORGOT_PASSWORD", 60),
                "must_set_password": e.integer("EXPIRY_USER_MUST_SET_PASSWORD", 1440),
                "password_change": e.integer("EXPIRY_PASSWORD_CHANGE", 15),
            },
        )
        return msgspec.structs.replace(settings, jwt_issuer=e.text("JWT_ISSUER", settings.public_base_url))


def load(env: Mapping[str, str] | None = None) -> AuthSettings:
    return AuthSettings.load(env)
