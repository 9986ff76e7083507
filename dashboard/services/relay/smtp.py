"""Emails over a real SMTP connection, with Python's own `smtplib` and `email.message`.

The standard library rather than Flask-Mail: the relay is a worker outside any request,
where Flask-Mail's one service (sending within the app's context, with the same settings)
adds nothing over `smtplib`, and every dependency less is one less to keep up to date. The
settings keep Flask-Mail's names (MAIL_SERVER, MAIL_PORT, ...), so they read familiar.

Each email's Message-ID is made from its outbox row (`<outbox.<id>.<key hash>@domain>`):
when the server took an email but its answer was lost, the relay sends it again, and the
copy carries the same Message-ID, which mail clients and servers use to drop duplicates.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from dashboard.models import OutboxMessage, utcnow


@dataclass(frozen=True)
class SmtpSettings:
    server: str
    port: int
    use_tls: bool
    use_ssl: bool
    username: str
    password: str
    sender: str
    timeout: float

    @classmethod
    def from_config(cls, config: Any) -> SmtpSettings:
        return cls(
            server=config["MAIL_SERVER"],
            port=int(config["MAIL_PORT"]),
            use_tls=bool(config["MAIL_USE_TLS"]),
            use_ssl=bool(config["MAIL_USE_SSL"]),
            username=config["MAIL_USERNAME"],
            password=config["MAIL_PASSWORD"],
            sender=config["MAIL_DEFAULT_SENDER"],
            timeout=float(config["MAIL_TIMEOUT"]),
        )

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1] or self.sender


@dataclass(frozen=True)
class Outgoing:
    """What the relay sends of an outbox email, read before the transaction ends."""

    id: int
    recipient: str
    subject: str
    body: str
    dedupe_key: str

    @classmethod
    def of(cls, message: OutboxMessage) -> Outgoing:
        return cls(message.id, message.recipient, message.subject, message.body, message.dedupe_key)


def message_id_of(outgoing: Outgoing, sender_address: str) -> str:
    """Stable for one outbox row: the same on every resend, another for every other row
    (the key's hash tells apart two databases' row 7, as a sandbox started afresh has)."""
    domain = sender_address.rpartition("@")[2] or "dashboard.invalid"
    digest = hashlib.sha256(outgoing.dedupe_key.encode()).hexdigest()[:16]
    return f"<outbox.{outgoing.id}.{digest}@{domain}>"


def email_for(outgoing: Outgoing, settings: SmtpSettings) -> EmailMessage:
    """Plain text, UTF-8; `EmailMessage` refuses a header with a line break in it."""
    email = EmailMessage()
    email["From"] = settings.sender
    email["To"] = outgoing.recipient
    email["Subject"] = outgoing.subject
    email["Date"] = format_datetime(utcnow())
    email["Message-ID"] = message_id_of(outgoing, settings.sender_address)
    email.set_content(outgoing.body)
    return email


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """An open, greeted (and, when set, encrypted and signed-in) SMTP connection."""
    smtp: smtplib.SMTP
    if settings.use_ssl:
        smtp = smtplib.SMTP_SSL(
            settings.server,
            settings.port,
            timeout=settings.timeout,
            context=ssl.create_default_context(),
        )
    else:
        smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
    try:
        smtp.ehlo()
        if settings.use_tls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.username:
            smtp.login(settings.username, settings.password)
    except BaseException:
        close(smtp)
        raise
    return smtp


def close(smtp: smtplib.SMTP) -> None:
    """Say goodbye if the server still listens; a connection already gone is closed."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


@dataclass(frozen=True)
class Failure:
    error: str
    permanent: bool  # the server refused this email for good (5xx): no retry
    connection_lost: bool  # the connection is unusable: open another for the next email


def failure_of(error: Exception) -> Failure:
    """What a failed send means. A 5xx refusal of the recipient or of the message is the
    server's final word on this email; anything else (4xx, a dropped connection, a timeout,
    a lost answer) may pass, so it is tried again later."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        text = "; ".join(
            f"{address}: {code} {_text(reply)}"
            for address, (code, reply) in error.recipients.items()
        )
        return Failure(f"recipient refused: {text}", all(c >= 500 for c in codes), False)
    if isinstance(error, smtplib.SMTPDataError | smtplib.SMTPSenderRefused):
        reply = _text(error.smtp_error)
        permanent = isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500
        return Failure(f"{error.smtp_code} {reply}", permanent, False)
    if isinstance(error, smtplib.SMTPResponseException):
        return Failure(f"{error.smtp_code} {_text(error.smtp_error)}", False, True)
    if isinstance(error, ValueError):  # a header EmailMessage refuses: no server changes that
        return Failure(f"not sendable: {error}", True, False)
    return Failure(f"{type(error).__name__}: {error}", False, True)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def send(smtp: smtplib.SMTP, outgoing: Outgoing, settings: SmtpSettings) -> None:
    """Hand one email to the server; raises what smtplib raises (see `failure_of`)."""
    smtp.send_message(
        email_for(outgoing, settings),
        from_addr=settings.sender_address,
        to_addrs=[outgoing.recipient],
    )
