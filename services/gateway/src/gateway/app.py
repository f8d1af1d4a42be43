"""The gateway's Litestar application (routing to the services arrives with the edge issue)."""

from __future__ import annotations

from litestar import Litestar, get

from gateway.settings import Settings


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "success", "message": "gateway is alive"}


def create_app(settings: Settings) -> Litestar:
    return Litestar(route_handlers=[health], debug=False)
