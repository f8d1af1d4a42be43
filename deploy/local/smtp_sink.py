"""The local SMTP sink: accepts every message on 127.0.0.1:1025 and stores it in a Maildir.

Tests and people read what was sent from ``var/mail/new/``. Each stored message gets
``X-Sink-Mail-From`` and ``X-Sink-Rcpt-To`` headers with the SMTP envelope and ``X-Sink-Sequence``
(acceptance time in ns and a counter) to measure the order of arrival.
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import signal
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session


class MaildirHandler:
    def __init__(self, path: Path) -> None:
        self.sequence = 0
        # mailbox only creates the sub-folders when the Maildir itself is new.
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self.box = mailbox.Maildir(path, create=False)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.original_content or b""
        self.sequence += 1  # the order in which messages were accepted (for ordering tests)
        prefix = (
            f"X-Sink-Sequence: {time.time_ns()}-{self.sequence:09d}\r\n"
            f"X-Sink-Mail-From: {envelope.mail_from}\r\n"
            f"X-Sink-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        await asyncio.to_thread(self.box.add, prefix + content)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, maildir: Path) -> None:
    handler = MaildirHandler(maildir)
    loop = asyncio.get_running_loop()

    def factory() -> Any:
        return SMTP(handler, hostname="smtp-sink.local", data_size_limit=50 * 1024 * 1024)

    server = await loop.create_server(factory, host=host, port=port, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"smtp sink on {host}:{port} -> {maildir}", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.maildir))


if __name__ == "__main__":
    main()
