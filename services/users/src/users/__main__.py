"""``python -m users``: serve the users service."""

from blazing_service.serve import serve
from users import settings
from users.bootstrap import build_app


def main() -> None:
    config = settings.load()
    serve(build_app(config), config)


if __name__ == "__main__":
    main()
