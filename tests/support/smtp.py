"""A real SMTP server for the tests: aiosmtpd on a loopback port, keeping what it receives
in memory. It can be stopped and started again on the same port (a server that was down),
refuse recipients with a 5xx, or take a message and drop the connection before answering
(the answer lost on the way)."""

from __future__ import annotations

import email
import threading
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.app import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: Message

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class CatchingHandler:
    """aiosmtpd's handler: stores every message it accepts."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    drop_answers: int = 0  # the next N messages are stored, then the connection is cut
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
            drop = self.drop_answers > 0
            if drop:
                self.drop_answers -= 1
        if drop:
            server.transport.close()  # taken, but the client never hears "250"
        return "250 Message accepted for delivery"


class MailServer:
    """The server on a fixed loopback port, which outlives its stops and starts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = CatchingHandler()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def config(self) -> dict[str, Any]:
        """The app's MAIL_* settings for this server."""
        return {
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": self.port,
            "MAIL_USE_TLS": False,
            "MAIL_USE_SSL": False,
            "MAIL_USERNAME": "",
            "MAIL_PASSWORD": "",
            "MAIL_DEFAULT_SENDER": "Merchant dashboard <dashboard@shop.example>",
            "MAIL_TIMEOUT": 5,
        }
