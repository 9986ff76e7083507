"""Stripe's events as received (the inbox), the refusals counted, and the sync's place."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow

if TYPE_CHECKING:
    from dashboard.models.orders import Order


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
        Index("ix_stripe_events_type_last_received_at", "type", "last_received_at"),
        Index("ix_stripe_events_order_id_id", "order_id", "id"),
        Index("ix_stripe_events_created", "created"),
        Index("ix_stripe_events_flag_id", "flag", "id"),
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
    # What the event said was refused outright (amounts no payment can have): shown on the log.
    flag: Mapped[str | None] = mapped_column(String(32))
    # Webhook deliveries; the sync's readings of it are counted apart (a reading is not a
    # delivery, and moves no delivery time). An event the sync found first has none yet, and
    # its received times are the sync's until Stripe delivers it.
    delivery_count: Mapped[int] = mapped_column(default=1, server_default="1")
    sync_count: Mapped[int] = mapped_column(default=0, server_default="0")
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
    """Deliveries refused before storing anything (bad signature, too large...), counted per
    reason per minute: a flood of refusals is a row a minute, not a row each."""

    __tablename__ = "webhook_rejection_counts"
    __table_args__ = (
        UniqueConstraint("reason", "minute", name="uq_webhook_rejection_counts_reason_minute"),
        Index("ix_webhook_rejection_counts_minute", "minute"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(32))
    minute: Mapped[datetime] = mapped_column(UTCDateTime)  # the start of the minute counted
    count: Mapped[int] = mapped_column(default=1)
    remote_addr: Mapped[str] = mapped_column(String(64))  # the last one refused that minute


class SyncWatermark(Model):
    """How far `flask stripe sync` has read Stripe's event list (one row per stream)."""

    __tablename__ = "sync_watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    event_id: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
