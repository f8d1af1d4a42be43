"""Gateway settings: the shared service settings plus upstreams, limits and CORS."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from blazing_service import Env, ServiceSettings
from blazing_service.instances import instance_urls

PORT = 9999
DEFAULT_PORTS = {
    "users": 8001,
    "auth": 8002,
    "ledger": 8003,
    "mailer": 8004,
    "files": 8005,
    "ops": 8006,
    "web": 8007,
}


class GatewaySettings(ServiceSettings, frozen=True, kw_only=True):
    instances: dict[str, list[str]] = msgspec.field(default_factory=dict)
    """Each service's instances: its URL setting, comma-separated (adapters/upstreams.py)."""
    rate_limit: int = 1200
    strict_rate_limit: int = 20
    rate_window_seconds: int = 60
    cors_origins: list[str] = msgspec.field(default_factory=list)
    upstream_timeout: float = 10.0
    jwt_issuer: str = "https://localhost"
    jwt_audience: str = "blazing-sun"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        e = Env(env)
        base = ServiceSettings.from_env("gateway", PORT, env)
        instances = {
            name: instance_urls(
                e.text(f"{name.upper()}_URL", f"http://127.0.0.1:{e.integer(f'{name.upper()}_PORT', port)}")
            )
            for name, port in DEFAULT_PORTS.items()
        }
        return cls(
            **{
                **msgspec.structs.asdict(base),
                "max_body_bytes": e.integer("UPLOAD_MAX_FILE_SIZE", 104_857_600) + 1_048_576,
            },
            instances=instances,
            rate_limit=e.integer("GATEWAY_RATE_LIMIT", 1200),
            strict_rate_limit=e.integer("GATEWAY_STRICT_RATE_LIMIT", 20),
            rate_window_seconds=e.integer("GATEWAY_RATE_WINDOW_SECONDS", 60),
            cors_origins=[o.strip() for o in e.text("GATEWAY_CORS_ORIGINS", "").split(",") if o.strip()],
            upstream_timeout=e.number("GATEWAY_UPSTREAM_TIMEOUT_SECONDS", 10.0),
            jwt_issuer=e.text("JWT_ISSUER", base.public_base_url),
            jwt_audience=e.text("JWT_AUDIENCE", "blazing-sun"),
        )


def load(env: Mapping[str, str] | None = None) -> GatewaySettings:
    return GatewaySettings.load(env)
