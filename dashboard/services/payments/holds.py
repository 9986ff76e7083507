"""Beyond a single capture: what the card network granted the order's hold (read from its
charge as Stripe reported it, never by calling Stripe), Stripe's limits on several captures
and larger holds, and how the new money calls are sent and their answers applied.

The calls are registered with `staff.send` (the one path every money call takes), so each
keeps the guarantees of a capture: its key saved before the call, one money action in
flight per order, an unknown outcome settled by re-reading (`settle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, func, or_, select

from dashboard.domain.state_machine import StaffAction
from dashboard.domain.stripe_mapping import CardFeatureStatus, PaymentIntentStatus
from dashboard.extensions import db
from dashboard.models import Order, RequestStatus, StripeRequest, TimelineKind
from dashboard.payments.charges import ChargeFacts
from dashboard.payments.gateway import gateway
from dashboard.payments.snapshots import PaymentIntentSnapshot
from dashboard.services import timeline
from dashboard.services.payments import records
from dashboard.services.payments.apply import apply_payment_intent

# Stripe's limits: captures on one multicapture hold, increment attempts (declines count).
MAX_CAPTURES = 50
MAX_INCREMENT_ATTEMPTS = 10
# A request closed because Stripe showed it never happened: no attempt was used up.
NOT_AT_STRIPE = "not_found_at_stripe"

# What staff read for a feature's status on the charge.
FEATURE_WORDS = {
    CardFeatureStatus.AVAILABLE.value: "Granted",
    CardFeatureStatus.UNAVAILABLE.value: "Not offered by the card network",
}


@dataclass(frozen=True)
class Grants:
    """What the hold's charge says the network granted (None: not asked, or not reported)."""

    extended_authorization: str | None = None
    incremental_authorization: str | None = None
    multicapture: str | None = None
    overcapture: str | None = None
    overcapture_maximum: int | None = None
    capture_before: datetime | None = None

    @property
    def multicapture_granted(self) -> bool:
        return self.multicapture == CardFeatureStatus.AVAILABLE

    @property
    def increment_granted(self) -> bool:
        return self.incremental_authorization == CardFeatureStatus.AVAILABLE

    @property
    def overcapture_granted(self) -> bool:
        return self.overcapture == CardFeatureStatus.AVAILABLE and bool(self.overcapture_maximum)

    @property
    def reported(self) -> bool:
        return any(
            status is not None
            for status in (
                self.extended_authorization,
                self.incremental_authorization,
                self.multicapture,
                self.overcapture,
            )
        )


def grants(order: Order) -> Grants:
    """The order's hold's grants, from its charge's kept facts."""
    if order.stripe_charge_id is None:
        return Grants()
    for attempt in records.attempts(order):
        if attempt.attempt_key == order.stripe_charge_id:
            facts = ChargeFacts.from_stored(attempt.details)
            deadline = facts.capture_before
            return Grants(
                extended_authorization=facts.extended_authorization,
                incremental_authorization=facts.incremental_authorization,
                multicapture=facts.multicapture,
                overcapture=facts.overcapture,
                overcapture_maximum=facts.overcapture_maximum,
                capture_before=datetime.fromtimestamp(deadline, UTC) if deadline else None,
            )
    return Grants()


def captures_made(order: Order) -> int:
    """Captures of this hold Stripe accepted, or may have (one still awaiting an answer)."""
    return _count(order, (StaffAction.CAPTURE, StaffAction.PARTIAL_CAPTURE))


def increment_attempts(order: Order) -> int:
    """Increment attempts used up: every one sent, declines included (Stripe counts them)."""
    return _count(order, (StaffAction.INCREMENT,), declines_count=True)


def _count(order: Order, actions: tuple[StaffAction, ...], *, declines_count: bool = False) -> int:
    statuses = [RequestStatus.SUCCEEDED.value, RequestStatus.PENDING.value]
    statuses.append(RequestStatus.UNKNOWN.value)
    condition: ColumnElement[bool] = StripeRequest.status.in_(statuses)
    if declines_count:
        condition = or_(
            condition,
            and_(
                StripeRequest.status == RequestStatus.FAILED.value,
                func.coalesce(StripeRequest.error_code, "") != NOT_AT_STRIPE,
            ),
        )
    return (
        db.session.scalar(
            select(func.count(StripeRequest.id)).where(
                StripeRequest.order_id == order.id,
                StripeRequest.action.in_([action.value for action in actions]),
                condition,
            )
        )
        or 0
    )


