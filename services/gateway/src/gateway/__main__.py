"""``python -m gateway``: serve the gateway on SERVICE_HOST:SERVICE_PORT (APP_PORT, 9999)."""

from blazing_service.serve import serve
from gateway import settings
from gateway.bootstrap import build_app
from gateway.entrypoints.protocol import JsonErrorsProtocol


def main() -> None:
    config = settings.load()
    serve(build_app(config), config, http=JsonErrorsProtocol)


if __name__ == "__main__":
    main()
