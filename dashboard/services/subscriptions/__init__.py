"""Subscriptions: plans (plans), the buyer's links (links) and subscribing (buyer), Stripe's
reports kept (records) and what a renewal's outcome sets off (renewals), staff canceling
and the portal link (staff), and what the pages read (pages).

`uses_payment_method` is asked before a saved card is detached: a card a running
subscription pays with is warned about."""

from __future__ import annotations

from sqlalchemy import select

from dashboard.domain.subscriptions import ENDED
from dashboard.extensions import db
from dashboard.models import Subscription


def uses_payment_method(payment_method_id: str) -> bool:
    """Whether a subscription that has not ended pays with this card."""
    return (
        db.session.scalar(
            select(Subscription.id)
            .where(
                Subscription.default_payment_method == payment_method_id,
                Subscription.status.not_in([status.value for status in ENDED]),
            )
            .limit(1)
        )
        is not None
    )
