"""Stripe failing at the HTTP boundary: `FaultyHTTP`, the SDK's HTTP client with faults on
call (timeouts, lost answers, 5xx, 429, 409, a worker killed mid-request), forwarding to a
real `stripe.RequestsClient` in front of localstripe otherwise."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import stripe
from requests.structures import CaseInsensitiveDict

from dashboard.payments.localstripe_compat import LocalstripeCompat
from dashboard.payments.stripe_gateway import StripeGateway
from tests.support.localstripe import SANDBOX_KEY

Answer = tuple[bytes, int, Mapping[str, str]]

BODIES: dict[int, dict[str, Any]] = {
    500: {"error": {"type": "api_error", "message": "An unknown error occurred."}},
    429: {
        "error": {
            "type": "invalid_request_error",
            "code": "rate_limit",
            "message": "Too many requests hit the API too quickly.",
        }
    },
    409: {
        "error": {
            "type": "idempotency_error",
            "code": "idempotency_key_in_use",
            "message": "There is currently another in-progress request using this "
            "Idempotent Key (that probably means you submitted twice, and the other request "
            "is still going through).",
        }
    },
    400: {
        "error": {
            "type": "invalid_request_error",
            "code": "payment_intent_unexpected_state",
            "message": "This PaymentIntent could not be captured because it is locked.",
        }
    },
    402: {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "processing_error",
            "message": "An error occurred while processing your card.",
        }
    },
}


class WorkerDied(BaseException):
    """The process serving the request is killed (deploy, OOM) while Stripe has it."""


@dataclass
class Fault:
    method: str
    path: str  # a fragment of the URL path: "/capture", "/cancel", "/v1/refunds"
    kind: str  # "timeout" | "reset" | "status" | "lost" | "die"
    status: int = 0

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == self.method and self.path in path


@dataclass
class Seen:
    """One request the SDK handed to the HTTP client, and what became of it."""

    method: str
    path: str
    headers: dict[str, str]
    body: str
    outcome: str  # "sent", "lost", "replayed", "timeout", "reset", "status 429", ...
    reached_stripe: bool

    @property
    def key(self) -> str | None:
        return self.headers.get("Idempotency-Key")


def _answer(status: int, body: dict[str, Any], request_id: str) -> Answer:
    headers = CaseInsensitiveDict({"Content-Type": "application/json", "Request-Id": request_id})
    return json.dumps(body).encode(), status, headers


class FaultyHTTP(stripe.HTTPClient):
    """The SDK's HTTP client with faults on call; forwards to a real RequestsClient.

    localstripe ignores Idempotency-Key, so this also plays the part of Stripe's idempotency
    layer (STRIPE_NOTES.md): a POST whose key was answered before gets that first answer
    again, 500s included, without reaching localstripe, and the same key with other
    parameters gets Stripe's 400. Answers that never executed (429, 409, no connection)
    are not kept, as Stripe does not keep them.
    """

    name = "faulty-requests"

    def __init__(self, real: stripe.HTTPClient) -> None:
        super().__init__()
        self.real = real
        self.armed: list[Fault] = []
        self.seen: list[Seen] = []
        self.kept: dict[str, tuple[str, Answer]] = {}  # key -> (params, first answer)
        self._lock = threading.Lock()

    def arm(self, method: str, path: str, kind: str, status: int = 0) -> None:
        with self._lock:
            self.armed.append(Fault(method.upper(), path, kind, status))

    def to(self, method: str, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.method == method.upper() and path in s.path]

    def reached(self, method: str, path: str) -> int:
        """How many of these requests localstripe actually received."""
        return sum(s.reached_stripe for s in self.to(method, path))

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
    ) -> Answer:
        path = urlsplit(url).path
        sent_headers = dict(headers or {})
        body = post_data.decode() if isinstance(post_data, bytes) else str(post_data or "")
        key = sent_headers.get("Idempotency-Key") if method.upper() == "POST" else None
        with self._lock:
            fault = next((f for f in self.armed if f.matches(method, path)), None)
            if fault is not None:
                self.armed.remove(fault)
            kept = self.kept.get(key) if key else None
            request_id = f"req_fault_{len(self.seen) + 1}"

        def note(outcome: str, reached: bool = False) -> None:
            with self._lock:
                self.seen.append(Seen(method.upper(), path, sent_headers, body, outcome, reached))

        if fault is not None and fault.kind in ("timeout", "reset"):
            note(fault.kind)
            error = "ReadTimeout: timed out" if fault.kind == "timeout" else "ConnectionResetError"
            raise stripe.APIConnectionError(
                f"Unexpected error communicating with Stripe. (Network error: {error})",
                should_retry=True,
            )
        if fault is not None and fault.kind == "status":
            note(f"status {fault.status}")
            answer = _answer(fault.status, BODIES[fault.status], request_id)
            if key and fault.status >= 500:  # Stripe keeps a 500 for the key and replays it
                with self._lock:
                    self.kept.setdefault(key, (body, answer))
            return answer
        if kept is not None:
            params, first = kept
            if params != body:
                note("refused: same key, other parameters")
                mismatch = {
                    "error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the "
                        "same parameters they were first used with.",
                    }
                }
                return _answer(400, mismatch, request_id)
            note("replayed")
            return first
        answer: Answer = self.real.request(method, url, sent_headers, post_data)
        if key:
            with self._lock:
                self.kept.setdefault(key, (body, answer))
        lost = fault is not None and fault.kind in ("lost", "die")
        note("lost" if lost else "sent", reached=True)
        if fault is not None and fault.kind == "die":
            raise WorkerDied(path)
        if lost:
            raise stripe.APIConnectionError(
                "Unexpected error communicating with Stripe. "
                "(Network error: ReadTimeout: timed out)",
                should_retry=True,
            )
        return answer

    def close(self) -> None:
        self.real.close()


def faulty_gateway(localstripe_url: str, http: FaultyHTTP, retries: int = 0) -> StripeGateway:
    return StripeGateway(
        secret_key=SANDBOX_KEY,
        api_base=localstripe_url,
        http_client=http,
        compat=LocalstripeCompat(),
        max_network_retries=retries,
    )
