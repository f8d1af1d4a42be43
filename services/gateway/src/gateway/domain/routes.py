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
    # the web pages (SPEC §4.5)
    ("/sign-up", "web"),
    ("/sign-in", "web"),
    ("/sign-out", "web"),
    ("/activate", "web"),
    ("/forgot-password", "web"),
    ("/reset-password", "web"),
    ("/set-password", "web"),  # the e-mailed link of an admin-created user
    ("/password/", "web"),  # the e-mailed password change link (/password/verify)
    ("/profile", "web"),
    ("/balance", "web"),
    ("/categories", "web"),
    ("/transactions", "web"),
    ("/static/", "web"),
)
WEB_PAGES = tuple(prefix for prefix, service in ROUTES if service == "web")

CONSOLE = "/ops"
CONSOLE_API = "/ops/api"

STRICT = (
    "/api/v1/auth/sign-in",
    "/api/v1/auth/sign-up",
    "/api/v1/account/forgot-password",
    "/api/v1/account/activate-account",
    "/api/v1/account/resend-activation",
)
STRICT_PAGES = ("/sign-in", "/sign-up", "/activate", "/forgot-password", "/reset-password", "/ops/sign-in")
"""Page paths limited strictly when posted to (viewing the form is not an attempt: every console
page a signed-out browser opens sends it to /ops/sign-in, and those views used up the address's
strict allowance, shared with the API's sign-ins)."""


def route_of(path: str) -> tuple[str, str] | None:
    """(the route's prefix, the service answering it) for a public path, None for an unknown one."""
    if path == "/":
        return "/", "web"
    for prefix, service in ROUTES:
        base = prefix.rstrip("/")
        if path == base or path.startswith(base + "/"):
            return base, service
    return None


def upstream_of(path: str) -> str | None:
    route = route_of(path)
    return route[1] if route else None


def is_strict(path: str, method: str = "POST") -> bool:
    bare = path.rstrip("/")
    return bare in STRICT or (method == "POST" and bare in STRICT_PAGES)


def is_web_page(path: str) -> bool:
    return path == "/" or any(path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in WEB_PAGES)


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def is_console_page(path: str) -> bool:
    """The ops console's pages (not its JSON API under /ops/api)."""
    return _under(path, CONSOLE) and not _under(path, CONSOLE_API)


def is_page(path: str) -> bool:
    """A path a browser navigates to: a web page or a console page (errors may be HTML there);
    everything else is the API (errors are the one JSON shape)."""
    return is_web_page(path) or is_console_page(path)
