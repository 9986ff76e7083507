"""Order events to agents (ACP `order_create` / `order_update`): written in the transaction
that changed the order, delivered by `flask outbox relay`, every attempt recorded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dashboard.extensions import Model
from dashboard.models.agents import Agent
from dashboard.models.base import UTCDateTime, utcnow
from dashboard.models.orders import Order

# Waiting to be sent: neither delivered nor stopped.
WEBHOOK_WAITING = "delivered_at IS NULL AND stopped_at IS NULL"


class AgentWebhook(Model):
    """One event for one order, to the agent that placed it. `body` is the exact JSON
    sent (signed at each attempt, with that attempt's time); `fingerprint` is the order
    object's hash, so an order that did not change writes no event. The relay sends an
    order's events one at a time, oldest first: one waits while an earlier one waits."""

    __tablename__ = "agent_webhooks"
    __table_args__ = (
        Index(
            "ix_agent_webhooks_waiting",
            "next_attempt_at",
            "id",
            sqlite_where=text(WEBHOOK_WAITING),
            postgresql_where=text(WEBHOOK_WAITING),
        ),
        Index("ix_agent_webhooks_order_id_id", "order_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(32))  # order_create, order_update
    checkout_session_id: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column()  # the last HTTP status answered
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Not sent, for good: the agent was revoked, or the last attempt allowed failed.
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agent: Mapped[Agent] = relationship()
    order: Mapped[Order] = relationship()

    @property
    def status(self) -> str:
        if self.delivered_at is not None:
            return "delivered"
        if self.stopped_at is not None:
            return "stopped"
        return "waiting"


class AgentWebhookAttempt(Model):
    """One POST of an event to the agent (or the decision not to send it): append-only."""

    __tablename__ = "agent_webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("agent_webhooks.id", ondelete="CASCADE"), index=True
    )
    relay: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered, retry, failed, stopped
    status_code: Mapped[int | None] = mapped_column()
    answer: Mapped[str | None] = mapped_column(String(500))
