"""Stripe's webhooks: signature verification, and reading Stripe-shaped event payloads.

Verification runs on the raw bytes, before any parsing, against every configured secret
(so a secret can be rolled without downtime). The readers below turn the `data.object` of
an event into the snapshots the services already use for API responses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

from dashboard.payments.stripe_gateway import (
    CheckoutSessionSnapshot,
    PaymentIntentSnapshot,
    checkout_session_snapshot,
    payment_intent_snapshot,
)

# Stripe's own default: an older timestamp is a replay, not a delivery.
TOLERANCE_SECONDS = 300
REDACTED = "[redacted]"
# What Stripe's ids and event types are made of. Anything else (a NUL, markup, spaces) in
# a field we index or show is not Stripe's, and is not stored as an id.
_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")
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
            ("id", isinstance(event.get("id"), str) and bool(_STRIPE_ID.fullmatch(event["id"]))),
            (
                "type",
                isinstance(event.get("type"), str) and bool(_EVENT_TYPE.fullmatch(event["type"])),
            ),
            ("created", _timestamp(event.get("created"))),
            ("data.object", isinstance(data, dict) and isinstance(data.get("object"), dict)),
            (f"nesting (at most {MAX_DEPTH} levels)", _shallow(event)),
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


def _id(value: Any) -> str | None:
    """An id from a field that holds either the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and _STRIPE_ID.fullmatch(value) else None


@dataclass(frozen=True)
class ObjectRefs:
    """The ids in an event's object that can lead to an order."""

    object_type: str
    object_id: str | None
    order_id: str | None
    client_reference_id: str | None
    payment_intent_id: str | None
    checkout_session_id: str | None
    charge_id: str | None


def object_refs(obj: dict[str, Any]) -> ObjectRefs:
    kind = str(obj.get("object") or "")
    own_id = _id(obj.get("id"))
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    order_id = metadata.get("order_id") if metadata else None
    return ObjectRefs(
        object_type=kind,
        object_id=own_id,
        order_id=order_id if isinstance(order_id, str) else None,
        client_reference_id=_id(obj.get("client_reference_id")),
        payment_intent_id=own_id if kind == "payment_intent" else _id(obj.get("payment_intent")),
        checkout_session_id=own_id if kind == "checkout.session" else None,
        charge_id=own_id if kind == "charge" else _id(obj.get("charge")),
    )


def payment_intent_from_event(obj: dict[str, Any]) -> PaymentIntentSnapshot:
    return payment_intent_snapshot(obj)


def payment_intent_from_charge(
    charge: dict[str, Any], *, expired: bool = False
) -> PaymentIntentSnapshot:
    """What a Charge says about its PaymentIntent, as the snapshot a PaymentIntent would give.

    An uncaptured charge that is `refunded` was released (a void); `charge.expired` means the
    hold lapsed. Stripe reports both on the charge, not only on the PaymentIntent.
    """
    captured = bool(charge.get("captured"))
    if charge.get("status") == "failed":
        status = "requires_payment_method"
    elif expired:
        status = "canceled"
    elif captured:
        status = "succeeded"
    elif charge.get("refunded"):
        status = "canceled"
    elif charge.get("status") == "pending":
        status = "processing"
    else:
        status = "requires_capture"
    failure = None
    if status == "requires_payment_method":
        failure = {
            "code": charge.get("failure_code") or "card_declined",
            "message": charge.get("failure_message") or "The card was declined.",
        }
    return payment_intent_snapshot(
        {
            "id": _id(charge.get("payment_intent")) or "",
            "object": "payment_intent",
            "status": status,
            "amount": int(charge.get("amount") or 0),
            "currency": charge.get("currency", ""),
            "amount_capturable": int(charge.get("amount") or 0)
            if status == "requires_capture"
            else 0,
            "amount_received": int(charge.get("amount_captured") or 0) if captured else 0,
            "latest_charge": charge,
            "created": charge.get("created") or 0,
            "cancellation_reason": "automatic" if expired else None,
            "last_payment_error": failure,
            "livemode": charge.get("livemode", False),
            "metadata": charge.get("metadata") or {},
        }
    )


def checkout_session_from_event(obj: dict[str, Any]) -> CheckoutSessionSnapshot:
    return checkout_session_snapshot(obj)


@dataclass(frozen=True)
class RefundFacts:
    id: str
    amount: int
    status: str
    payment_intent_id: str | None
    charge_id: str | None
    idempotency_key: str | None
    failure_reason: str | None


def refund_from_event(obj: dict[str, Any]) -> RefundFacts:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    key = metadata.get("idempotency_key") if metadata else None
    return RefundFacts(
        id=_id(obj.get("id")) or "",
        amount=int(obj.get("amount") or 0),
        status=str(obj.get("status") or "pending"),
        payment_intent_id=_id(obj.get("payment_intent")),
        charge_id=_id(obj.get("charge")),
        idempotency_key=key if isinstance(key, str) else None,
        failure_reason=obj.get("failure_reason") if obj.get("failure_reason") else None,
    )


@dataclass(frozen=True)
class DisputeFacts:
    id: str
    amount: int
    currency: str
    reason: str
    status: str
    charge_id: str | None
    payment_intent_id: str | None
    evidence_due_by: datetime | None


def dispute_from_event(obj: dict[str, Any]) -> DisputeFacts:
    details = obj.get("evidence_details") if isinstance(obj.get("evidence_details"), dict) else {}
    due = details.get("due_by") if details else None
    return DisputeFacts(
        id=_id(obj.get("id")) or "",
        amount=int(obj.get("amount") or 0),
        currency=_currency(obj.get("currency")),
        reason=_word(obj.get("reason"), "general", 64),
        status=_word(obj.get("status"), "needs_response", 32),
        charge_id=_id(obj.get("charge")),
        payment_intent_id=_id(obj.get("payment_intent")),
        evidence_due_by=datetime.fromtimestamp(int(due), UTC) if isinstance(due, int) else None,
    )


def _word(value: Any, default: str, limit: int) -> str:
    """One of Stripe's enum values (lower case and underscores), else the default."""
    text = str(value or "")
    return text if re.fullmatch(rf"[a-z_]{{1,{limit}}}", text) else default


def _currency(value: Any) -> str:
    """An ISO code, or "" when the payload's is not one (the order's is used then)."""
    code = str(value or "").upper()
    return code if re.fullmatch(r"[A-Z]{3}", code) else ""


def dashboard_url(object_id: str | None, *, livemode: bool) -> str | None:
    """The object's page in Stripe's Dashboard (test or live)."""
    if not object_id:
        return None
    paths = {
        "pi_": "payments/",
        "ch_": "payments/",
        "py_": "payments/",
        "cs_": "checkout/sessions/",
        "re_": "refunds/",
        "dp_": "disputes/",
        "du_": "disputes/",
        "evt_": "events/",
    }
    for prefix, path in paths.items():
        if object_id.startswith(prefix):
            mode = "" if livemode else "test/"
            return f"https://dashboard.stripe.com/{mode}{path}{object_id}"
    return None


def is_live_key(secret_key: str) -> bool:
    return secret_key.startswith(("sk_live_", "rk_live_"))
