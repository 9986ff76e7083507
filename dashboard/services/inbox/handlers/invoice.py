"""`invoice.finalized`, `invoice.paid` and `invoice.payment_failed` of a subscription: the
invoice kept moving forward only (services/subscriptions/records.py); a renewal's outcome
goes to the outbox, and a failed one alerts staff (services/subscriptions/renewals.py)."""

from __future__ import annotations

from dashboard.models import StripeEvent
from dashboard.payments.subscription_snapshots import invoice_snapshot
from dashboard.services.inbox.handlers.outcomes import Outcome, applied, ignored
from dashboard.services.inbox.handlers.registry import handles_customer
from dashboard.services.subscriptions import records

EVENTS = ("invoice.finalized", "invoice.paid", "invoice.payment_failed")


@handles_customer(*EVENTS)
def on_invoice(row: StripeEvent) -> Outcome:
    try:
        snapshot = invoice_snapshot(row.data_object)
    except ValueError:
        return ignored("The event carries no invoice.")
    if snapshot.subscription_id is None:
        return ignored(f"Invoice {snapshot.id} belongs to no subscription.")
    # An invoice may come before its subscription's own events: its row is made then,
    # and takes the subscription's report when that arrives.
    records.placeholder(snapshot.subscription_id, snapshot.customer_id or "")
    invoice = records.apply_invoice(
        snapshot, event_type=row.type, source=f"Stripe event {row.type}"
    )
    assert invoice is not None
    subscription = records.locked(snapshot.subscription_id)
    assert subscription is not None
    reason = f"invoice {snapshot.id}: {invoice.status}" + (
        ", payment failed" if invoice.payment_failed and invoice.status != "paid" else ""
    )
    records.note(
        subscription,
        f"Stripe event {row.type}: applied, {reason}",
        data={"event_id": row.event_id},
    )
    return applied(reason)
