"""``python -m files``: serve uploads, chunked uploads and avatars."""

from blazing_service.serve import serve
from files import settings
from files.bootstrap import build_app


def main() -> None:
    config = settings.load()
    serve(build_app(config), config)


if __name__ == "__main__":
    main()
