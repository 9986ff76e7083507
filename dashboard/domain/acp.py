"""The Agentic Commerce Protocol's rules that need no database: the versions we speak,
session states, the limits on a cart, what makes two request bodies the same, and how an
agent's request signature is checked."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

# The protocol versions this merchant implements (API-Version header).
SUPPORTED_VERSIONS = ("2026-04-17",)
PROTOCOL_VERSION = SUPPORTED_VERSIONS[-1]
# Units of one item in one session: 1 to this (a quantity is an integer, never a float).
MAX_QUANTITY = 999
# Different items in one session.
MAX_LINES = 100
IDEMPOTENCY_KEY_MAX = 255
# A signed request's Timestamp may be this far from our clock, either way.
SIGNATURE_TOLERANCE = timedelta(seconds=300)


class SessionStatus(StrEnum):
    """The states of an agent's checkout session we use (the schema's enum has more)."""

    NOT_READY = "not_ready_for_payment"
    READY = "ready_for_payment"
    AUTHENTICATION_REQUIRED = "authentication_required"
    COMPLETE_IN_PROGRESS = "complete_in_progress"
    COMPLETED = "completed"
    CANCELED = "canceled"


# Where the cart and the buyer may still change, and a payment may start.
OPEN_STATUSES = frozenset(
    {SessionStatus.NOT_READY, SessionStatus.READY, SessionStatus.AUTHENTICATION_REQUIRED}
)
FINAL_STATUSES = frozenset({SessionStatus.COMPLETED, SessionStatus.CANCELED})


def canonical(value: Any) -> Any:
    """A JSON value with numbers made comparable: 1.0 is 1 (RFC §6.2); key order and the
    difference between null and absent are kept as JSON has them."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(key): canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def body_fingerprint(body: Any) -> str:
    """SHA-256 of the body's canonical JSON: equal for bodies the RFC calls equivalent."""
    text = json.dumps(canonical(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class SignatureProblem(ValueError):
    """Why a request's Signature or Timestamp was refused (the message says it plainly)."""


def parse_timestamp(text: str | None) -> datetime:
    if not text:
        raise SignatureProblem("The Timestamp header is missing.")
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SignatureProblem("The Timestamp header is not an RFC 3339 date-time.") from None
    if moment.tzinfo is None:
        raise SignatureProblem("The Timestamp header has no time zone offset.")
    return moment


def expected_signature(signing_key: str, timestamp: str, body: bytes) -> str:
    """base64url(HMAC-SHA256(key, Timestamp + "." + raw body)), without padding."""
    mac = hmac.new(signing_key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def verify_signature(
    signing_key: str, signature: str | None, timestamp: str | None, body: bytes, now: datetime
) -> None:
    """Raise SignatureProblem unless the request was signed with the key, lately."""
    moment = parse_timestamp(timestamp)
    if abs(now - moment) > SIGNATURE_TOLERANCE:
        raise SignatureProblem("The Timestamp is outside the allowed window of 5 minutes.")
    if not signature:
        raise SignatureProblem("The Signature header is missing.")
    sent = signature.strip().rstrip("=")
    try:
        base64.urlsafe_b64decode(sent + "=" * (-len(sent) % 4))
    except (binascii.Error, ValueError):
        raise SignatureProblem("The Signature header is not base64url.") from None
    wanted = expected_signature(signing_key, timestamp or "", body)
    if not hmac.compare_digest(sent.encode(), wanted.encode()):
        raise SignatureProblem("The Signature does not match the request.")
