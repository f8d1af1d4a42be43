"""``python -m ledger``: serve the ledger."""

from blazing_service.serve import serve
from ledger import settings
from ledger.bootstrap import build_app


def main() -> None:
    config = settings.load()
    serve(build_app(config), config)


if __name__ == "__main__":
    main()
