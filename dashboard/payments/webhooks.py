"""Stripe's webhooks: signature verification, the shape every event must have, redaction.

Verification runs on the raw bytes, before any parsing, against every configured secret
(so a secret can be rolled without downtime). What an event's object says is read by
`payments.snapshots`, as API answers are.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import stripe

from dashboard.payments.snapshots import STRIPE_ID

# Stripe's own default: an older timestamp is a replay, not a delivery.
TOLERANCE_SECONDS = 300
REDACTED = "[redacted]"
# What Stripe's event types are made of (ids: snapshots.STRIPE_ID).
_EVENT_TYPE = re.compile(r"[a-z0-9_.]{1,100}")


class WebhookRejected(Exception):
    """A delivery refused before anything is stored. `reason` is what the health panel counts."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


def verify_event(
    body: bytes,
    signature_header: str | None,
    secrets: Sequence[str],
    *,
    tolerance: int = TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """The event, once its signature matches one of `secrets`; WebhookRejected otherwise."""
    if not secrets:
        # Retried by Stripe until someone sets the secret: nothing is lost meanwhile.
        raise WebhookRejected(
            "no_secret", "No webhook signing secret is configured (STRIPE_WEBHOOK_SECRET).", 503
        )
    if not signature_header:
        raise WebhookRejected("missing_signature", "The Stripe-Signature header is missing.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise WebhookRejected("invalid_body", "The body is not UTF-8 text.") from error
    stale = False
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, signature_header, secret, tolerance)
            break
        except stripe.SignatureVerificationError as error:
            message = str(error)
            if "Unable to extract" in message or "expected scheme" in message:
                raise WebhookRejected(
                    "malformed_signature", "The Stripe-Signature header is malformed."
                ) from error
            stale = stale or "tolerance" in message
    else:
        if stale:
            raise WebhookRejected(
                "stale_timestamp",
                f"The signature is more than {tolerance} seconds old (a replay?).",
            )
        raise WebhookRejected("bad_signature", "The signature does not match this body.")
    return _parse(text)


def _parse(text: str) -> dict[str, Any]:
    try:
        event = json.loads(text)
    except ValueError as error:
        raise WebhookRejected("invalid_payload", "The body is not JSON.") from error
    except RecursionError as error:  # nesting deeper than the parser goes
        raise WebhookRejected("invalid_payload", "The body nests too deeply.") from error
    if not isinstance(event, dict):
        raise WebhookRejected("invalid_payload", "The body is not a Stripe event.")
    check_event_shape(event)
    return event


def check_event_shape(event: dict[str, Any]) -> None:
    """Raise WebhookRejected unless `event` has what every Stripe event has."""
    data = event.get("data")
    problems = [
        name
        for name, ok in (
            ("id", isinstance(event.get("id"), str) and bool(STRIPE_ID.fullmatch(event["id"]))),
            (
                "type",
                isinstance(event.get("type"), str) and bool(_EVENT_TYPE.fullmatch(event["type"])),
            ),
            ("created", _timestamp(event.get("created"))),
            ("data.object", isinstance(data, dict) and isinstance(data.get("object"), dict)),
            ("api_version", _api_version(event.get("api_version"))),
            (f"nesting (at most {MAX_DEPTH} levels)", _shallow(event)),
            ("numbers (NaN and Infinity are not JSON)", _finite(event)),
        )
        if not ok
    ]
    if problems:
        raise WebhookRejected("invalid_payload", f"The event lacks a valid {', '.join(problems)}.")


# Unix seconds that a datetime can hold (up to the end of the year 9999).
_LAST_TIMESTAMP = 253402300799


# Stripe's objects nest a handful of levels; far deeper is not an event, and would exhaust
# the recursion of the code that reads and redacts payloads.
MAX_DEPTH = 64


def _shallow(value: Any) -> bool:
    """No list or object in `value` is nested more than MAX_DEPTH deep (no recursion)."""
    level: list[Any] = [value]
    for _ in range(MAX_DEPTH):
        level = [
            item
            for node in level
            for item in (node.values() if isinstance(node, dict) else node)
            if isinstance(item, (dict, list))
        ]
        if not level:
            return True
    return False


def _finite(value: Any) -> bool:
    """No number in `value` is NaN or infinite: Python's parser takes `NaN`, `Infinity` and
    `1e309` (an infinity), which JSON does not have and PostgreSQL refuses to store. A walk
    with a list, not recursion: a body nested too deeply is walked (and refused) too."""
    pending: list[Any] = [value]
    while pending:
        node = pending.pop()
        for item in node.values() if isinstance(node, dict) else node:
            if isinstance(item, dict | list):
                pending.append(item)
            elif isinstance(item, float) and not math.isfinite(item):
                return False
    return True


# Stripe's API versions: a date and a name ("2026-10-28.endive"). Stored as text, so
# nothing else (no NUL, no lone surrogate a database cannot encode) is kept from the field.
_API_VERSION = re.compile(r"[0-9A-Za-z._-]{1,64}")


def _api_version(value: Any) -> bool:
    return value is None or (isinstance(value, str) and bool(_API_VERSION.fullmatch(value)))


def _timestamp(value: Any) -> bool:
    return type(value) is int and 0 < value <= _LAST_TIMESTAMP


def redact(value: Any) -> Any:
    """A copy with every client secret and other secret-named field blanked out."""
    if isinstance(value, dict):
        return {
            key: REDACTED if _secret_key(key) and value[key] else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _secret_key(key: Any) -> bool:
    return isinstance(key, str) and (key == "secret" or key.endswith("_secret"))


def created_at(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(event["created"]), UTC)
