"""``python -m users``: serve the users service."""

from blazing_service import ServiceSettings
from blazing_service.serve import serve
from users.bootstrap import build_app


def main() -> None:
    settings = ServiceSettings.from_env("users", 8001)
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
