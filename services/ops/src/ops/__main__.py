"""``python -m ops``: serve the ops API and console, store dead letters, run replay jobs."""

from blazing_service.serve import serve
from ops.bootstrap import build_app
from ops.settings import OpsSettings


def main() -> None:
    settings = OpsSettings.load()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
