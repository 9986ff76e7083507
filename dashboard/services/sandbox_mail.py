"""What the sandbox's SMTP server received (dashboard/sandbox/mail_catcher.py), read from
its Maildir for the sandbox's mail page: newest first, in plain text."""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from pathlib import Path

from dashboard.sandbox.mail_catcher import maildir_of


@dataclass(frozen=True)
class ReceivedEmail:
    key: str
    to: str
    sender: str
    subject: str
    received_at: datetime
    body: str


def _body(message: Message) -> str:
    part = message
    if message.is_multipart():
        plain = [p for p in message.walk() if p.get_content_type() == "text/plain"]
        if not plain:
            return "(no plain-text part)"
        part = plain[0]
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return payload.decode(part.get_content_charset() or "utf-8", errors="replace")


def _received_at(key: str, message: Message) -> datetime:
    """When the server stored it: a Maildir file's name starts with that second; else the
    email's own Date."""
    seconds = key.split(".", 1)[0]
    if seconds.isdigit():
        return datetime.fromtimestamp(int(seconds), UTC)
    try:
        return parsedate_to_datetime(str(message["Date"])).astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.fromtimestamp(0, UTC)


def received(instance: Path, *, limit: int = 100) -> list[ReceivedEmail]:
    """The latest `limit` emails, newest first; none when nothing was received yet."""
    folder = maildir_of(instance)
    if not folder.is_dir():
        return []
    box = mailbox.Maildir(folder, create=False)
    found = []
    for key in box.iterkeys():
        try:
            message = box.get_message(key)
        except (KeyError, OSError):  # removed meanwhile
            continue
        found.append(
            ReceivedEmail(
                key=key,
                to=str(message["To"] or ""),
                sender=str(message["From"] or ""),
                subject=str(message["Subject"] or "(no subject)"),
                received_at=_received_at(key, message),
                body=_body(message),
            )
        )
    found.sort(key=lambda email: (email.received_at, email.key), reverse=True)
    return found[:limit]
