"""Subscriptions: the plans staff sell (a Stripe product and recurring price), each buyer's
subscription as Stripe last reported it, its invoices, the staff requests made of Stripe
about it (with their idempotency keys), and its timeline.

Schema changes go through migrations, as for every table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow

# One staff request in flight per subscription (migration 0022 has the same text).
ONE_SUBSCRIPTION_REQUEST_WHERE = "status IN ('pending', 'unknown')"


class Plan(Model):
    """What staff sell on a schedule: a product and its recurring price, made in Stripe."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    interval: Mapped[str] = mapped_column(String(8))
    interval_count: Mapped[int] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    stripe_product_id: Mapped[str] = mapped_column(String(255), unique=True)
    stripe_price_id: Mapped[str] = mapped_column(String(255), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Model):
    """A buyer's subscription as Stripe reported it last; `report_*` say which report that
    was (domain.subscriptions.ReportOrder), so a late event never takes it back."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("ix_subscriptions_stripe_customer_id", "stripe_customer_id"),
        Index("ix_subscriptions_buyer_email", "buyer_email"),
        Index("ix_subscriptions_customer_id_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    stripe_subscription_id: Mapped[str] = mapped_column(String(255), unique=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    # Our customer (services/customers.py), once known by their Stripe Customer id.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    stripe_customer_id: Mapped[str] = mapped_column(String(255))
    buyer_email: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(24))
    current_period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    trial_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    default_payment_method: Mapped[str | None] = mapped_column(String(255))
    report_ended: Mapped[bool] = mapped_column(default=False)
    report_period_start: Mapped[int] = mapped_column(BigInteger, default=0)
    report_said_at: Mapped[int] = mapped_column(BigInteger, default=0)
    report_rank: Mapped[int] = mapped_column(default=0)
    report_event_id: Mapped[str] = mapped_column(String(255), default="")
    renewal_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriptionInvoice(Model):
    """One invoice of a subscription, its status moving forward only, and its payment."""

    __tablename__ = "subscription_invoices"
    __table_args__ = (
        Index("ix_subscription_invoices_subscription_id_id", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    stripe_invoice_id: Mapped[str] = mapped_column(String(255), unique=True)
    number: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    amount_due: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_paid: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    billing_reason: Mapped[str | None] = mapped_column(String(40))
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempt_count: Mapped[int] = mapped_column(default=0)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255))
    charge_id: Mapped[str | None] = mapped_column(String(255))
    payment_failed: Mapped[bool] = mapped_column(default=False)
    failure_message: Mapped[str | None] = mapped_column(String(500))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriptionRequest(Model):
    """A staff request of Stripe about a subscription (cancel now, at period end), saved
    with its idempotency key and committed before Stripe is called, as the order ledger
    does; the partial unique index lets one be in flight per subscription."""

    __tablename__ = "subscription_requests"
    __table_args__ = (
        Index(
            "uq_subscription_requests_one_in_flight",
            "subscription_id",
            unique=True,
            sqlite_where=text(ONE_SUBSCRIPTION_REQUEST_WHERE),
            postgresql_where=text(ONE_SUBSCRIPTION_REQUEST_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    error_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SubscriptionEntry(Model):
    """Append-only: what happened to a subscription, in the order it was recorded."""

    __tablename__ = "subscription_entries"
    __table_args__ = (Index("ix_subscription_entries_subscription_id_id", "subscription_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
