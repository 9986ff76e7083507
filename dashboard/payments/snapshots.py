"""Stripe's objects as the services read them: plain snapshots, from an API answer or an
event payload alike, the ids in an object that can lead to an order, and where an object
is shown in Stripe's Dashboard.

Nothing here calls Stripe or imports its SDK: the same readers serve the gateway's answers
(as dicts) and the `data.object` of webhook events. Statuses are compared with the enums
of `domain.stripe_mapping`, where they are named once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dashboard.domain.stripe_mapping import (
    Amounts,
    CancellationReason,
    CardFeatureStatus,
    ChargeStatus,
    CheckoutPaymentStatus,
    CheckoutSessionStatus,
    DisputeStatus,
    PaymentIntentStatus,
    RefundStatus,
)
from dashboard.payments.charges import (
    BalanceFacts,
    ChargeFacts,
    RefundDetails,
    balance_facts,
    charge_facts,
    failed_attempt,
    refunds_listed,
)

PI = PaymentIntentStatus

# Online card authorizations last 7 days unless the charge says otherwise.
DEFAULT_HOLD = timedelta(days=7)
# What Stripe's ids are made of. Anything else (a NUL, markup, spaces) in a field we index
# or show is not Stripe's, and is not taken as an id.
STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")


@dataclass(frozen=True)
class PaymentIntentSnapshot:
    """What Stripe says about a PaymentIntent, in the shapes the services use."""

    id: str
    status: str
    currency: str
    amounts: Amounts
    client_secret: str | None
    charge_id: str | None
    created: datetime
    capture_before: datetime | None
    cancellation_reason: str | None
    last_error_code: str | None
    last_error_message: str | None
    livemode: bool
    metadata: dict[str, str]
    # The most the hold lets be captured: its amount, or more with overcapture granted.
    capture_limit: int = 0
    request_id: str | None = None
    # What Stripe said about the latest charge, when it was expanded (API answers), and the
    # failed attempt `last_payment_error` describes, with its card, when there is one.
    charge: ChargeFacts | None = None
    charge_balance: BalanceFacts | None = None
    failed_attempt: ChargeFacts | None = None
    refunds: tuple[RefundDetails, ...] = ()
    # The card and the Stripe Customer it was paid with (a card kept for later needs both).
    payment_method_id: str | None = None
    customer_id: str | None = None

    @property
    def hold_deadline(self) -> datetime:
        return self.capture_before or self.created + DEFAULT_HOLD


@dataclass(frozen=True)
class RefundSnapshot:
    id: str
    amount: int
    status: str
    request_id: str | None = None
    details: RefundDetails | None = None


@dataclass(frozen=True)
class CheckoutSessionSnapshot:
    id: str
    status: str
    payment_status: str
    url: str | None
    payment_intent_id: str | None
    expires_at: datetime | None
    request_id: str | None = None


def payment_intent_snapshot(
    raw: dict[str, Any], request_id: str | None = None
) -> PaymentIntentSnapshot:
    """A PaymentIntent as Stripe serialises it (API response or event payload) -> snapshot."""
    charge = raw.get("latest_charge")
    charge = charge if isinstance(charge, dict) else None
    status = str(raw["status"])
    amount = int(raw["amount"])
    captured = raw.get("amount_received")
    if captured is None:
        captured = int(charge.get("amount_captured", 0)) if charge else 0
    # Stripe counts the part of a hold it released as refunded on the charge ("any
    # additional amount will be automatically refunded" on a partial capture; all of it on a
    # void): only what goes beyond the released part went back to the buyer.
    charged = int(charge.get("amount") or amount) if charge else amount
    released = max(charged - int(captured), 0) if captured else charged
    reported = int(charge.get("amount_refunded") or 0) if charge else 0
    refunded = max(reported - released, 0)
    capturable = raw.get("amount_capturable")
    if capturable is None:
        capturable = amount if status == PI.REQUIRES_CAPTURE else 0
    authorized = amount if status in (PI.REQUIRES_CAPTURE, PI.SUCCEEDED, PI.CANCELED) else 0
    capture_before = None
    capture_limit = amount
    if charge:
        card = (charge.get("payment_method_details") or {}).get("card") or {}
        if card.get("capture_before"):
            capture_before = datetime.fromtimestamp(int(card["capture_before"]), UTC)
        overcapture = card.get("overcapture") or {}
        if overcapture.get("status") == CardFeatureStatus.AVAILABLE:
            capture_limit = max(amount, int(overcapture.get("maximum_amount_capturable") or 0))
    error = raw.get("last_payment_error") or {}
    latest = raw.get("latest_charge")
    return PaymentIntentSnapshot(
        id=str(raw["id"]),
        status=status,
        currency=str(raw.get("currency", "")).upper(),
        amounts=Amounts(
            authorized=authorized,
            capturable=int(capturable),
            captured=int(captured),
            refunded=refunded,
        ),
        client_secret=raw.get("client_secret"),
        charge_id=str(charge["id"]) if charge else latest if isinstance(latest, str) else None,
        created=datetime.fromtimestamp(int(raw.get("created") or 0), UTC),
        capture_before=capture_before,
        cancellation_reason=raw.get("cancellation_reason"),
        last_error_code=error.get("decline_code") or error.get("code"),
        last_error_message=error.get("message"),
        livemode=bool(raw.get("livemode", False)),
        metadata={str(k): str(v) for k, v in (raw.get("metadata") or {}).items()},
        capture_limit=capture_limit,
        request_id=request_id,
        charge=charge_facts(charge),
        charge_balance=balance_facts(charge.get("balance_transaction")) if charge else None,
        failed_attempt=failed_attempt(error, raw.get("id"), livemode=raw.get("livemode") is True),
        refunds=tuple(refunds_listed(charge)),
        payment_method_id=_id_of(raw.get("payment_method")),
        customer_id=_id_of(raw.get("customer")),
    )


def _id_of(value: Any) -> str | None:
    """An id Stripe gives as a string, or inside its object when expanded."""
    found = value.get("id") if isinstance(value, dict) else value
    return found if isinstance(found, str) and STRIPE_ID.fullmatch(found) else None


def payment_intent_from_charge(
    charge: dict[str, Any], *, expired: bool = False
) -> PaymentIntentSnapshot:
    """What a Charge says about its PaymentIntent, as the snapshot a PaymentIntent would give.

    An uncaptured charge that is `refunded` was released (a void); `charge.expired` means the
    hold lapsed. Stripe reports both on the charge, not only on the PaymentIntent.
    """
    captured = bool(charge.get("captured"))
    amount = int(charge.get("amount") or 0)
    taken = int(charge.get("amount_captured") or 0)
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    # A multicapture charge captured in part, with nothing released yet: the rest is still
    # held, as the PaymentIntent (still `requires_capture`) would say.
    still_held = (
        amount - taken - int(charge.get("amount_refunded") or 0)
        if captured
        and not expired
        and (card.get("multicapture") or {}).get("status") == CardFeatureStatus.AVAILABLE
        else 0
    )
    if charge.get("status") == ChargeStatus.FAILED:
        status = PI.REQUIRES_PAYMENT_METHOD
    elif expired:
        status = PI.CANCELED
    elif still_held > 0:
        status = PI.REQUIRES_CAPTURE
    elif captured:
        status = PI.SUCCEEDED
    elif charge.get("refunded"):
        status = PI.CANCELED
    elif charge.get("status") == ChargeStatus.PENDING:
        status = PI.PROCESSING
    else:
        status = PI.REQUIRES_CAPTURE
    failure = None
    if status == PI.REQUIRES_PAYMENT_METHOD:
        failure = {
            "code": charge.get("failure_code") or "card_declined",
            "message": charge.get("failure_message") or "The card was declined.",
        }
    return payment_intent_snapshot(
        {
            "id": stripe_id(charge.get("payment_intent")) or "",
            "object": "payment_intent",
            "status": status.value,
            "amount": amount,
            "currency": charge.get("currency", ""),
            "amount_capturable": (still_held if captured else amount)
            if status == PI.REQUIRES_CAPTURE
            else 0,
            "amount_received": taken if captured else 0,
            "latest_charge": charge,
            "created": charge.get("created") or 0,
            "cancellation_reason": CancellationReason.AUTOMATIC.value if expired else None,
            "last_payment_error": failure,
            "livemode": charge.get("livemode", False),
            "metadata": charge.get("metadata") or {},
        }
    )


def checkout_session_snapshot(
    raw: dict[str, Any], request_id: str | None = None
) -> CheckoutSessionSnapshot:
    """A Checkout Session as Stripe serialises it (API response or event payload)."""
    intent = raw.get("payment_intent")
    expires = raw.get("expires_at")
    return CheckoutSessionSnapshot(
        id=str(raw["id"]),
        status=str(raw.get("status") or CheckoutSessionStatus.OPEN),
        payment_status=str(raw.get("payment_status") or CheckoutPaymentStatus.UNPAID),
        url=raw.get("url"),
        payment_intent_id=intent["id"] if isinstance(intent, dict) else intent,
        expires_at=datetime.fromtimestamp(int(expires), UTC) if expires else None,
        request_id=request_id,
    )


@dataclass(frozen=True)
class RefundFacts:
    """A refund as an event reports it, with the key our refunds carry in their metadata."""

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
        id=stripe_id(obj.get("id")) or "",
        amount=int(obj.get("amount") or 0),
        status=str(obj.get("status") or RefundStatus.PENDING),
        payment_intent_id=stripe_id(obj.get("payment_intent")),
        charge_id=stripe_id(obj.get("charge")),
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
    has_evidence: bool = False
    submission_count: int = 0
    past_due: bool = False


def dispute_from_event(obj: dict[str, Any]) -> DisputeFacts:
    found = obj.get("evidence_details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    due = details.get("due_by")
    return DisputeFacts(
        id=stripe_id(obj.get("id")) or "",
        amount=int(obj.get("amount") or 0),
        currency=_currency(obj.get("currency")),
        reason=_word(obj.get("reason"), "general", 64),
        status=_word(obj.get("status"), DisputeStatus.NEEDS_RESPONSE, 32),
        charge_id=stripe_id(obj.get("charge")),
        payment_intent_id=stripe_id(obj.get("payment_intent")),
        evidence_due_by=datetime.fromtimestamp(int(due), UTC) if isinstance(due, int) else None,
        has_evidence=details.get("has_evidence") is True,
        submission_count=count if isinstance(count := details.get("submission_count"), int) else 0,
        past_due=details.get("past_due") is True,
    )


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
    own_id = stripe_id(obj.get("id"))
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    order_id = metadata.get("order_id") if metadata else None
    return ObjectRefs(
        object_type=kind,
        object_id=own_id,
        order_id=order_id if isinstance(order_id, str) else None,
        client_reference_id=stripe_id(obj.get("client_reference_id")),
        payment_intent_id=own_id
        if kind == "payment_intent"
        else stripe_id(obj.get("payment_intent")),
        checkout_session_id=own_id if kind == "checkout.session" else None,
        charge_id=own_id if kind == "charge" else stripe_id(obj.get("charge")),
    )


def stripe_id(value: Any) -> str | None:
    """An id from a field that holds either the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and STRIPE_ID.fullmatch(value) else None


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
        "cus_": "customers/",
    }
    for prefix, path in paths.items():
        if object_id.startswith(prefix):
            mode = "" if livemode else "test/"
            return f"https://dashboard.stripe.com/{mode}{path}{object_id}"
    return None


def request_id_of(obj: Any) -> str | None:
    """The id Stripe gave the request that answered with this SDK object (on its
    `last_response`), if any."""
    response = getattr(obj, "last_response", None)
    return getattr(response, "request_id", None) if response is not None else None
