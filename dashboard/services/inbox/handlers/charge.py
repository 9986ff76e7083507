"""`charge.*` events: what a captured, refunded or expired charge says about its
PaymentIntent, applied as that PaymentIntent's own events are; and what any charge says
about the payment itself (card, checks, Radar, decline, fees), kept for the order page."""

from __future__ import annotations

from dataclasses import replace

from dashboard.payments.charges import charge_facts
from dashboard.payments.gateway import gateway
from dashboard.payments.snapshots import payment_intent_from_charge
from dashboard.services.inbox.handlers.outcomes import Outcome, applied, ignored
from dashboard.services.inbox.handlers.payment_intent import apply_snapshot
from dashboard.services.inbox.handlers.registry import MatchedEvent, handles
from dashboard.services.payments import fees, records


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


@handles("charge.succeeded", "charge.failed", "charge.pending", rereads_stripe=False)
def on_charge_details(event: MatchedEvent) -> Outcome:
    """An attempt's card, checks and outcome (an earlier attempt's too: its decline is
    part of the order's story)."""
    facts = charge_facts(event.object)
    if facts is None:
        return ignored("The event's object is not a charge.")
    records.keep_attempt(event.order, facts)
    return applied(f"details of charge {facts.id} kept ({facts.status or 'no status'})")


@handles("charge.updated", rereads_stripe=True)  # to read a balance transaction it names
def on_charge_updated(event: MatchedEvent) -> Outcome:
    """A charge's details changed; most often, its balance transaction (fee and net)
    exists now, and is read."""
    order = event.order
    facts = charge_facts(event.object)
    if facts is None:
        return ignored("The event's object is not a charge.")
    records.keep_attempt(order, facts)
    if facts.id == order.stripe_charge_id and facts.amount_captured:
        records.note_capture_balance_id(order, facts.balance_transaction_id)
    found = fees.fetch_missing(order)
    fetched = f"; {found} balance transaction(s) read" if found else ""
    return applied(f"details of charge {facts.id} kept{fetched}")
