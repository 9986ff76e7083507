"""What a customer's page shows, read in a few queries: the customer, their latest orders,
their saved payment methods, their subscriptions, their timeline, and their Stripe
Customer's link."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dashboard.extensions import db
from dashboard.models import Customer, CustomerTimelineEntry, Order, SavedPaymentMethod
from dashboard.payments.gateway import is_live_key
from dashboard.payments.snapshots import dashboard_url
from dashboard.services.payment_methods import detach_warnings, find
from dashboard.services.subscriptions import pages as subscription_pages
from dashboard.services.subscriptions.pages import SubscriptionView

ORDERS_SHOWN = 50
TIMELINE_SHOWN = 100


@dataclass(frozen=True)
class CustomerPage:
    customer: Customer
    orders: list[Order]
    more_orders: bool
    payment_methods: list[SavedPaymentMethod]
    timeline: list[CustomerTimelineEntry]  # newest first
    stripe_url: str | None
    subscriptions: list[SubscriptionView]  # newest first, each with its invoices


def customer_page(customer_id: int) -> CustomerPage | None:
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        return None
    orders = list(
        db.session.scalars(
            select(Order)
            .where(Order.customer_id == customer.id)
            .order_by(Order.id.desc())
            .limit(ORDERS_SHOWN + 1)
        )
    )
    methods = list(
        db.session.scalars(
            select(SavedPaymentMethod)
            .where(SavedPaymentMethod.customer_id == customer.id)
            .order_by(SavedPaymentMethod.id.desc())
        )
    )
    timeline = list(
        db.session.scalars(
            select(CustomerTimelineEntry)
            .options(joinedload(CustomerTimelineEntry.actor))
            .where(CustomerTimelineEntry.customer_id == customer.id)
            .order_by(CustomerTimelineEntry.id.desc())
            .limit(TIMELINE_SHOWN)
        )
    )
    live = is_live_key(str(current_app.config.get("STRIPE_SECRET_KEY") or ""))
    return CustomerPage(
        customer=customer,
        orders=orders[:ORDERS_SHOWN],
        more_orders=len(orders) > ORDERS_SHOWN,
        payment_methods=methods,
        timeline=timeline,
        stripe_url=dashboard_url(customer.stripe_customer_id, livemode=live),
        subscriptions=subscription_pages.for_customer(customer.id),
    )


@dataclass(frozen=True)
class DetachReview:
    customer: Customer
    method: SavedPaymentMethod
    warnings: list[str]


def detach_review(customer_id: int, method_id: int) -> DetachReview | None:
    """What the confirmation page says before a card is removed; None if no such card."""
    method = find(customer_id, method_id)
    if method is None:
        return None
    return DetachReview(method.customer, method, detach_warnings(method))
