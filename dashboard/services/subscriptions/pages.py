"""What the subscription pages read: the list (keyset-paginated, newest first, by status),
one subscription with its plan, invoices, next invoice and timeline, and a customer's
subscriptions for their page. Reading never calls Stripe."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from dashboard.domain.subscriptions import ENDED, SubscriptionStatus
from dashboard.extensions import db
from dashboard.models import Plan, Subscription, SubscriptionEntry, SubscriptionInvoice
from dashboard.services.pagination import Page, newest_first
from dashboard.services.subscriptions.staff import SubscriptionNotFound

PER_PAGE = 50


@dataclass(frozen=True)
class NextInvoice:
    amount: int
    currency: str
    at: datetime


@dataclass(frozen=True)
class SubscriptionView:
    subscription: Subscription
    plan: Plan | None
    invoices: list[SubscriptionInvoice]  # newest first
    entries: list[SubscriptionEntry]  # oldest first
    next_invoice: NextInvoice | None


def listing(
    *, status: str | None, older_than: int | None, newer_than: int | None
) -> Page[Subscription]:
    query = select(Subscription)
    if status == "renewal_failed":
        query = query.where(Subscription.renewal_failed_at.is_not(None))
    elif status:
        query = query.where(Subscription.status == SubscriptionStatus(status).value)
    return newest_first(
        query, Subscription.id, older_than=older_than, newer_than=newer_than, per_page=PER_PAGE
    )


def plans_by_id(rows: list[Subscription]) -> dict[int, Plan]:
    ids = {row.plan_id for row in rows if row.plan_id is not None}
    if not ids:
        return {}
    return {plan.id: plan for plan in db.session.scalars(select(Plan).where(Plan.id.in_(ids)))}


def next_invoice(subscription: Subscription, plan: Plan | None) -> NextInvoice | None:
    """The renewal Stripe will invoice at the end of the period, if it will."""
    if (
        plan is None
        or subscription.status in ENDED
        or subscription.cancel_at_period_end
        or subscription.current_period_end is None
    ):
        return None
    return NextInvoice(plan.amount, plan.currency, subscription.current_period_end)


def detail(subscription_id: int) -> SubscriptionView:
    subscription = db.session.get(Subscription, subscription_id)
    if subscription is None:
        raise SubscriptionNotFound(subscription_id)
    plan = db.session.get(Plan, subscription.plan_id) if subscription.plan_id else None
    invoices = list(
        db.session.scalars(
            select(SubscriptionInvoice)
            .where(SubscriptionInvoice.subscription_id == subscription.id)
            .order_by(SubscriptionInvoice.period_start.desc(), SubscriptionInvoice.id.desc())
        )
    )
    entries = list(
        db.session.scalars(
            select(SubscriptionEntry)
            .where(SubscriptionEntry.subscription_id == subscription.id)
            .order_by(SubscriptionEntry.id)
        )
    )
    return SubscriptionView(subscription, plan, invoices, entries, next_invoice(subscription, plan))


def for_customer(customer_id: int) -> list[SubscriptionView]:
    """A customer's subscriptions, newest first, each with its invoices."""
    ids = db.session.scalars(
        select(Subscription.id)
        .where(Subscription.customer_id == customer_id)
        .order_by(Subscription.id.desc())
    )
    return [detail(subscription_id) for subscription_id in ids]
