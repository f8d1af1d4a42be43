"""Which service answers which public path (SPEC §1), and which paths are rate limited strictly."""

from __future__ import annotations

ROUTES: tuple[tuple[str, str], ...] = (
    ("/api/v1/auth/", "auth"),
    ("/api/v1/account/", "auth"),
    ("/api/v1/password/", "auth"),
    ("/.well-known/jwks.json", "auth"),
    ("/api/v1/user", "users"),
    ("/api/v1/admin/users", "users"),
    ("/api/v1/categories", "ledger"),
    ("/api/v1/transactions", "ledger"),
    ("/api/v1/balance", "ledger"),
    ("/api/v1/reports/", "ledger"),
    ("/api/v1/upload", "files"),
    ("/api/v1/avatar", "files"),
    ("/ops/", "ops"),
)

STRICT = (
    "/api/v1/auth/sign-in",
    "/api/v1/auth/sign-up",
    "/api/v1/account/forgot-password",
    "/api/v1/account/activate-account",
    "/api/v1/account/resend-activation",
    "/ops/sign-in",
)


def upstream_of(path: str) -> str | None:
    for prefix, service in ROUTES:
        base = prefix.rstrip("/")
        if path == base or path.startswith(base + "/"):
            return service
    return None


def is_strict(path: str) -> bool:
    return path.rstrip("/") in STRICT
