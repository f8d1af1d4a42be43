"""``python -m mailer``: serve the mailer (HTTP ops API + the send_email consumer)."""

from blazing_service.serve import serve
from mailer import settings
from mailer.bootstrap import build_app


def main() -> None:
    config = settings.load()
    serve(build_app(config), config)


if __name__ == "__main__":
    main()
