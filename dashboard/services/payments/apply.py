"""Applying what Stripe says (an API answer, a webhook's object, a re-read) to an order:
forward only, through the state machine and the versioned mapping, each move on the
timeline and, where other systems care, in the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from dashboard.domain.buyer_words import CHECKOUT_EXPIRED, decline_sentence
from dashboard.domain.orders import OrderState
from dashboard.domain.state_machine import (
    Ignored,
    IllegalTransition,
    PaymentEvent,
    StaffAction,
    Transition,
    next_state,
    path_to,
)
from dashboard.domain.stripe_mapping import (
    CHECKOUT_SESSION_STATUS,
    MAPPING_VERSION,
    UnmappedStatus,
    event_for_payment_intent,
    implausible,
)
from dashboard.extensions import db
from dashboard.models import Order, RequestStatus, StripeRequest, TimelineKind, utcnow
from dashboard.payments.snapshots import CheckoutSessionSnapshot, PaymentIntentSnapshot
from dashboard.services import alerts, outbox, saved_cards, timeline
from dashboard.services.outbox import OutboxType
from dashboard.services.payments import records


@dataclass(frozen=True)
class Refused:
    """Stripe's answer was not applied at all: its amounts cannot be this payment's."""

    reason: str


def apply_payment_intent(
    order: Order, snapshot: PaymentIntentSnapshot, *, source: str
) -> Transition | Ignored | Refused | None:
    """Move the order forward to what the PaymentIntent says; never backwards.

    A payment captured and refunded elsewhere (Stripe's Dashboard) can be read while the
    order still shows the hold: it is walked through the capture first (`path_to`). Amounts
    no payment can have (`implausible`) are not applied: the order stays as it was, and the
    timeline says why.
    """
    problem = implausible(snapshot.amounts, capture_limit=snapshot.capture_limit)
    if problem is not None:
        timeline.append(
            order,
            TimelineKind.STATE_CHANGE,
            f"Not applied ({source}): {problem}",
            data={"source": source, "refused": problem, "mapping_version": MAPPING_VERSION},
        )
        return Refused(f"Not applied: {problem}.")
    if order.stripe_payment_intent_id is None:
        order.stripe_payment_intent_id = snapshot.id
    event = payment_event(snapshot)
    if snapshot.charge_id and event is not PaymentEvent.FAILED:
        # A declined attempt's charge holds no money: a late report of it (after a retry's
        # hold) must not take the place of the charge that does.
        order.stripe_charge_id = snapshot.charge_id
    outcome: Transition | Ignored | None = None
    for step in path_to(order.order_state, event) if event is not None else ():
        try:
            outcome = move(
                order,
                step,
                source=source,
                detail=f"payment intent {snapshot.status}",
                facts=_facts(order, step, snapshot),
            )
        except IllegalTransition as illegal:
            outcome = refuse(order, step, source=source, reason=str(illegal))
        if isinstance(outcome, Transition):
            _take_amounts(order, step, snapshot)
    if event is PaymentEvent.AUTHORIZED and order.order_state is OrderState.AUTHORIZED:
        _take_larger_hold(order, snapshot, source=source)
    if snapshot.capture_before and order.order_state in _HELD:
        # The card's own deadline (extended authorization, or a network's rules) is the
        # truth, whenever the charge reports it: the capture queue and the sweep use it.
        order.capture_before = snapshot.capture_before
    records.note_payment_intent(order, snapshot)
    saved_cards.note_saved_card(order, snapshot)
    return outcome


_HELD = (OrderState.AUTHORIZED, OrderState.PARTLY_CAPTURED)


def _take_larger_hold(order: Order, snapshot: PaymentIntentSnapshot, *, source: str) -> None:
    """An incremented authorization (the hold grew, the state did not change): take the new
    amounts, once, from whichever report shows them first; an older, smaller one changes
    nothing."""
    amounts = snapshot.amounts
    if amounts.authorized <= order.amount_authorized:
        return
    before = order.amount_authorized
    order.amount_authorized = amounts.authorized
    order.amount_capturable = max(amounts.capturable, order.amount_capturable)
    timeline.append(
        order,
        TimelineKind.STATE_CHANGE,
        f"Hold raised from {order.money(before)} to {order.money(amounts.authorized)} "
        f"(from {source})",
        data={
            "event": "hold_incremented",
            "from_amount": before,
            "amount": amounts.authorized,
            "source": source,
            "mapping_version": MAPPING_VERSION,
        },
    )


def _facts(order: Order, step: PaymentEvent, snapshot: PaymentIntentSnapshot) -> dict[str, Any]:
    """What the timeline's headline for this step tells in words (the amounts, the hold's
    deadline), and for a failure Stripe's own code and message, which only staff see."""
    amounts = snapshot.amounts
    if step is PaymentEvent.AUTHORIZED:
        return {
            "amount": amounts.capturable or amounts.authorized,
            "capture_before": snapshot.hold_deadline.isoformat(),
        }
    if step is PaymentEvent.PART_CAPTURED:
        return {"amount": amounts.captured, "held": amounts.capturable}
    if step is PaymentEvent.CAPTURED:
        return {
            "amount": amounts.captured,
            "released": max(amounts.authorized - amounts.captured, 0),
        }
    if step in (PaymentEvent.PARTIALLY_REFUNDED, PaymentEvent.REFUNDED):
        return {"refunded": amounts.refunded, "captured": amounts.captured}
    if step in (PaymentEvent.VOIDED, PaymentEvent.EXPIRED):
        return {"released": order.amount_capturable or order.amount_authorized}
    if step is PaymentEvent.FAILED:
        return {
            "stripe_code": snapshot.last_error_code,
            "stripe_message": (snapshot.last_error_message or "")[:500] or None,
        }
    return {}


