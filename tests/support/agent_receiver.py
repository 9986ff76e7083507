"""An agent's webhook receiver, written from the words of the protocol's webhook file
(../shared/acp/2026-04-17/openapi.agentic_checkout_webhook.yaml), not from our code:

  "Requests are signed via the Merchant-Signature header (`t=<unix_seconds>,v1=<64_hex>`)
  ... Signed payload is `timestamp + "." + raw_body`; HMAC-SHA256. Reject with 401 if
  missing, malformed, timestamp out of window, or verification fails. Recommended
  timestamp tolerance is 300 seconds."

A real HTTP server on a loopback port. Every request is also checked against the OpenAPI
file with openapi-core (headers and body); what breaks it is kept in `invalid`. It can be
stopped and started again on the same port (an agent that was down), answer a chosen
status, or answer too late (a timeout).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest

from tests.support.app import free_port

# The protocol's files of version 2026-04-17 beside the repository (../shared/acp): the
# webhook file refers to the checkout file beside it for the Order schema.
WEBHOOK_SPEC = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "acp"
    / "2026-04-17"
    / "openapi.agentic_checkout_webhook.yaml"
)
PATH = "/agentic_checkout/webhooks/order_events"
TOLERANCE = 300
HEADER = re.compile(r"^t=(\d+),v1=([a-fA-F0-9]{64})$")

_spec: OpenAPI | None = None


def webhook_spec() -> OpenAPI:
    global _spec
    if _spec is None:
        _spec = OpenAPI.from_file_path(str(WEBHOOK_SPEC))
    return _spec


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class AgentReceiver:
    secret: str
    port: int = field(default_factory=free_port)
    answer_status: int = 200  # what a verified event gets
    answer_after: float = 0.0  # seconds to wait before answering (a slow agent)
    accepted: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why, for each 401
    invalid: list[str] = field(default_factory=list)  # what broke the OpenAPI file
    answered: list[int] = field(default_factory=list)  # every status sent, in order
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def start(self) -> AgentReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver.handle(self.path, dict(self.headers.items()), raw)
                if receiver.answer_after:
                    time.sleep(receiver.answer_after)
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the sender gave up waiting
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def verify(self, headers: dict[str, str], raw: bytes) -> str | None:
        """Why the signature is refused, or None when it holds."""
        given = {name.lower(): value for name, value in headers.items()}.get("merchant-signature")
        if given is None:
            return "Missing Merchant-Signature header."
        match = HEADER.match(given)
        if match is None:
            return "Merchant-Signature must be t=<timestamp>,v1=<64_hex>."
        timestamp, sent = match.group(1), match.group(2)
        if abs(time.time() - int(timestamp)) > TOLERANCE:
            return "Timestamp outside allowed window."
        expected = hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, sent.lower()):
            return "Webhook signature verification failed."
        return None

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        request = MockRequest(
            "https://openai.example.com",
            "post",
            path,
            headers=headers,
            data=raw,
            content_type=headers.get("Content-Type", ""),
        )
        try:
            webhook_spec().validate_request(request)
        except Exception as error:
            self.invalid.append(f"{error}: {getattr(error, '__cause__', '')}")
        refusal = self.verify(headers, raw)
        if refusal is not None:
            self.refused.append(refusal)
            self.answered.append(401)
            return 401, {"type": "invalid_request", "code": "invalid_signature", "message": refusal}
        self.answered.append(self.answer_status)
        if self.answer_status >= 300:
            return self.answer_status, {
                "type": "processing_error",
                "code": "unavailable",
                "message": f"The agent is answering {self.answer_status} for this test.",
            }
        self.accepted.append(Received(headers, raw))
        return 200, {"received": True, "request_id": headers.get("Request-Id", "")}
