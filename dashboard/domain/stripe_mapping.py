"""Versioned mapping from Stripe's statuses to payment events on our orders.

Every timeline entry produced through this table records MAPPING_VERSION, so an order's
history says which rules decided it. Change a row: bump the version.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.domain.state_machine import PaymentEvent as E

MAPPING_VERSION = "2026-11-23.3"

# PaymentIntent.status -> event. `requires_payment_method` means "not paid yet", or, after
# an attempt, "that attempt failed"; `canceled` is a void unless Stripe says it lapsed.
PAYMENT_INTENT_STATUS: dict[str, E | None] = {
    "requires_payment_method": None,
    "requires_confirmation": E.STARTED,
    "requires_action": E.ACTION_REQUIRED,
    "processing": E.STARTED,
    "requires_capture": E.AUTHORIZED,
    "succeeded": E.CAPTURED,
    "canceled": E.VOIDED,
}

# cancellation_reason values that mean the hold lapsed rather than being released by us:
# the ones Stripe sets itself. `abandoned` is a reason we give when voiding (as are
# `duplicate`, `fraudulent`, `requested_by_customer`), so it reads as a void.
LAPSED_CANCELLATION_REASONS = frozenset({"automatic", "expired"})

# Checkout Session (status, payment_status) -> event. A complete session's hold is read
# from its PaymentIntent, whose status is the truth; None here means "ask the PI". An
# expired session is a failed attempt, not a lapsed order: the buyer's link still works.
CHECKOUT_SESSION_STATUS: dict[tuple[str, str], E | None] = {
    ("open", "unpaid"): E.STARTED,
    ("open", "paid"): E.STARTED,
    ("open", "no_payment_required"): E.STARTED,
    ("complete", "unpaid"): None,
    ("complete", "paid"): None,
    ("complete", "no_payment_required"): None,
    ("expired", "unpaid"): E.FAILED,
    ("expired", "paid"): None,
    ("expired", "no_payment_required"): E.FAILED,
}

# Charge.status -> what it says on its own (capture and refunds come from amounts).
CHARGE_STATUS: dict[str, E | None] = {
    "pending": E.STARTED,
    "succeeded": None,
    "failed": E.FAILED,
}

# Refund.status -> whether the refunded amount counts.
REFUND_STATUS_COUNTS: dict[str, bool] = {
    "pending": True,
    "requires_action": True,
    "succeeded": True,
    "failed": False,
    "canceled": False,
}


@dataclass(frozen=True)
class Amounts:
    """What a PaymentIntent says about money, in minor units."""

    authorized: int
    capturable: int
    captured: int
    refunded: int


def event_for_payment_intent(
    status: str,
    *,
    amounts: Amounts,
    cancellation_reason: str | None = None,
    has_failed_attempt: bool = False,
) -> E | None:
    """The event a PaymentIntent in this state stands for, or None if it says nothing yet."""
    if status not in PAYMENT_INTENT_STATUS:
        raise UnmappedStatus("payment_intent", status)
    if status == "requires_payment_method":
        return E.FAILED if has_failed_attempt else None
    if status == "canceled" and cancellation_reason in LAPSED_CANCELLATION_REASONS:
        return E.EXPIRED
    if status == "succeeded" and amounts.refunded > 0:
        return E.REFUNDED if amounts.refunded >= amounts.captured else E.PARTIALLY_REFUNDED
    return PAYMENT_INTENT_STATUS[status]


class UnmappedStatus(ValueError):
    """Stripe sent a status this version of the table does not know; handled as a failure."""

    def __init__(self, kind: str, status: str) -> None:
        super().__init__(f"{kind} status {status!r} is not in mapping {MAPPING_VERSION}")
        self.kind = kind
        self.status = status
