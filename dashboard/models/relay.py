"""What the outbox relay delivers beyond domain events: outgoing emails, and the record of
every delivery attempt (an email over SMTP, a domain event over AMQP)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow

# Waiting to be sent: neither delivered nor given up on.
WAITING = "sent_at IS NULL AND failed_at IS NULL"


class OutboxMessage(Model):
    """An email, written in the transaction that decided to send it and delivered later by
    `flask outbox relay` (docs/outbox.md). `dedupe_key` makes each exist once; `attempts`
    counts the relay's claims of it (a relay that died mid-send counts too); the claim
    (`claimed_by` until `claimed_until`) keeps other relays off it, and lapses on its own."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The relays' question: what is due, oldest first.
        Index(
            "ix_outbox_messages_waiting",
            "next_attempt_at",
            "id",
            sqlite_where=text(WAITING),
            postgresql_where=text(WAITING),
        ),
        Index("ix_outbox_messages_order_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Given up: refused for good by the server, or out of attempts. `flask outbox retry`.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryOutcome:
    DELIVERED = "delivered"  # the SMTP server took it; the broker confirmed it
    RETRY = "retry"  # failed for now: tried again after a backoff
    FAILED = "failed"  # refused for good, or the last attempt allowed


class OutboxDelivery(Model):
    """One attempt to deliver an email or publish a domain event: append-only."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        CheckConstraint("(message_id IS NULL) <> (event_id IS NULL)", name="one_subject"),
        Index("ix_outbox_deliveries_message_id", "message_id"),
        Index("ix_outbox_deliveries_event_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE")
    )
    event_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # smtp, amqp
    relay: Mapped[str] = mapped_column(String(64))  # which relay process tried
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(500))
