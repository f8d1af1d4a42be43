"""``python -m auth``: serve the auth service."""

from auth import settings
from auth.bootstrap import build_app
from blazing_service.serve import serve


def main() -> None:
    config = settings.load()
    serve(build_app(config), config)


if __name__ == "__main__":
    main()
