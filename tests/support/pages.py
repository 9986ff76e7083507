"""Rows the browser page tests open pages on, as a clerk would meet them: a buyer with a
long address and a saved card, a plan and an active subscription to it, and a dispute that
needs a response, its evidence due in five days, reported by Stripe's signed webhook."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Dispute, Order, Plan, SavedPaymentMethod, Subscription, utcnow
from dashboard.services import customers
from dashboard.services.subscriptions import links
from tests.support.stripe import dispute, send_event, stripe_event

LONG_BUYER = "a.rather.long.address@a-buyer-with-a-long-domain.example"


@dataclass(frozen=True)
class Seeded:
    customer: int
    card: int
    plan: int
    subscription: int
    subscribe_path: str
    billing_path: str


def buyer_with_card_and_subscription(app: Flask) -> Seeded:
    """A buyer with a saved Mastercard, subscribed monthly to a plan with a long name."""
    with app.test_request_context():
        buyer = customers.find_or_create(LONG_BUYER, "A Buyer With Quite A Long Name")
        card = SavedPaymentMethod(
            customer_id=buyer.id,
            stripe_payment_method_id="pm_browser_pages",
            brand="mastercard",
            last4="4444",
            exp_month=4,
            exp_year=2031,
            wallet="google_pay",
            source="save-a-card link",
        )
        plan = Plan(
            name="The monthly coffee club, freshly roasted beans",
            amount=1500,
            currency="USD",
            interval="month",
            interval_count=1,
            stripe_product_id="prod_browser_pages",
            stripe_price_id="price_browser_pages",
        )
        db.session.add_all([card, plan])
        db.session.flush()
        start = utcnow() - timedelta(days=3)
        subscription = Subscription(
            stripe_subscription_id="sub_browser_pages_with_a_long_id",
            stripe_customer_id="cus_browser_pages",
            customer_id=buyer.id,
            buyer_email=LONG_BUYER,
            plan_id=plan.id,
            status="active",
            current_period_start=start,
            current_period_end=start + timedelta(days=30),
            default_payment_method="pm_browser_pages",
        )
        db.session.add(subscription)
        db.session.commit()
        subscribe = links.subscribe_url(plan.id, LONG_BUYER, "A Buyer")
        billing = links.billing_url(subscription.id)
        return Seeded(
            customer=buyer.id,
            card=card.id,
            plan=plan.id,
            subscription=subscription.id,
            subscribe_path="/subscribe/" + subscribe.rsplit("/", 1)[1],
            billing_path="/billing/" + billing.rsplit("/", 1)[1],
        )


def dispute_needing_response(app: Flask, make_order: Callable[..., Order]) -> tuple[int, int]:
    """A captured $25.00 order the buyer's bank disputes as fraudulent, evidence due in five
    days: (dispute id, order id)."""
    order = make_order(
        buyer_email=LONG_BUYER,
        state="captured",
        stripe_payment_intent_id="pi_test_hold",
        stripe_charge_id="ch_test_hold",
        amount_captured=2500,
    )
    obj = dispute(status="needs_response", amount=2500, due_by=int(time.time()) + 5 * 86400)
    event = stripe_event("charge.dispute.created", obj)
    assert send_event(app.test_client(), event).status_code == 200
    with app.app_context():
        found = db.session.scalars(select(Dispute).where(Dispute.order_id == order.id)).one()
        return found.id, order.id
