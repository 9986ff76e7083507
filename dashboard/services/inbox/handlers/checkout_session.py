"""`checkout.session.*` events: the session's own news, and once it is complete, the hold
as its PaymentIntent (re-read from Stripe) says it is."""

from __future__ import annotations

from dashboard.domain.buyer_words import DELAYED_PAYMENT_FAILED
from dashboard.domain.state_machine import Ignored, IllegalTransition, PaymentEvent, Transition
from dashboard.domain.stripe_mapping import CheckoutSessionStatus
from dashboard.payments.gateway import gateway
from dashboard.payments.snapshots import checkout_session_snapshot
from dashboard.services.inbox.handlers.outcomes import (
    Outcome,
    applied,
    ignored,
    other_attempt,
    result,
)
from dashboard.services.inbox.handlers.registry import MatchedEvent, handles
from dashboard.services.payments.apply import apply_checkout_session, apply_payment_intent, move


@handles(
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    rereads_stripe=True,  # a complete session does not say whether the hold is in place
)
@handles(
    "checkout.session.expired",
    "checkout.session.async_payment_failed",
    rereads_stripe=False,
)
def on_checkout_session(event: MatchedEvent) -> Outcome:
    order = event.order
    session = checkout_session_snapshot(event.object)
    if order.stripe_checkout_session_id and session.id != order.stripe_checkout_session_id:
        return ignored(
            f"It concerns checkout session {session.id}; the order's session is "
            f"{order.stripe_checkout_session_id}."
        )
    other = other_attempt(order, session.payment_intent_id)
    if other is not None:
        return other
    source = f"webhook {event.type}"
    state = order.order_state
    if event.type == "checkout.session.async_payment_failed":
        order.last_payment_error = DELAYED_PAYMENT_FAILED
        try:
            moved: Transition | Ignored | None = move(
                order, PaymentEvent.FAILED, source=source, detail="delayed payment failed"
            )
        except IllegalTransition as illegal:
            moved = Ignored(state, PaymentEvent.FAILED, str(illegal))
        return result(moved, "")
    apply_checkout_session(order, session, source=source)
    if session.status == CheckoutSessionStatus.COMPLETE and order.stripe_payment_intent_id:
        # The session does not say whether the hold is in place: its PaymentIntent does.
        truth = gateway().retrieve_payment_intent(order.stripe_payment_intent_id)
        return result(
            apply_payment_intent(order, truth, source=f"{source}, payment re-read"),
            f"payment intent {truth.status} says nothing new",
        )
    if order.order_state != state:
        return applied(f"{state.label} → {order.order_state.label}")
    return ignored(f"checkout session {session.status} changes nothing ({state.label.lower()})")