def payment_event(snapshot: PaymentIntentSnapshot) -> PaymentEvent | None:
    """What the PaymentIntent stands for, through the versioned mapping table."""
    return event_for_payment_intent(
        snapshot.status,
        amounts=snapshot.amounts,
        cancellation_reason=snapshot.cancellation_reason,
        has_failed_attempt=snapshot.last_error_code is not None,
    )


def _take_amounts(order: Order, event: PaymentEvent, snapshot: PaymentIntentSnapshot) -> None:
    amounts = snapshot.amounts
    order.amount_authorized = max(order.amount_authorized, amounts.authorized)
    order.amount_captured = max(order.amount_captured, amounts.captured)
    order.amount_refunded = max(order.amount_refunded, amounts.refunded)
    behind = amounts.captured < order.amount_captured
    if not (behind and event is PaymentEvent.PART_CAPTURED):
        # An older report of a multicapture hold (fewer captures seen) never raises what is
        # still held back up.
        order.amount_capturable = amounts.capturable
    if event is PaymentEvent.AUTHORIZED:
        order.authorized_at = order.authorized_at or utcnow()
        order.capture_before = snapshot.hold_deadline
    if event is PaymentEvent.FAILED and (snapshot.last_error_code or snapshot.last_error_message):
        # The buyer reads it: our sentence for Stripe's code (its message is for developers,
        # and is kept on the timeline for staff).
        order.last_payment_error = decline_sentence(snapshot.last_error_code)
    _emit_for(order, event, snapshot.id, snapshot.charge_id)


def refuse(order: Order, event: PaymentEvent, *, source: str, reason: str) -> Ignored:
    """What Stripe said cannot be applied: keep it visible on the timeline, change nothing."""
    timeline.append(
        order,
        TimelineKind.STATE_CHANGE,
        f"Not applied ({source}): {reason}",
        data={
            "event": event.value,
            "source": source,
            "reason": reason,
            "mapping_version": MAPPING_VERSION,
        },
    )
    return Ignored(state=order.order_state, event=event, reason=reason)


