"""``python -m mailer``: serve the mailer (HTTP ops API + the send_email consumer)."""

from blazing_service.serve import serve
from mailer.bootstrap import build_app
from mailer.settings import MailerSettings


def main() -> None:
    settings = MailerSettings.load()
    serve(build_app(settings), settings)


if __name__ == "__main__":
    main()
