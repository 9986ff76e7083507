"""Orders, their lines, their disputes and their timeline."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.domain.money import format_minor
from dashboard.domain.orders import OrderState
from dashboard.domain.stripe_mapping import DISPUTE_OUTCOMES
from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from dashboard.models.agents import Agent
    from dashboard.models.customers import Customer
    from dashboard.models.inbox import StripeEvent
    from dashboard.models.users import User


# A Stripe id, compared byte by byte ("C") on PostgreSQL as on SQLite.
STRIPE_ID = String(255).with_variant(String(255, collation="C"), "postgresql")


class Order(Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_amount > 0", name="total_positive"),
        # The last line of defence against moving money twice: never refund more than taken.
        CheckConstraint("amount_refunded <= amount_captured", name="refund_within_capture"),
        # The list page's queries: newest first, by state, by buyer email prefix; the first
        # order created at or after a moment (the created-date filter's bounds). Buyer names
        # are searched through the index models/order_search.py names.
        Index("ix_orders_state_id", "state", "id"),
        Index("ix_orders_buyer_email_id", "buyer_email", "id"),
        Index("ix_orders_created_at_id", "created_at", "id"),
        # The capture queue: authorized holds by deadline, ties by id (read in index order).
        Index("ix_orders_state_capture_before_id", "state", "capture_before", "id"),
        # A customer's orders, newest first.
        Index("ix_orders_customer_id_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_name: Mapped[str] = mapped_column(String(200))
    # Byte order ("C") on PostgreSQL, as SQLite has: the email prefix search is a range scan.
    buyer_email: Mapped[str] = mapped_column(
        String(254).with_variant(String(254, collation="C"), "postgresql")
    )
    currency: Mapped[str] = mapped_column(String(3))
    total_amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(32), default=OrderState.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Byte order on PostgreSQL too: the start of a Stripe id is a range scan of its index.
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(STRIPE_ID, index=True)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(STRIPE_ID, index=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(STRIPE_ID, index=True)
    # How the buyer pays: "checkout" (Stripe's page) or "payment_page" (ours); None = default.
    payment_method: Mapped[str | None] = mapped_column(String(16))
    amount_authorized: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    amount_capturable: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    amount_captured: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    amount_refunded: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    authorized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    capture_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_payment_error: Mapped[str | None] = mapped_column(String(500))
    # Set when one of the order's refunds failed after Stripe accepted it: from then on its
    # refund events are applied from a re-read, since an older payload may still count it.
    refund_failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Staff's choice, for this order only, of the card features its payment asks for
    # ({"request_multicapture": "never", ...}); None, or a flag left out: the shop's setting.
    card_requests: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Saved cards (re-authorizing): when the buyer ticked "keep this card on file", the
    # Stripe Customer the payment was made for, and the card Stripe saved for off-session
    # use once the payment authorized (none without the buyer's consent).
    card_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    saved_payment_method_id: Mapped[str | None] = mapped_column(String(255))
    # A new authorization waiting for the buyer (the bank asked them to verify a
    # re-authorization, or staff sent a new pay link): the pay link confirms this one.
    renewal_payment_intent_id: Mapped[str | None] = mapped_column(STRIPE_ID)
    # The AI agent that placed the order through the checkout API; None: staff made it.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), default=None)
    # The buyer as a customer: linked when the buyer pays or keeps a card (none before).
    # Customers are never deleted (Stripe's deletion is noted on the row).
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))

    created_by: Mapped[User | None] = relationship()
    agent: Mapped[Agent | None] = relationship()
    # Also tells a flush to write a customer made in the same page before the order.
    customer: Mapped[Customer | None] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.position", cascade="all, delete-orphan"
    )
    disputes: Mapped[list[Dispute]] = relationship(order_by="Dispute.id")

    @property
    def number(self) -> str:
        """The order number people quote: "#1042"."""
        return f"#{self.id}"

    @property
    def order_state(self) -> OrderState:
        return OrderState(self.state)

    @property
    def total_display(self) -> str:
        return self.money(self.total_amount)

    def money(self, amount_minor: int) -> str:
        """An amount of this order's currency, for people: "$12.50"."""
        return format_minor(amount_minor, self.currency)

    @property
    def amount_refundable(self) -> int:
        return max(self.amount_captured - self.amount_refunded, 0)


class OrderLine(Model):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_amount >= 0", name="unit_amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int]
    unit_amount: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)

    order: Mapped[Order] = relationship(back_populates="lines")


class TimelineKind(StrEnum):
    STAFF_ACTION = "staff_action"
    API_CALL = "api_call"
    WEBHOOK = "webhook"
    STATE_CHANGE = "state_change"
    OUTBOX = "outbox"


class TimelineEntry(Model):
    """Append-only: what happened to an order, by whom, in the order it was recorded."""

    __tablename__ = "timeline_entries"
    __table_args__ = (Index("ix_timeline_entries_order_id_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Set on webhook entries: the stored event (its raw JSON, current delivery count).
    stripe_event_id: Mapped[int | None] = mapped_column(
        ForeignKey("stripe_events.id", ondelete="SET NULL")
    )

    actor: Mapped[User | None] = relationship()
    stripe_event: Mapped[StripeEvent | None] = relationship()


class Dispute(Model):
    """A chargeback on an order's payment: flagged on the order until it closes."""

    __tablename__ = "disputes"
    __table_args__ = (
        # The Disputes page: soonest evidence deadline first, ties by id (read in index
        # order, no sort); the disputes export: opened within a range of days.
        Index("ix_disputes_evidence_due_by_id", "evidence_due_by", "id"),
        Index("ix_disputes_created_at_id", "created_at", "id"),
        # The home page's open disputes, nearest evidence deadline first, closed ones unread.
        Index("ix_disputes_status_evidence_due_by", "status", "evidence_due_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    charge_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    # When Stripe said it (the created time of the event that set the status).
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_due_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    funds_withdrawn: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    funds_reinstated: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Stripe's evidence_details, as it last reported them.
    has_evidence: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    submission_count: Mapped[int] = mapped_column(default=0, server_default="0")
    past_due: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    # The evidence as staff last saved it here and at Stripe: {field: text or file id}, and
    # each uploaded file's name, kind and size ({file id: {...}}).
    evidence: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default="{}")
    evidence_files: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")
    evidence_submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Drafts saved at Stripe so far: part of the next save's idempotency key, so a retry of
    # one save replays it, and saving earlier text again is not taken for that replay.
    evidence_saves: Mapped[int] = mapped_column(default=0, server_default="0")

    order: Mapped[Order] = relationship(viewonly=True)

    @property
    def is_open(self) -> bool:
        return self.status not in DISPUTE_OUTCOMES

    @property
    def outcome(self) -> str | None:
        return DISPUTE_OUTCOMES.get(self.status)
