"""The web pages' settings: the shared service settings plus where the APIs answer."""

from __future__ import annotations

from collections.abc import Mapping

from blazing_service import Env, ServiceSettings

PORT = 8007


class WebSettings(ServiceSettings, frozen=True, kw_only=True):
    auth_url: str = "http://127.0.0.1:8002"
    users_url: str = "http://127.0.0.1:8001"
    ledger_url: str = "http://127.0.0.1:8003"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        e = Env(env)
        return cls.from_env(
            "web",
            PORT,
            env,
            auth_url=e.service_url("AUTH", 8002),
            users_url=e.service_url("USERS", 8001),
            ledger_url=e.service_url("LEDGER", 8003),
        )


def load(env: Mapping[str, str] | None = None) -> WebSettings:
    return WebSettings.load(env)
