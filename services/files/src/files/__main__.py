"""``python -m files``: serve uploads, chunked uploads and avatars."""

from blazing_service.serve import serve
from files.bootstrap import build_app
from files.settings import FilesSettings


def main() -> None:
    settings = FilesSettings.load()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
