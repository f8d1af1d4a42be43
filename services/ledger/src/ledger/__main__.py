"""``python -m ledger``: serve the ledger."""

from blazing_service import ServiceSettings
from blazing_service.serve import serve
from ledger.bootstrap import build_app


def main() -> None:
    settings = ServiceSettings.from_env("ledger", 8003)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
