"""`charge.*` events (captured, refunded, expired): what the charge says about its
PaymentIntent, applied as that PaymentIntent's own events are."""

from __future__ import annotations

from dataclasses import replace

from dashboard.payments.gateway import gateway
from dashboard.payments.snapshots import payment_intent_from_charge
from dashboard.services.inbox.handlers.outcomes import Outcome, ignored
from dashboard.services.inbox.handlers.payment_intent import apply_snapshot
from dashboard.services.inbox.handlers.registry import MatchedEvent, handles


@handles("charge.captured", "charge.expired", rereads_stripe=False)
@handles("charge.refunded", rereads_stripe=True)  # when one of the order's refunds failed
def on_charge(event: MatchedEvent) -> Outcome:
    order = event.order
    snapshot = payment_intent_from_charge(event.object, expired=event.type == "charge.expired")
    if not snapshot.id:
        if order.stripe_payment_intent_id is None:
            return ignored("The charge belongs to no payment intent.")
        snapshot = replace(snapshot, id=order.stripe_payment_intent_id)
    if order.refund_failed_at and event.type == "charge.refunded":
        # A refund of this order failed: this payload may still count it. Ask Stripe.
        snapshot = gateway().retrieve_payment_intent(snapshot.id)
    return apply_snapshot(event, snapshot)
