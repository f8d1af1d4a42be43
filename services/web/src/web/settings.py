"""The web pages' settings: the shared service settings plus where the APIs answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from blazing_service import ServiceSettings, ServiceUrl

PORT = 8007


class WebSettings(ServiceSettings, frozen=True, kw_only=True):
    auth_url: Annotated[str, ServiceUrl("AUTH")] = "http://127.0.0.1:8002"
    users_url: Annotated[str, ServiceUrl("USERS")] = "http://127.0.0.1:8001"
    ledger_url: Annotated[str, ServiceUrl("LEDGER")] = "http://127.0.0.1:8003"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        return cls.from_env("web", PORT, env)


def load(env: Mapping[str, str] | None = None) -> WebSettings:
    return WebSettings.load(env)
