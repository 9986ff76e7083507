"""The buyer's side: the subscribe link's page, subscribing (Stripe Checkout in
`mode=subscription`; in the sandbox a test card confirmed against localstripe), and the
billing link that opens Stripe's customer portal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from dashboard.domain.emails import normalize_email
from dashboard.domain.subscriptions import ENDED, SubscriptionStatus, status_of
from dashboard.extensions import db
from dashboard.models import Plan, Subscription, utcnow
from dashboard.payments.gateway import gateway, is_sandbox
from dashboard.payments.localstripe_compat import SANDBOX_CARDS
from dashboard.services import customers, payment_methods
from dashboard.services.payments.results import ActionRefused, ActionResult
from dashboard.services.subscriptions import links, plans, records

WITHDRAWN = "This plan is no longer offered. Ask the shop for a new link."


@dataclass(frozen=True)
class Offer:
    token: str
    plan: Plan
    email: str
    name: str
    sandbox: bool
    subscription: Subscription | None  # this buyer's running subscription to the plan


def link_for(plan_id: int, email: str, name: str) -> str:
    """A buyer's subscribe link to a plan on sale (plans.PlanNotFound, or ActionRefused
    for a withdrawn one)."""
    plan = plans.get(plan_id)
    if not plan.active:
        raise ActionRefused("This plan is withdrawn: nobody can subscribe to it any more.")
    return links.subscribe_url(plan.id, normalize_email(email), name.strip())


def offer(token: str) -> Offer:
    """What the link offers; links.LinkInvalid / LinkExpired for a bad link (a link to a
    plan that does not exist names nothing either)."""
    target = links.subscribe_target(token)
    plan = db.session.get(Plan, target.plan_id)
    if plan is None:
        raise links.LinkInvalid
    return Offer(
        token,
        plan,
        target.email,
        target.name,
        is_sandbox(current_app.config),
        _running(plan, target.email),
    )


def _running(plan: Plan, email: str) -> Subscription | None:
    return db.session.scalar(
        select(Subscription)
        .where(
            Subscription.plan_id == plan.id,
            Subscription.buyer_email == normalize_email(email),
            Subscription.status.not_in([status.value for status in ENDED]),
        )
        .order_by(Subscription.id.desc())
        .limit(1)
    )


def _startable(token: str) -> Offer:
    found = offer(token)
    db.session.scalar(select(Plan.id).where(Plan.id == found.plan.id).with_for_update())
    if not found.plan.active:
        raise ActionRefused(WITHDRAWN)
    if found.subscription is not None and found.subscription.status in (
        SubscriptionStatus.ACTIVE,
        SubscriptionStatus.TRIALING,
        SubscriptionStatus.PAST_DUE,
    ):
        raise ActionRefused("You are already subscribed to this plan.")
    return found


def stripe_customer(email: str, name: str = "") -> str:
    """The buyer's Stripe Customer: our customer found or made by normalised email, and
    their Stripe Customer made once."""
    return customers.ensure_stripe_customer(customers.find_or_create(email, name or None))


def _keep_card(email: str, payment_method: str) -> None:
    """The card the buyer subscribed with is kept on their customer: subscribing is their
    consent to be charged with it on each renewal."""
    customer = customers.find_or_create(email)
    card = gateway().retrieve_payment_method(payment_method).card
    payment_methods.keep(
        customer, payment_method, card=card, consent_at=utcnow(), source="subscription"
    )


def checkout_url(token: str) -> str:
    """A Checkout Session in subscription mode for the buyer; its page's address."""
    found = _startable(token)
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    page = gateway().create_subscription_checkout(
        price_id=found.plan.stripe_price_id,
        customer_id=stripe_customer(found.email, found.name),
        plan_id=found.plan.id,
        # Stripe puts the session's id in place of the braces: the page re-reads it.
        success_url=f"{base}/subscribe/{token}/done?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{base}/subscribe/{token}",
        idempotency_key=f"subscribe-{found.plan.id}-{uuid.uuid4().hex}",
    )
    return page.url


def confirm_checkout(token: str, session_id: str) -> bool:
    """The buyer is back from Checkout: the session is re-read from Stripe and the
    subscription it made is kept at once, as its webhook would keep it (the latest report
    wins, whichever comes first), so the page shows it and offers no second subscription.
    False if the session is not this link's (another plan, another buyer) or made none."""
    found = offer(token)
    customer = customers.find_by_email(found.email)
    if customer is None or customer.stripe_customer_id is None:
        return False  # this link never went to Checkout
    session = gateway().retrieve_subscription_checkout(session_id)
    if (
        session.mode != "subscription"
        or session.customer_id != customer.stripe_customer_id
        or session.plan_id != str(found.plan.id)
        or session.subscription is None
        or status_of(session.subscription.status) is None
    ):
        return False
    records.apply_subscription(
        session.subscription,
        said_at=int(utcnow().timestamp()),
        event_id=f"api:checkout:{session.id}",
        source="the buyer back from Checkout",
        email=normalize_email(found.email),
    )
    return True


def subscribe_with_test_card(token: str, card: str) -> ActionResult:
    """The sandbox's stand-in for Checkout: the subscription made with a test card."""
    if card not in SANDBOX_CARDS:
        raise ActionRefused("Choose one of the test cards.")
    found = _startable(token)
    email = normalize_email(found.email)
    customer = stripe_customer(email, found.name)
    method = gateway().sandbox_card_payment_method(SANDBOX_CARDS[card][0])
    snapshot = gateway().sandbox_subscribe(
        customer_id=customer,
        price_id=found.plan.stripe_price_id,
        payment_method=method,
        plan_id=found.plan.id,
    )
    row, _ = records.apply_subscription(
        snapshot,
        said_at=int(utcnow().timestamp()),
        event_id=f"api:subscribe:{snapshot.id}",
        source="buyer subscribed",
        email=email,
    )
    # localstripe's subscription names no card of its own: it renews with the customer's
    # default, the one just given.
    row.default_payment_method = row.default_payment_method or method
    _keep_card(email, method)
    for invoice in gateway().list_subscription_invoices(snapshot.id):
        records.apply_invoice(invoice, event_type="", source="buyer subscribed")
    if row.status == SubscriptionStatus.ACTIVE:
        return ActionResult(True, "You are subscribed. The first payment went through.")
    return ActionResult(
        False, "Your bank declined the first payment, so the subscription has not started."
    )


def portal_url(token: str) -> str:
    """Stripe's customer portal for the subscription the billing link names."""
    subscription = db.session.get(Subscription, links.billing_target(token))
    if subscription is None:
        raise links.LinkInvalid
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    page = gateway().create_billing_portal(
        customer_id=subscription.stripe_customer_id, return_url=f"{base}/billing/{token}"
    )
    return page.url
