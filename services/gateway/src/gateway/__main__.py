"""``python -m gateway``: serve the gateway on SERVICE_HOST:SERVICE_PORT."""

from __future__ import annotations

import uvicorn

from gateway.app import create_app
from gateway.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
    )


if __name__ == "__main__":
    main()
