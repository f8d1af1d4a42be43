"""The routing table: every public prefix to its service, nothing else."""

from __future__ import annotations

import pytest

from blazing_testing.services import service
from gateway.domain.routes import is_strict, upstream_of
from gateway.settings import GatewaySettings


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/auth/sign-in", "auth"),
        ("/api/v1/account/activate-account", "auth"),
        ("/api/v1/password/change-password", "auth"),
        ("/.well-known/jwks.json", "auth"),
        ("/api/v1/user", "users"),
        ("/api/v1/user/6a1f1c9b-7a10-4d0b-9f55-6f1c1d3e8a8e", "users"),
        ("/api/v1/admin/users", "users"),
        ("/api/v1/admin/users/x/permissions", "users"),
        ("/api/v1/categories", "ledger"),
        ("/api/v1/transactions/1", "ledger"),
        ("/api/v1/balance", "ledger"),
        ("/api/v1/reports/monthly", "ledger"),
        ("/api/v1/upload/public", "files"),
        ("/api/v1/avatar", "files"),
        ("/ops/api/dead-letters", "ops"),
        ("/", "web"),
        ("/sign-in", "web"),
        ("/transactions/6a1f1c9b-7a10-4d0b-9f55-6f1c1d3e8a8e/edit", "web"),
        ("/static/app.css", "web"),
    ],
)
def test_each_prefix_goes_to_its_service(path: str, service: str) -> None:
    assert upstream_of(path) == service


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/userx", "/api/v2/user", "/internal", "/api/v1/"])
def test_other_paths_go_nowhere(path: str) -> None:
    assert upstream_of(path) is None


def test_strict_paths() -> None:
    assert is_strict("/api/v1/auth/sign-in")
    assert is_strict("/api/v1/account/forgot-password")
    assert not is_strict("/api/v1/user")
    assert is_strict("/sign-in", "POST")
    assert not is_strict("/sign-in", "GET"), "viewing a form is not an attempt"
    assert is_strict("/ops/sign-in", "POST")
    assert is_strict("/ops/sign-in/", "POST")
    assert not is_strict("/ops/sign-in", "GET"), "the console's form either (black-box review)"
    assert not is_strict("/ops/sign-in", "HEAD")


def test_settings_from_environment() -> None:
    s = GatewaySettings.load(
        {
            "GATEWAY_IDENTITY_SECRET": "s",
            "AUTH_PORT": "9002",
            "GATEWAY_STRICT_RATE_LIMIT": "3",
            "GATEWAY_CORS_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert s.instances["auth"] == ["http://127.0.0.1:9002"]
    assert s.strict_rate_limit == 3
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.port == service("gateway").port
