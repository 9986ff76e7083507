"""`customer.subscription.*` events: the subscription's report kept if it is the latest
(services/subscriptions/records.py), on its own timeline; a trial about to end noted."""

from __future__ import annotations

from dashboard.domain.subscriptions import status_of
from dashboard.models import StripeEvent
from dashboard.payments.subscription_snapshots import subscription_snapshot
from dashboard.services import customers
from dashboard.services.inbox.handlers.outcomes import Outcome, applied, flagged, ignored
from dashboard.services.inbox.handlers.registry import handles_customer
from dashboard.services.subscriptions import records

EVENTS = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.trial_will_end",
)


def buyer_email(stripe_customer_id: str) -> str | None:
    """The email we know for a Stripe Customer, if any."""
    customer = customers.by_stripe_id(stripe_customer_id)
    return customer.email if customer is not None else None


@handles_customer(*EVENTS)
def on_subscription(row: StripeEvent) -> Outcome:
    try:
        snapshot = subscription_snapshot(row.data_object)
    except ValueError:
        return ignored("The event carries no subscription.")
    if status_of(snapshot.status) is None:
        return flagged(f"Not applied: Stripe reported an unknown status {snapshot.status!r}.")
    subscription, took = records.apply_subscription(
        snapshot,
        said_at=int(row.created.timestamp()),
        event_id=row.event_id,
        source=f"Stripe event {row.type}",
        email=buyer_email(snapshot.customer_id),
    )
    if row.type == "customer.subscription.trial_will_end" and subscription.trial_end:
        records.note(subscription, f"The free trial ends on {subscription.trial_end:%d %b %Y}")
    outcome = (
        applied(f"subscription {snapshot.id}: {subscription.status}")
        if took
        else ignored(
            f"An earlier report of subscription {snapshot.id}: it stays {subscription.status}."
        )
    )
    records.note(
        subscription,
        f"Stripe event {row.type}: {outcome.status.value}, {outcome.reason}",
        data={"event_id": row.event_id},
    )
    return outcome
