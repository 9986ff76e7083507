"""The requests we make of Stripe (the ledger), and the outbox of domain events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.domain.state_machine import StaffAction
from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from dashboard.models.users import User


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
