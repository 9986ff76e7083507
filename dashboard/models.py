"""Database tables (SQLAlchemy 2.0 typed models). Schema changes go through migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.domain.money import format_minor
from dashboard.domain.orders import OrderState
from dashboard.domain.state_machine import StaffAction
from dashboard.domain.stripe_mapping import DISPUTE_OUTCOMES
from dashboard.extensions import Model


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Role(StrEnum):
    ADMIN = "admin"  # everything, and manages users
    STAFF = "staff"  # creates orders, moves money
    SUPPORT = "support"  # reads orders, timelines and the event log


class User(Model):
    """A staff account. Flask-Login's user: `get_id()` is the token of the session this
    object was loaded through (services/sessions.py), never the account's id, so the cookie
    names a session the server can end."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'staff', 'support')", name="role"),)
    # `session_token` below is set per request, not a column.
    __allow_unmapped__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    session_token: str | None = None
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        if self.session_token is None:
            raise RuntimeError("signed in only through services.sessions.open_session")
        return self.session_token

    @staticmethod
    def hash_of(password: str) -> str:
        return generate_password_hash(password)

    def set_password(self, password: str) -> None:
        self.password_hash = self.hash_of(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:
        return self.active

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles


class Order(Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_amount > 0", name="total_positive"),
        # The last line of defence against moving money twice: never refund more than taken.
        CheckConstraint("amount_refunded <= amount_captured", name="refund_within_capture"),
        # The list page's queries: newest first, by state, by buyer email prefix.
        Index("ix_orders_state_id", "state", "id"),
        Index("ix_orders_buyer_email_id", "buyer_email", "id"),
        # The capture queue: authorized holds by deadline, ties by id (read in index order).
        Index("ix_orders_state_capture_before_id", "state", "capture_before", "id"),
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
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), index=True)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
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

    created_by: Mapped[User | None] = relationship()
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


class RequestStatus(StrEnum):
    PENDING = "pending"  # key saved, call not answered yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # Stripe answered no; nothing moved
    UNKNOWN = "unknown"  # no answer (timeout, connection lost): settled by re-reading


IN_FLIGHT = (RequestStatus.PENDING.value, RequestStatus.UNKNOWN.value)
# The requests that move money: the staff actions.
MONEY_ACTIONS = tuple(action.value for action in StaffAction)


class StripeRequest(Model):
    """Every call that asks Stripe to do something, saved with its idempotency key first."""

    __tablename__ = "stripe_requests"
    __table_args__ = (
        Index("ix_stripe_requests_order_id_id", "order_id", "id"),
        # One money movement in flight per order: a second click finds this row, not Stripe.
        Index(
            "uq_stripe_requests_one_in_flight",
            "order_id",
            unique=True,
            sqlite_where=text(
                "status IN ('pending', 'unknown') AND action IN ('capture', 'void', 'refund')"
            ),
            postgresql_where=text(
                "status IN ('pending', 'unknown') AND action IN ('capture', 'void', 'refund')"
            ),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    # Sent again unchanged on a retry: Stripe refuses a key reused with other parameters.
    reason: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.PENDING.value)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    stripe_object_id: Mapped[str | None] = mapped_column(String(255))
    stripe_request_id: Mapped[str | None] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actor: Mapped[User | None] = relationship()


class OutboxEvent(Model):
    """Domain events for other systems, written in the same transaction as the change.

    The contract is in docs/outbox.md. `dedupe_key` makes each event exist once.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_acked_at_id", "acked_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventStatus(StrEnum):
    PENDING = "pending"  # stored, not processed yet (or its worker died)
    APPLIED = "applied"  # reconciled into its order
    IGNORED = "ignored"  # nothing to do, with the reason
    UNMATCHED = "unmatched"  # no order could be found for it
    FAILED = "failed"  # processing raised; kept with the error and retried


RETRYABLE = (EventStatus.PENDING.value, EventStatus.FAILED.value)
# What staff's Reprocess runs again: the retryable ones, and an unmatched one (its order
# may exist by now). Applied and ignored events stay as they are.
REPROCESSABLE = (*RETRYABLE, EventStatus.UNMATCHED.value)


class StripeEvent(Model):
    """The inbox: every verified Stripe event, once per event id, with what became of it."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        Index("ix_stripe_events_status_id", "status", "id"),
        Index("ix_stripe_events_type_id", "type", "id"),
        Index("ix_stripe_events_order_id_id", "order_id", "id"),
        Index("ix_stripe_events_created", "created"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The dedupe: a second delivery of the same event fails this constraint, never reads.
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    type: Mapped[str] = mapped_column(String(100))
    api_version: Mapped[str | None] = mapped_column(String(64))
    livemode: Mapped[bool]
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    object_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(16))  # webhook | sync
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING.value)
    reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    out_of_order: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    delivery_count: Mapped[int] = mapped_column(default=1, server_default="1")
    process_count: Mapped[int] = mapped_column(default=0, server_default="0")
    first_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    order: Mapped[Order | None] = relationship()

    @property
    def reprocessable(self) -> bool:
        return self.status in REPROCESSABLE

    @property
    def data_object(self) -> dict[str, Any]:
        obj = (self.payload.get("data") or {}).get("object")
        return obj if isinstance(obj, dict) else {}


class WebhookRejection(Model):
    """A delivery refused before storing anything (bad signature, too large...): counted."""

    __tablename__ = "webhook_rejections"
    __table_args__ = (Index("ix_webhook_rejections_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    remote_addr: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncWatermark(Model):
    """How far `flask stripe sync` has read Stripe's event list (one row per stream)."""

    __tablename__ = "sync_watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    event_id: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dispute(Model):
    """A chargeback on an order's payment: flagged on the order until it closes."""

    __tablename__ = "disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    stripe_dispute_id: Mapped[str] = mapped_column(String(255), unique=True)
    charge_id: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    evidence_due_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    funds_withdrawn: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    funds_reinstated: Mapped[bool] = mapped_column(default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_open(self) -> bool:
        return self.status not in DISPUTE_OUTCOMES

    @property
    def outcome(self) -> str | None:
        return DISPUTE_OUTCOMES.get(self.status)
