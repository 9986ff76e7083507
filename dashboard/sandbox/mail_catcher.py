"""The sandbox's SMTP server: a real one (aiosmtpd) on loopback that delivers nothing and
keeps every email it receives in a Maildir in the instance folder (`sandbox-mail/`), which
the sandbox's mail page (/sandbox/mail) reads. A Maildir, because each email is one file
written whole before it appears (no partial email is ever read), any process can read it
without talking to the server, and it survives a restart of the sandbox."""

from __future__ import annotations

import mailbox
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

FOLDER = "sandbox-mail"


def maildir_of(instance: Path) -> Path:
    return instance / FOLDER


class MaildirHandler:
    """aiosmtpd's handler: each message accepted is one file of the Maildir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        mailbox.Maildir(path, create=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        mailbox.Maildir(self.path, create=True).add(content)
        return "250 Message kept by the sandbox (nothing is delivered)"


def start(instance: Path, port: int) -> Controller:
    """Listening on 127.0.0.1:`port` once this returns; `stop()` it when done."""
    controller = Controller(MaildirHandler(maildir_of(instance)), hostname="127.0.0.1", port=port)
    controller.start()
    return controller
