"""Stripe's status vocabulary, named once, and the versioned mapping from it to our events.

The enums are the statuses Stripe documents for each object (tests compare them with the
installed SDK's). They live here, beside the tables keyed by them, rather than beside the
snapshots in `payments/`: the domain imports nothing outside itself, and the snapshots import
these. Every timeline entry produced through the tables records MAPPING_VERSION, so an
order's history says which rules decided it. Change a row: bump the version.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dashboard.domain.money import MAX_AMOUNT_MINOR
from dashboard.domain.state_machine import PaymentEvent as E

MAPPING_VERSION = "2026-12-06.1"


class PaymentIntentStatus(StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    SUCCEEDED = "succeeded"
    CANCELED = "canceled"


class CheckoutSessionStatus(StrEnum):
    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


class CheckoutPaymentStatus(StrEnum):
    PAID = "paid"
    UNPAID = "unpaid"
    NO_PAYMENT_REQUIRED = "no_payment_required"


class ChargeStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RefundStatus(StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


class RefundReason(StrEnum):
    """Why a refund was made: a reason staff give, or Stripe's own for a lapsed charge."""

    DUPLICATE = "duplicate"
    EXPIRED_UNCAPTURED_CHARGE = "expired_uncaptured_charge"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"


class CardFeatureStatus(StrEnum):
    """What a charge says of a card feature it asked for (overcapture, multicapture,
    extended and incremental authorization)."""

    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"


class DisputeStatus(StrEnum):
    WARNING_NEEDS_RESPONSE = "warning_needs_response"
    WARNING_UNDER_REVIEW = "warning_under_review"
    WARNING_CLOSED = "warning_closed"
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
    PREVENTED = "prevented"
    APPEAL_NEEDS_RESPONSE = "appeal_needs_response"
    APPEAL_UNDER_REVIEW = "appeal_under_review"


class CancellationReason(StrEnum):
    """Why a PaymentIntent was canceled: by Stripe itself, or a reason given when voiding."""

    AUTOMATIC = "automatic"
    EXPIRED = "expired"
    ABANDONED = "abandoned"
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"
    FAILED_INVOICE = "failed_invoice"
    VOID_INVOICE = "void_invoice"


PI = PaymentIntentStatus

# PaymentIntent.status -> event. `requires_payment_method` means "not paid yet", or, after
# an attempt, "that attempt failed"; `canceled` is a void unless Stripe says it lapsed.
PAYMENT_INTENT_STATUS: dict[str, E | None] = {
    PI.REQUIRES_PAYMENT_METHOD: None,
    PI.REQUIRES_CONFIRMATION: E.STARTED,
    PI.REQUIRES_ACTION: E.ACTION_REQUIRED,
    PI.PROCESSING: E.STARTED,
    PI.REQUIRES_CAPTURE: E.AUTHORIZED,
    PI.SUCCEEDED: E.CAPTURED,
    PI.CANCELED: E.VOIDED,
}

# The statuses in which a PaymentIntent still waits for the buyer: it can be paid again.
PAYABLE_STATUSES = frozenset(
    {PI.REQUIRES_PAYMENT_METHOD, PI.REQUIRES_CONFIRMATION, PI.REQUIRES_ACTION}
)

# cancellation_reason values that mean the hold lapsed rather than being released by us:
# the ones Stripe sets itself. `abandoned` is a reason we give when voiding (as are
# `duplicate`, `fraudulent`, `requested_by_customer`), so it reads as a void.
LAPSED_CANCELLATION_REASONS = frozenset({CancellationReason.AUTOMATIC, CancellationReason.EXPIRED})

CS = CheckoutSessionStatus
PAID = CheckoutPaymentStatus

# Checkout Session (status, payment_status) -> event. A complete session's hold is read
# from its PaymentIntent, whose status is the truth; None here means "ask the PI". An
# expired session is a failed attempt, not a lapsed order: the buyer's link still works.
CHECKOUT_SESSION_STATUS: dict[tuple[str, str], E | None] = {
    (CS.OPEN, PAID.UNPAID): E.STARTED,
    (CS.OPEN, PAID.PAID): E.STARTED,
    (CS.OPEN, PAID.NO_PAYMENT_REQUIRED): E.STARTED,
    (CS.COMPLETE, PAID.UNPAID): None,
    (CS.COMPLETE, PAID.PAID): None,
    (CS.COMPLETE, PAID.NO_PAYMENT_REQUIRED): None,
    (CS.EXPIRED, PAID.UNPAID): E.FAILED,
    (CS.EXPIRED, PAID.PAID): None,
    (CS.EXPIRED, PAID.NO_PAYMENT_REQUIRED): E.FAILED,
}

