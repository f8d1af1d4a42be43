"""``python -m gateway``: serve the gateway on SERVICE_HOST:SERVICE_PORT (APP_PORT, 9999)."""

from blazing_service.serve import serve
from gateway.app import create
from gateway.entrypoints.protocol import JsonErrorsProtocol
from gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings.load()
    serve(create(settings), settings, http=JsonErrorsProtocol)


if __name__ == "__main__":
    main()
