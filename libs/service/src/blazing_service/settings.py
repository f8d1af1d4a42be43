"""Settings every service shares, read once from the environment into a frozen object."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self, get_type_hints
from urllib.parse import urlsplit

import msgspec


class SettingsError(ValueError):
    """A required variable is missing or malformed; the service refuses to start."""


class Env:
    """Typed access to an environment mapping with clear errors."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if env is None else env

    def text(self, name: str, default: str | None = None) -> str:
        value = self._env.get(name, default)
        if value is None:
            raise SettingsError(f"{name} is required")
        return value

    def optional(self, name: str) -> str | None:
        value = self._env.get(name)
        return value or None

    def integer(self, name: str, default: int) -> int:
        raw = self._env.get(name)
        if raw in (None, ""):
            return default
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None

    def number(self, name: str, default: float) -> float:
        raw = self._env.get(name)
        if raw in (None, ""):
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise SettingsError(f"{name} must be a finite number, got {raw!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._env.get(name)
        if raw in (None, ""):
            return default
        return raw.strip().lower() in {"1", "true", "yes", "on"}

    def service_url(self, name: str, default_port: int) -> str:
        """Another service's own address (not the public one): ``<NAME>_URL``, else loopback at
        ``<NAME>_PORT`` — the port the local stack runs it on."""
        return self.text(f"{name}_URL", f"http://127.0.0.1:{self.integer(f'{name}_PORT', default_port)}").rstrip("/")


@dataclass(frozen=True)
class Var:
    """A service's own setting read from the variable ``name``, by the field's type, the field's
    default when unset: ``replay_rate: Annotated[int, Var("OPS_REPLAY_RATE")] = 500``."""

    name: str

    def read(self, e: Env, kind: Any, default: Any) -> Any:
        if default is None:
            return e.optional(self.name)
        if kind is bool:
            return e.flag(self.name, default)
        if kind is int:
            return e.integer(self.name, default)
        if kind is float:
            return e.number(self.name, default)
        return e.text(self.name, default)


@dataclass(frozen=True)
class ServiceUrl:
    """Another service's own address (``Env.service_url``), at the field default's port unless
    ``<name>_PORT`` says otherwise: ``auth_url: Annotated[str, ServiceUrl("AUTH")] = "http://127.0.0.1:8002"``."""

    name: str

    def read(self, e: Env, kind: Any, default: Any) -> Any:
        port = urlsplit(default).port
        if port is None:
            raise SettingsError(f"the default of {self.name}_URL names no port: {default!r}")
        return e.service_url(self.name, port)


PRODUCTION = "production"
MIN_SECRET_LENGTH = 16
_PLACEHOLDER = re.compile(
    r"change[_-]?me|changeit|placeholder|example|dev[_-]?only|_dev_|dev_password|^dev\b|secret_password"
    r"|^(guest|admin|password|secret|app|test|default)$",
    re.IGNORECASE,
)


def placeholder_secrets(env: Mapping[str, str]) -> list[str]:
    """The secrets in ``env`` that are empty, short or a committed placeholder (with APP_ENV=production
    a service refuses to start on any of them). Database passwords are read from every *_DATABASE_URL."""
    secrets: dict[str, str | None] = {"GATEWAY_IDENTITY_SECRET": env.get("GATEWAY_IDENTITY_SECRET")}
    secrets |= {
        name: env[name]
        for name in ("REDIS_PASSWORD", "RABBITMQ_PASSWORD", "POSTGRES_PASSWORD", "MAIL_PASSWORD")
        if name in env and (name != "MAIL_PASSWORD" or env.get("MAIL_USERNAME"))
    }
    for name, value in env.items():
        if name == "DATABASE_URL" or name.endswith("_DATABASE_URL"):
            secrets[f"{name} (password)"] = urlsplit(value).password
    return sorted(
        name
        for name, value in secrets.items()
        if not value or len(value) < MIN_SECRET_LENGTH or _PLACEHOLDER.search(value)
    )


class ServiceSettings(msgspec.Struct, frozen=True, kw_only=True):
    service: str
    app_env: str = "development"
    host: str = "127.0.0.1"
    port: int
    log_level: str = "INFO"
    database_url: str | None = None
    kafka_bootstrap: str = "127.0.0.1:9092"
    rabbitmq_url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    rabbitmq_queue_type: str = "classic"
    """classic or quorum: how the job queues are declared (the definitions loaded into the broker
    must say the same; blazing_contracts.topology.QUEUE_TYPES)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    identity_secret: str
    """Shared with the gateway only: services trust identity headers signed with it."""
    public_base_url: str = "https://localhost"
    max_body_bytes: int = 1_048_576
    system_events: bool = True
    """Publish service_started / stopped, health checks and error / warning logs to system.events."""
    health_event_seconds: float = 30.0
    """How often the service publishes a system.health_check."""
    drain_seconds: float = 0.0
    """DRAIN_SECONDS: on SIGTERM, drain this long before stopping (blazing_service.serve) — for an
    orchestrator that stops an instance without draining it first (Docker Swarm); 0: stop at once."""

    @classmethod
    def from_env(cls, service: str, default_port: int, env: Mapping[str, str] | None = None, **fields: Any) -> Self:
        """The shared settings from ``env`` (the process environment by default), with a service's
        own ``fields`` when ``cls`` is its subclass."""
        e = Env(env)
        app_env = e.text("APP_ENV", "development").strip().lower()
        if app_env == PRODUCTION and (weak := placeholder_secrets(os.environ if env is None else env)):
            raise SettingsError(
                f"APP_ENV=production: refusing to start {service} with a default, placeholder or short "
                f"(< {MIN_SECRET_LENGTH} characters) secret in: {', '.join(weak)}"
            )
        vhost = e.text("RABBITMQ_VHOST", "/").replace("/", "%2F")
        return cls(
            service=service,
            app_env=app_env,
            host=e.text("SERVICE_HOST", "127.0.0.1"),
            port=e.integer("SERVICE_PORT", default_port),
            log_level=e.text("LOG_LEVEL", "INFO"),
            database_url=e.optional("DATABASE_URL"),
            # KAFKA_BOOTSTRAP_SERVERS: several brokers (host:port,host:port); else KAFKA_HOST:KAFKA_PORT
            kafka_bootstrap=e.text("KAFKA_BOOTSTRAP_SERVERS", "")
            or f"{e.text('KAFKA_HOST', '127.0.0.1')}:{e.text('KAFKA_PORT', '9092')}",
            rabbitmq_url=(
                f"amqp://{e.text('RABBITMQ_USER', 'guest')}:{e.text('RABBITMQ_PASSWORD', 'guest')}"
                f"@{e.text('RABBITMQ_HOST', '127.0.0.1')}:{e.text('RABBITMQ_PORT', '5672')}/{vhost}"
            ),
            rabbitmq_queue_type=e.text("RABBITMQ_QUEUE_TYPE", "classic"),
            redis_url=(
                f"redis://{e.text('REDIS_USER', 'default')}:{e.text('REDIS_PASSWORD', '')}"
                f"@{e.text('REDIS_HOST', '127.0.0.1')}:{e.text('REDIS_PORT', '6379')}"
                f"/{e.text('REDIS_DB', '0')}"
            ),
            identity_secret=e.text("GATEWAY_IDENTITY_SECRET"),
            public_base_url=e.text("PUBLIC_BASE_URL", "https://localhost").rstrip("/"),
            max_body_bytes=e.integer("MAX_BODY_BYTES", 1_048_576),
            system_events=e.flag("SYSTEM_EVENTS", True),
            health_event_seconds=e.number("SYSTEM_HEALTH_INTERVAL_SECONDS", 30.0),
            drain_seconds=max(0.0, e.number("DRAIN_SECONDS", 0.0)),
            **{**cls.declared(e), **fields},
        )

    @classmethod
    def declared(cls, e: Env) -> dict[str, Any]:
        """The fields of ``cls`` marked ``Var`` or ``ServiceUrl``, read from ``e``."""
        hints = get_type_hints(cls, include_extras=True)
        return {
            field.name: mark.read(e, hints[field.name].__origin__, field.default)
            for field in msgspec.structs.fields(cls)
            for mark in getattr(hints[field.name], "__metadata__", ())
            if isinstance(mark, Var | ServiceUrl)
        }
