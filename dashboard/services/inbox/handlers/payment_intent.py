"""`payment_intent.*` events: what the PaymentIntent says, applied forward only, with the
money movements none of our requests asked for (Stripe's Dashboard) named as such."""

from __future__ import annotations

from dashboard.domain.orders import OrderState
from dashboard.domain.state_machine import AFTER_CAPTURE, StaffAction
from dashboard.domain.stripe_mapping import LAPSED_CANCELLATION_REASONS, PaymentIntentStatus
from dashboard.models import IN_FLIGHT, EventStatus, Order, RequestStatus, StripeRequest
from dashboard.payments.gateway import mend_event_object
from dashboard.payments.saved_cards import KEY_METADATA
from dashboard.payments.snapshots import PaymentIntentSnapshot, payment_intent_snapshot
from dashboard.services.inbox.handlers.outcomes import (
    Outcome,
    applied,
    ignored,
    other_attempt,
    result,
)
from dashboard.services.inbox.handlers.registry import MatchedEvent, handles
from dashboard.services.payments import holds, ledger, renewal
from dashboard.services.payments.apply import apply_payment_intent

PI = PaymentIntentStatus
# What the PaymentIntent shows once our capture or void went through.
_DONE = {StaffAction.CAPTURE.value: PI.SUCCEEDED, StaffAction.VOID.value: PI.CANCELED}
# Multicapture and increments: what shows they went through is in the amounts (holds).
_HOLD_ACTIONS = frozenset({StaffAction.PARTIAL_CAPTURE, StaffAction.RELEASE, StaffAction.INCREMENT})
_CAPTURING = frozenset({StaffAction.CAPTURE, StaffAction.PARTIAL_CAPTURE, StaffAction.RELEASE})


@handles(
    "payment_intent.amount_capturable_updated",
    "payment_intent.succeeded",
    "payment_intent.canceled",
    "payment_intent.payment_failed",
    "payment_intent.requires_action",
    "payment_intent.processing",
    rereads_stripe=False,
)
def on_payment_intent(event: MatchedEvent) -> Outcome:
    return apply_snapshot(event, payment_intent_snapshot(mend_event_object(event.object)))


def apply_snapshot(event: MatchedEvent, snapshot: PaymentIntentSnapshot) -> Outcome:
    """Apply what an event says about the order's PaymentIntent (its own, or a charge's)."""
    order = event.order
    source = f"webhook {event.type}"
    sent = event.orders.sent_requests(order)
    renewing = _new_hold(order, snapshot, sent, source)
    if renewing is not None:
        return renewing
    other = other_attempt(order, snapshot.id or None)
    if other is not None:
        return other
    _confirm_in_flight(order, snapshot, sent, source)
    outside = _outside(order, snapshot, sent)
    if outside:
        source = f"{source}; {outside}"
    before = (order.amount_captured, order.amount_refunded)
    outcome = result(
        apply_payment_intent(order, snapshot, source=source),
        f"payment intent {snapshot.status} says nothing new",
    )
    if outcome.status is EventStatus.APPLIED and outside:
        return applied(f"{outcome.reason} ({outside})")
    if (
        outcome.status is EventStatus.IGNORED
        and (order.amount_captured, order.amount_refunded) != before
    ):
        return applied("amounts updated")
    return outcome


def _new_hold(
    order: Order, snapshot: PaymentIntentSnapshot, sent: list[StripeRequest], source: str
) -> Outcome | None:
    """A new hold for the order (re-authorizing, or a new pay link the buyer paid): once it
    holds the money it becomes the order's payment, whichever tells first (this event, the
    call's answer, Check with Stripe, the buyer's return page)."""
    if not snapshot.id or snapshot.id == order.stripe_payment_intent_id:
        return None
    key = snapshot.metadata.get(KEY_METADATA)
    asked = [r for r in sent if r.idempotency_key == key and r.action in renewal.RENEWALS]
    if snapshot.id != order.renewal_payment_intent_id and not asked:
        return None
    if snapshot.status != PI.REQUIRES_CAPTURE:
        return ignored(f"It concerns {snapshot.id}, a new hold not in place yet.")
    for request in asked:
        if request.status in IN_FLIGHT:
            ledger.finish(
                order,
                request,
                RequestStatus.SUCCEEDED,
                what=f"{request.action} (confirmed by {source})",
                object_id=snapshot.id,
            )
    # Applied with other deliveries in one transaction: no Stripe call from here.
    done = renewal.adopt(order, snapshot, source=source, release_now=False)
    return applied(done.message) if done.ok else ignored(done.message)


def _outside(order: Order, snapshot: PaymentIntentSnapshot, sent: list[StripeRequest]) -> str:
    """Name a money movement that none of our requests asked for (Stripe's Dashboard)."""
    actions = {request.action for request in sent}
    notes = []
    if (
        snapshot.status == PI.SUCCEEDED
        and order.order_state not in AFTER_CAPTURE
        and not actions & _CAPTURING
    ):
        notes.append("captured outside the dashboard")
    ours = sum(r.amount or 0 for r in sent if r.action == StaffAction.REFUND)
    if snapshot.amounts.refunded > max(ours, order.amount_refunded):
        notes.append("refund made outside the dashboard")
    if (
        snapshot.status == PI.CANCELED
        and snapshot.cancellation_reason not in LAPSED_CANCELLATION_REASONS
        and StaffAction.VOID not in actions
        and order.order_state is OrderState.AUTHORIZED
    ):
        notes.append("voided outside the dashboard")
    return "; ".join(notes)


def _confirm_in_flight(
    order: Order, snapshot: PaymentIntentSnapshot, sent: list[StripeRequest], source: str
) -> None:
    """An unanswered capture or void that this event shows went through is settled by it."""
    for request in sent:
        if request.status not in IN_FLIGHT:
            continue
        if request.action in _DONE:
            done = snapshot.status == _DONE[request.action]
        else:
            done = request.action in _HOLD_ACTIONS and holds.done_at_stripe(
                request, snapshot, order
            )
        if done:
            ledger.finish(
                order,
                request,
                RequestStatus.SUCCEEDED,
                what=f"{request.action} (confirmed by {source})",
                object_id=snapshot.id,
            )
