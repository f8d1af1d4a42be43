"""``python -m web``: serve the web pages."""

from blazing_service.serve import serve
from web.app import build_app
from web.settings import WebSettings


def main() -> None:
    settings = WebSettings.load()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
