"""Customers: one per buyer email (normalised), across every order they paid, every card
they let the shop keep and (elsewhere) every subscription; their saved payment methods and
their timeline.

Schema changes go through migrations, as for every table.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow
from dashboard.models.orders import STRIPE_ID

if TYPE_CHECKING:
    from dashboard.models.inbox import StripeEvent
    from dashboard.models.users import User

# Byte order ("C") on PostgreSQL, as SQLite has: an email prefix is a range scan.
EMAIL = String(254).with_variant(String(254, collation="C"), "postgresql")


class Customer(Model):
    """A buyer, found by their normalised email (unique: two pages finding the same buyer
    at once keep one row). `stripe_customer_id` is set once Stripe has a Customer for them
    (made on first need, never twice). Stripe's events change the row forward only:
    `stripe_event_at` is the time of the latest event applied; an older one changes
    nothing."""

    __tablename__ = "customers"
    __table_args__ = (
        # The list page: newest first, or by email prefix (then by id). Names are searched
        # through the index models/customer_search.py names.
        Index("ix_customers_email_id", "email", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(EMAIL, unique=True)
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    stripe_customer_id: Mapped[str | None] = mapped_column(STRIPE_ID, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The created time of the latest Stripe event applied to this customer (forward-only).
    stripe_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Stripe said the Customer was deleted (customer.deleted): its cards are gone with it.
    stripe_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The customer's default card for invoices (invoice_settings.default_payment_method).
    default_payment_method_id: Mapped[str | None] = mapped_column(STRIPE_ID)

    payment_methods: Mapped[list[SavedPaymentMethod]] = relationship(
        back_populates="customer", order_by="SavedPaymentMethod.id"
    )

    @property
    def display_name(self) -> str:
        return self.name or self.email


class PaymentMethodStatus(StrEnum):
    ATTACHED = "attached"  # usable for a new hold or a renewal
    DETACHED = "detached"  # removed (by staff, the buyer through Stripe, or Stripe itself)


class SavedPaymentMethod(Model):
    """A payment method Stripe keeps for a customer, saved with the buyer's consent (on an
    order's payment, or a "save a card" link). Card facts are what Stripe last said;
    `stripe_event_at` keeps events forward-only as for customers."""

    __tablename__ = "saved_payment_methods"
    __table_args__ = (Index("ix_saved_payment_methods_customer_id_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    stripe_payment_method_id: Mapped[str] = mapped_column(STRIPE_ID, unique=True)
    type: Mapped[str] = mapped_column(String(32), default="card")
    brand: Mapped[str | None] = mapped_column(String(32))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None] = mapped_column(SmallInteger)
    exp_year: Mapped[int | None] = mapped_column(SmallInteger)
    # "apple_pay", "google_pay", ... when the card came from a phone wallet.
    wallet: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=PaymentMethodStatus.ATTACHED.value)
    # When the buyer agreed to keep it, and where: "order #12" or "save-a-card link".
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    detached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stripe_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship(back_populates="payment_methods")

    @property
    def is_attached(self) -> bool:
        return self.status == PaymentMethodStatus.ATTACHED.value

    @property
    def expiry(self) -> str:
        if self.exp_month is None or self.exp_year is None:
            return ""
        return f"{self.exp_month:02d}/{self.exp_year % 100:02d}"


class CustomerTimelineEntry(Model):
    """Append-only: what happened to a customer (cards saved or removed, Stripe's events,
    staff actions, subscriptions), in the order it was recorded."""

    __tablename__ = "customer_timeline_entries"
    __table_args__ = (Index("ix_customer_timeline_entries_customer_id_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))  # a TimelineKind value
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stripe_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("stripe_events.id", ondelete="SET NULL")
    )

    actor: Mapped[User | None] = relationship()
    stripe_event: Mapped[StripeEvent | None] = relationship()
    # Also tells a flush to write a customer made in the same page before its entries.
    customer: Mapped[Customer] = relationship()
