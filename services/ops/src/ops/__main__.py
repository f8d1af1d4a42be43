"""``python -m ops``: serve the ops API and console, store dead letters, run replay jobs."""

from blazing_service.serve import serve
from ops import settings
from ops.bootstrap import build_app


def main() -> None:
    config = settings.load()
    serve(build_app(config), config)


if __name__ == "__main__":
    main()