def capture_ceiling(order: Order) -> int:
    """The most one capture may take now: what is held, or with overcapture granted (and
    nothing captured yet) up to the network's maximum."""
    found = grants(order)
    if found.overcapture_granted and order.amount_captured == 0 and found.overcapture_maximum:
        return max(order.amount_capturable, found.overcapture_maximum)
    return order.amount_capturable


# -- the calls ----------------------------------------------------------------------------


def call_partial_capture(payment_intent_id: str, request: StripeRequest) -> PaymentIntentSnapshot:
    return gateway().capture_payment_intent(
        payment_intent_id,
        amount=request.amount or 0,
        idempotency_key=request.idempotency_key,
        final_capture=False,
    )


def applied_partial_capture(
    order: Order, answer: PaymentIntentSnapshot, request: StripeRequest
) -> str:
    apply_payment_intent(order, answer, source="partial capture response")
    return (
        f"Captured {order.money(request.amount or 0)}; {order.money(order.amount_capturable)} "
        "is still held for later captures."
    )


def call_release(payment_intent_id: str, request: StripeRequest) -> PaymentIntentSnapshot:
    # With multicapture, canceling after partial captures releases only what is still held.
    return gateway().cancel_payment_intent(
        payment_intent_id, reason=None, idempotency_key=request.idempotency_key
    )


def applied_release(order: Order, answer: PaymentIntentSnapshot, request: StripeRequest) -> str:
    apply_payment_intent(order, answer, source="release response")
    return (
        f"The rest of the hold was released. {order.money(order.amount_captured)} captured in all."
    )


def call_increment(payment_intent_id: str, request: StripeRequest) -> PaymentIntentSnapshot:
    return gateway().increment_authorization(
        payment_intent_id, amount=request.amount or 0, idempotency_key=request.idempotency_key
    )


def applied_increment(order: Order, answer: PaymentIntentSnapshot, request: StripeRequest) -> str:
    apply_payment_intent(order, answer, source="increment response")
    return f"The bank raised the hold to {order.money(order.amount_authorized)}."


def increment_declined(order: Order, request: StripeRequest, message: str) -> str:
    """A declined increment: the earlier hold stays; the page and the timeline say so."""
    left = MAX_INCREMENT_ATTEMPTS - increment_attempts(order)
    said = (
        f"The bank declined a hold of {order.money(request.amount or 0)}. The hold of "
        f"{order.money(order.amount_capturable)} stays as it was. "
        f"{left} of {MAX_INCREMENT_ATTEMPTS} attempts left."
    )
    timeline.append(
        order,
        TimelineKind.STATE_CHANGE,
        said,
        data={
            "event": "increment_declined",
            "amount": request.amount,
            "kept": order.amount_capturable,
            "attempts_left": left,
            "stripe_message": message[:500],
        },
    )
    return said


def done_at_stripe(request: StripeRequest, truth: PaymentIntentSnapshot, order: Order) -> bool:
    """Whether a re-read PaymentIntent shows this request went through."""
    action = StaffAction(request.action)
    if action is StaffAction.PARTIAL_CAPTURE:
        ours = _succeeded_captured(order)
        return truth.amounts.captured >= ours + (request.amount or 0)
    if action is StaffAction.RELEASE:
        return truth.status in (PaymentIntentStatus.SUCCEEDED, PaymentIntentStatus.CANCELED)
    if action is StaffAction.INCREMENT:
        return truth.amounts.authorized >= (request.amount or 0)
    return False


def _succeeded_captured(order: Order) -> int:
    """What our answered captures took: a partial capture shows once Stripe's captured
    total goes beyond it."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(StripeRequest.amount), 0)).where(
                StripeRequest.order_id == order.id,
                StripeRequest.action.in_(
                    [StaffAction.CAPTURE.value, StaffAction.PARTIAL_CAPTURE.value]
                ),
                StripeRequest.status == RequestStatus.SUCCEEDED.value,
            )
        )
        or 0
    )
