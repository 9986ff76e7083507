"""Stripe's subscriptions and invoices read into snapshots, from API answers and event
payloads alike. Fields moved between API versions (a subscription's period onto its items,
an invoice's subscription under `parent`, its payment under `payments`) are read wherever
this version, or localstripe, puts them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SubscriptionSnapshot:
    id: str
    customer_id: str
    status: str
    price_id: str | None
    current_period_start: int | None
    current_period_end: int | None
    cancel_at_period_end: bool
    canceled_at: int | None
    ended_at: int | None
    trial_end: int | None
    default_payment_method: str | None
    latest_invoice_id: str | None
    metadata: dict[str, str]


@dataclass(frozen=True)
class InvoiceSnapshot:
    id: str
    customer_id: str | None
    subscription_id: str | None
    number: str | None
    status: str
    amount_due: int
    amount_paid: int
    currency: str
    billing_reason: str | None
    period_start: int | None
    period_end: int | None
    attempt_count: int
    payment_intent_id: str | None
    charge_id: str | None
    failure_message: str | None
    paid_at: int | None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _items(raw: dict[str, Any]) -> list[dict[str, Any]]:
    items = raw.get("items")
    data = items.get("data") if isinstance(items, dict) else None
    return [item for item in data or [] if isinstance(item, dict)]


def subscription_snapshot(raw: dict[str, Any]) -> SubscriptionSnapshot:
    """A subscription object (API answer or event payload); ValueError if it is not one."""
    if raw.get("object") != "subscription" or not _str(raw.get("id")):
        raise ValueError("not a subscription")
    items = _items(raw)
    first = items[0] if items else {}
    price = first.get("price") or first.get("plan") or raw.get("plan")
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    return SubscriptionSnapshot(
        id=str(raw["id"]),
        customer_id=_str(raw.get("customer")) or "",
        status=str(raw.get("status") or ""),
        price_id=_str(price),
        # This API version keeps the period on each item; older ones (and localstripe)
        # on the subscription.
        current_period_start=_int(first.get("current_period_start"))
        or _int(raw.get("current_period_start")),
        current_period_end=_int(first.get("current_period_end"))
        or _int(raw.get("current_period_end")),
        cancel_at_period_end=bool(raw.get("cancel_at_period_end")),
        canceled_at=_int(raw.get("canceled_at")),
        ended_at=_int(raw.get("ended_at")),
        trial_end=_int(raw.get("trial_end")),
        default_payment_method=_str(raw.get("default_payment_method")),
        latest_invoice_id=_str(raw.get("latest_invoice")),
        metadata={str(k): str(v) for k, v in (metadata or {}).items()},
    )


def invoice_snapshot(raw: dict[str, Any]) -> InvoiceSnapshot:
    """An invoice object (API answer or event payload); ValueError if it is not one."""
    if raw.get("object") != "invoice" or not _str(raw.get("id")):
        raise ValueError("not an invoice")
    parent = raw.get("parent") if isinstance(raw.get("parent"), dict) else {}
    details = (parent or {}).get("subscription_details") or {}
    subscription = _str(details.get("subscription")) or _str(raw.get("subscription"))
    intent, charge = _payment_of(raw)
    charge_obj = raw.get("charge") if isinstance(raw.get("charge"), dict) else {}
    failure = (charge_obj or {}).get("failure_message")
    last_error = raw.get("last_finalization_error") or {}
    transitions = raw.get("status_transitions") or {}
    return InvoiceSnapshot(
        id=str(raw["id"]),
        customer_id=_str(raw.get("customer")),
        subscription_id=subscription,
        number=_str(raw.get("number")),
        status=str(raw.get("status") or "draft"),
        amount_due=_int(raw.get("amount_due")) or 0,
        amount_paid=_int(raw.get("amount_paid")) or 0,
        currency=str(raw.get("currency") or "usd").upper(),
        billing_reason=_str(raw.get("billing_reason")),
        period_start=_int(raw.get("period_start")),
        period_end=_int(raw.get("period_end")),
        attempt_count=_int(raw.get("attempt_count")) or 0,
        payment_intent_id=intent,
        charge_id=charge,
        failure_message=_str(failure)
        or (_str(last_error.get("message")) if isinstance(last_error, dict) else None),
        paid_at=_int(transitions.get("paid_at")) if isinstance(transitions, dict) else None,
    )


def _payment_of(raw: dict[str, Any]) -> tuple[str | None, str | None]:
    """The invoice's PaymentIntent and charge: under `payments` in this API version, at
    the top in older ones (and localstripe)."""
    payments = raw.get("payments")
    for entry in (payments.get("data") if isinstance(payments, dict) else None) or []:
        payment = entry.get("payment") if isinstance(entry, dict) else None
        if isinstance(payment, dict):
            intent = _str(payment.get("payment_intent"))
            charge = _str(payment.get("charge"))
            if intent or charge:
                return intent, charge
    return _str(raw.get("payment_intent")), _str(raw.get("charge"))