def move(
    order: Order,
    event: PaymentEvent,
    *,
    source: str,
    detail: str,
    facts: dict[str, Any] | None = None,
) -> Transition | Ignored:
    """One step through the state machine, written on the timeline when the state changes
    (with `facts`, what the entry's headline and details tell beyond the states)."""
    outcome = next_state(order.order_state, event)
    if isinstance(outcome, Transition) and outcome.changed:
        order.state = outcome.after.value
        timeline.append(
            order,
            TimelineKind.STATE_CHANGE,
            f"{outcome.before.label} → {outcome.after.label} ({detail}, from {source})",
            data={
                "from": outcome.before.value,
                "to": outcome.after.value,
                "event": event.value,
                "source": source,
                "mapping_version": MAPPING_VERSION,
                **{key: value for key, value in (facts or {}).items() if value is not None},
            },
        )
        if outcome.before is OrderState.AUTHORIZED and outcome.after is OrderState.EXPIRED:
            alerts.hold_lapsed(order)
    return outcome


def _emit_for(
    order: Order, event: PaymentEvent, payment_intent_id: str, charge_id: str | None
) -> None:
    if event is PaymentEvent.CAPTURED:
        outbox.emit(
            order,
            OutboxType.PAYMENT_SUCCEEDED,
            f"{order.id}:{payment_intent_id}",
            payment_intent=payment_intent_id,
            amount_captured=order.amount_captured,
        )
    elif event is PaymentEvent.FAILED:
        attempt_failed(
            order,
            charge_id or payment_intent_id,
            payment_intent=payment_intent_id,
            reason=order.last_payment_error,
        )


def attempt_failed(
    order: Order, attempt: str, *, payment_intent: str | None, reason: str | None
) -> None:
    """Tell other systems that an authorization attempt failed: once per attempt, whichever
    reports it first (the pay page's decline, a webhook, a re-read). `attempt` names it: the
    failed charge (each attempt has its own), or the PaymentIntent when there is none."""
    payload: dict[str, str | None] = {"stage": "authorization", "reason": reason}
    if payment_intent:
        payload["payment_intent"] = payment_intent
    outbox.emit(order, OutboxType.PAYMENT_FAILED, f"{order.id}:{attempt}:authorization", **payload)


def apply_checkout_session(order: Order, session: CheckoutSessionSnapshot, *, source: str) -> None:
    """A session's own news; once it has a PaymentIntent, that PaymentIntent decides."""
    if session.payment_intent_id and order.stripe_payment_intent_id is None:
        order.stripe_payment_intent_id = session.payment_intent_id
    key = (session.status, session.payment_status)
    if key not in CHECKOUT_SESSION_STATUS:
        raise UnmappedStatus("checkout_session", f"{session.status}/{session.payment_status}")
    event = CHECKOUT_SESSION_STATUS[key]
    if event is PaymentEvent.FAILED:
        order.last_payment_error = CHECKOUT_EXPIRED
    if event is not None and order.stripe_payment_intent_id is None:
        try:
            move(order, event, source=source, detail=f"checkout session {session.status}")
        except IllegalTransition as illegal:
            refuse(order, event, source=source, reason=str(illegal))
    db.session.flush()


def count_refund(order: Order, amount: int, *, source: str) -> None:
    """Count one of our refunds, which has just succeeded, exactly once.

    A webhook may have counted it already (its charge's refunded total), so the new total
    is the larger of what the order knows and the sum of our succeeded refunds, never a sum.
    """
    ours = db.session.scalar(
        select(func.coalesce(func.sum(StripeRequest.amount), 0)).where(
            StripeRequest.order_id == order.id,
            StripeRequest.action == StaffAction.REFUND.value,
            StripeRequest.status == RequestStatus.SUCCEEDED.value,
        )
    )
    refunded = min(max(order.amount_refunded, int(ours or 0)), order.amount_captured)
    if refunded <= order.amount_refunded:
        return
    event = (
        PaymentEvent.REFUNDED
        if refunded >= order.amount_captured
        else PaymentEvent.PARTIALLY_REFUNDED
    )
    outcome = move(
        order,
        event,
        source=source,
        detail=f"refund of {order.money(amount)}",
        facts={"amount": amount, "refunded": refunded, "captured": order.amount_captured},
    )
    if isinstance(outcome, Transition):
        order.amount_refunded = refunded
        db.session.flush()
