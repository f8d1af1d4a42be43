"""The console's session cookie and which paths are the console's pages (not its JSON API)."""

from __future__ import annotations

from blazing_service.pages import PageSession

CONSOLE_SESSION = PageSession("bs_ops", "/ops")
API_PREFIX = "/ops/api"


def is_console_page(path: str) -> bool:
    """The console's pages answer HTML (errors included); /ops/api and the service's own endpoints
    (/health, /metrics …) answer JSON."""
    under_api = path == API_PREFIX or path.startswith(API_PREFIX + "/")
    return (path == "/ops" or path.startswith("/ops/")) and not under_api
