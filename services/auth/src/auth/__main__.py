"""``python -m auth``: serve the auth service."""

from auth.bootstrap import build_app
from auth.settings import AuthSettings
from blazing_service.serve import serve


def main() -> None:
    settings = AuthSettings.load()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
