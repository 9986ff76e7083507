"""Subscriptions: plans (plans), the buyer's links (links) and subscribing (buyer), Stripe's
reports kept (records) and what a renewal's outcome sets off (renewals), staff canceling
and the portal link (staff), and what the pages read (pages).

`uses_payment_method` is asked before a saved card is detached: a card a running
subscription pays with is warned about."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.domain.subscriptions import ENDED
from dashboard.extensions import db
from dashboard.models import Customer, Plan, Subscription


def using_payment_method(payment_method_id: str) -> list[Subscription]:
    """Subscriptions that have not ended and renew with this card: their own card, or,
    naming none, their customer's default card for invoices."""
    running = [status.value for status in ENDED]
    own = select(Subscription).where(
        Subscription.default_payment_method == payment_method_id,
        Subscription.status.not_in(running),
    )
    by_default = (
        select(Subscription)
        .join(Customer, Customer.id == Subscription.customer_id)
        .where(
            Subscription.default_payment_method.is_(None),
            Customer.default_payment_method_id == payment_method_id,
            Subscription.status.not_in(running),
        )
    )
    found = {row.id: row for row in db.session.scalars(own)}
    found.update({row.id: row for row in db.session.scalars(by_default)})
    return [found[key] for key in sorted(found)]


def uses_payment_method(payment_method_id: str) -> bool:
    """Whether a subscription that has not ended renews with this card."""
    return bool(using_payment_method(payment_method_id))


def names_using(payment_method_id: str) -> list[str]:
    """The subscriptions renewing with this card, in words ("Gold box, renews 01 Feb 2027")."""
    names = []
    for row in using_payment_method(payment_method_id):
        plan = db.session.get(Plan, row.plan_id) if row.plan_id else None
        name = plan.name if plan else row.stripe_subscription_id
        when = f", renews {row.current_period_end:%d %b %Y}" if row.current_period_end else ""
        names.append(f"{name}{when}")
    return names
