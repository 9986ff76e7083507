"""What staff do to a subscription: cancel it now or at the end of the period (said
first, then confirmed), and send the buyer a link to Stripe's customer portal.

A cancel takes the order ledger's path: the request and its idempotency key are saved and
committed before Stripe is called, one request may be in flight per subscription (a
partial unique index), and a request whose answer was lost is sent again with the same key
and parameters, so Stripe replays its first answer rather than acting twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from dashboard.domain.subscriptions import ENDED
from dashboard.extensions import db
from dashboard.models import Subscription, SubscriptionRequest, User, utcnow
from dashboard.payments import errors
from dashboard.payments.gateway import gateway
from dashboard.services import mail
from dashboard.services.payments.results import ActionInProgress, ActionRefused, ActionResult
from dashboard.services.subscriptions import links, records
from dashboard.transactions import commit_before_stripe

WHEN = ("now", "period_end")
CHOOSE_WHEN = "Choose to cancel now or at the end of the period."


class SubscriptionNotFound(LookupError):
    pass


@dataclass(frozen=True)
class CancelReview:
    when: str
    sentence: str
    button: str


def _get(subscription_id: int, *, lock: bool = False) -> Subscription:
    query = select(Subscription).where(Subscription.id == subscription_id)
    found = db.session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise SubscriptionNotFound(subscription_id)
    return found


def review_cancel(subscription_id: int, when: str) -> CancelReview:
    """What a cancel will do, in words; ActionRefused when it cannot be done."""
    subscription = _get(subscription_id)
    if when not in WHEN:
        raise ActionRefused(CHOOSE_WHEN)
    if subscription.status in ENDED:
        raise ActionRefused("This subscription has ended already.")
    end = subscription.current_period_end
    until = f"{end:%d %b %Y}" if end else "the end of the period paid for"
    if when == "now":
        return CancelReview(
            when,
            "Cancel the subscription now: it ends at once and the buyer is not charged "
            f"again. The time already paid for (until {until}) is not refunded. "
            "This cannot be undone.",
            "Cancel now",
        )
    if subscription.cancel_at_period_end:
        raise ActionRefused("This subscription already ends at the end of its period.")
    return CancelReview(
        when,
        f"Cancel at the end of the period: the subscription runs until {until}, then ends; "
        "the buyer is not charged again.",
        "Cancel at period end",
    )


def cancel(subscription_id: int, when: str, actor: User) -> ActionResult:
    """Send the confirmed cancel to Stripe (commits its key first) and keep the answer."""
    subscription = _get(subscription_id, lock=True)
    review = review_cancel(subscription.id, when)
    action = f"cancel_{review.when}"
    request = _request_for(subscription, action, actor)
    commit_before_stripe()
    try:
        snapshot = gateway().cancel_subscription(
            subscription.stripe_subscription_id,
            at_period_end=review.when == "period_end",
            idempotency_key=request.idempotency_key,
        )
    except errors.PaymentError as error:
        request = db.session.get(SubscriptionRequest, request.id) or request
        request.status = "unknown" if error.outcome_unknown else "failed"
        request.error_message = error.message[:500]
        request.completed_at = utcnow()
        records.note(subscription, f"Cancel ({review.when}) not done: {error.message}", actor=actor)
        if error.outcome_unknown:
            return ActionResult(
                False,
                "Stripe did not answer. Confirm again: the same request is sent, so it "
                "cannot cancel twice.",
                awaiting_confirmation=True,
            )
        return ActionResult(False, error.message)
    request.status = "succeeded"
    request.completed_at = utcnow()
    records.note(
        subscription,
        f"Cancel {'at period end' if review.when == 'period_end' else 'now'} sent to Stripe",
        actor=actor,
        data={"idempotency_key": request.idempotency_key},
    )
    records.apply_subscription(
        snapshot,
        said_at=int(utcnow().timestamp()),
        event_id=f"api:{request.idempotency_key}",
        source=f"canceled by {actor.email}",
        actor=actor,
    )
    if review.when == "now":
        return ActionResult(True, "The subscription is canceled.")
    return ActionResult(True, "The subscription ends at the end of its period.")


def _request_for(subscription: Subscription, action: str, actor: User) -> SubscriptionRequest:
    """The request to send: a lost one again (same key), or a new one; refused while
    another is waiting for Stripe."""
    waiting = db.session.scalar(
        select(SubscriptionRequest).where(
            SubscriptionRequest.subscription_id == subscription.id,
            SubscriptionRequest.status.in_(("pending", "unknown")),
        )
    )
    if waiting is not None:
        if waiting.status == "unknown" and waiting.action == action:
            waiting.status = "pending"
            db.session.flush()
            return waiting
        raise ActionInProgress("Another request about this subscription is waiting for Stripe.")
    attempt = (
        db.session.scalar(
            select(func.count(SubscriptionRequest.id)).where(
                SubscriptionRequest.subscription_id == subscription.id,
                SubscriptionRequest.action == action,
            )
        )
        or 0
    ) + 1
    request = SubscriptionRequest(
        subscription_id=subscription.id,
        action=action,
        idempotency_key=f"subscription-{subscription.id}-{action}-{attempt}",
        status="pending",
        actor_id=actor.id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(request)
            db.session.flush()
    except IntegrityError:
        raise ActionInProgress(
            "Another request about this subscription is waiting for Stripe."
        ) from None
    return request


def send_portal_link(subscription_id: int, actor: User) -> str:
    """Email the buyer a link to Stripe's customer portal (change their card, cancel); a
    new email each time. Returns the link, for staff to pass on by hand too."""
    subscription = _get(subscription_id)
    if not subscription.buyer_email:
        raise ActionRefused("This subscription has no buyer email to send the link to.")
    link = links.billing_url(subscription.id)
    mail.queue_email(
        subscription.buyer_email,
        "Manage your subscription",
        "Use this link to change the card your subscription is paid with, see your "
        f"invoices, or cancel:\n{link}\n\nThe link works for a limited time.\n",
        kind="subscription_portal",
        dedupe_key=f"{subscription.id}:{uuid.uuid4().hex}",
    )
    records.note(
        subscription, f"Customer portal link emailed to {subscription.buyer_email}", actor=actor
    )
    return link
