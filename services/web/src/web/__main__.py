"""``python -m web``: serve the web pages."""

from blazing_service.serve import serve
from web import settings
from web.bootstrap import build_app


def main() -> None:
    config = settings.load()
    serve(build_app(config), config)


if __name__ == "__main__":
    main()