# Refund.status -> whether the refunded amount counts. One that does not (failed, canceled)
# returns the money to the merchant after Stripe had accepted the refund.
REFUND_STATUS_COUNTS: dict[str, bool] = {
    RefundStatus.PENDING: True,
    RefundStatus.REQUIRES_ACTION: True,
    RefundStatus.SUCCEEDED: True,
    RefundStatus.FAILED: False,
    RefundStatus.CANCELED: False,
}


def refund_counts(status: str) -> bool:
    """Whether a refund in this status takes money back to the buyer. A status this table
    does not know counts, as a pending one does: Stripe's refunded amounts decide."""
    return REFUND_STATUS_COUNTS.get(status, True)


D = DisputeStatus

# How far along a dispute is, for every status Stripe lists: a late "created" never reopens a
# closed dispute; a closed one moves on only to an appeal, and an appeal to its outcome.
DISPUTE_RANK: dict[str, int] = {
    D.WARNING_NEEDS_RESPONSE: 0,
    D.NEEDS_RESPONSE: 0,
    D.WARNING_UNDER_REVIEW: 1,
    D.UNDER_REVIEW: 1,
    D.WON: 2,
    D.LOST: 2,
    D.WARNING_CLOSED: 2,
    D.PREVENTED: 2,
    D.APPEAL_NEEDS_RESPONSE: 3,
    D.APPEAL_UNDER_REVIEW: 4,
}
# A closed dispute's outcome, as staff read it.
DISPUTE_OUTCOMES: dict[str, str] = {
    D.WON: "Won",
    D.LOST: "Lost",
    D.WARNING_CLOSED: "Closed (inquiry)",
    D.PREVENTED: "Prevented",
}
DISPUTE_APPEALS = frozenset({D.APPEAL_NEEDS_RESPONSE, D.APPEAL_UNDER_REVIEW})
# Still to be decided (appeals included): what Home counts as open, and what its link lists.
OPEN_DISPUTES = tuple(status.value for status in D if status not in DISPUTE_OUTCOMES)


def dispute_status_follows(current: str, new: str) -> bool:
    """Whether a dispute at `current` may take `new`: forward only, where an appeal follows a
    close and the appeal's outcome (won or lost again) follows the appeal. A status this
    table does not know ranks first, so it moves nothing back."""
    if current in DISPUTE_APPEALS and new in DISPUTE_OUTCOMES:
        return True
    return DISPUTE_RANK.get(new, 0) >= DISPUTE_RANK.get(current, 0)


@dataclass(frozen=True)
class Amounts:
    """What a PaymentIntent says about money, in minor units."""

    authorized: int
    capturable: int
    captured: int
    refunded: int


def implausible(amounts: Amounts, *, capture_limit: int) -> str | None:
    """Why these amounts cannot be a payment's, or None when they can.

    No amount is negative or beyond the largest Stripe charges, and nothing is captured or
    held beyond `capture_limit`: the authorized amount, or more where Stripe reports that
    the card allows overcapture. Applied anyway, such amounts would show money that never
    moved (or overflow the database, and fail the event forever).
    """
    for name, value in (
        ("authorized", amounts.authorized),
        ("held", amounts.capturable),
        ("captured", amounts.captured),
        ("refunded", amounts.refunded),
    ):
        if not 0 <= value <= MAX_AMOUNT_MINOR:
            return f"the {name} amount {value} is beyond what Stripe can charge"
    ceiling = max(amounts.authorized, capture_limit)
    if amounts.captured > ceiling:
        return f"the captured amount {amounts.captured} is more than the hold allows ({ceiling})"
    if amounts.capturable > ceiling:
        return f"the held amount {amounts.capturable} is more than the hold allows ({ceiling})"
    return None


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
    if status == PI.REQUIRES_PAYMENT_METHOD:
        return E.FAILED if has_failed_attempt else None
    if status == PI.REQUIRES_CAPTURE and amounts.captured > 0:
        # Multicapture: Stripe keeps `requires_capture` between captures, with money received.
        return E.PART_CAPTURED
    if status == PI.CANCELED and amounts.captured > 0:
        # A multicapture hold canceled (or lapsed) after captures: the rest was released and
        # what was captured stays captured.
        return E.CAPTURED
    if status == PI.CANCELED and cancellation_reason in LAPSED_CANCELLATION_REASONS:
        return E.EXPIRED
    if status == PI.SUCCEEDED and amounts.refunded > 0:
        return E.REFUNDED if amounts.refunded >= amounts.captured else E.PARTIALLY_REFUNDED
    return PAYMENT_INTENT_STATUS[status]


class UnmappedStatus(ValueError):
    """Stripe sent a status this version of the table does not know; handled as a failure."""

    def __init__(self, kind: str, status: str) -> None:
        super().__init__(f"{kind} status {status!r} is not in mapping {MAPPING_VERSION}")
        self.kind = kind
        self.status = status
