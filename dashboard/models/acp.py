"""Agents' checkout sessions (the Agentic Commerce Protocol), the Idempotency-Keys they
sent with the answers given, and every request made about a session."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.extensions import Model
from dashboard.models.base import UTCDateTime, utcnow


class AgentCheckoutSession(Model):
    """One agent's cart: its lines as priced when last set, the buyer and where to send
    the goods, and, once completed, the ordinary order it became."""

    __tablename__ = "agent_checkout_sessions"
    __table_args__ = (
        Index("ix_agent_checkout_sessions_agent_id_created_at", "agent_id", "created_at"),
        # The session an order was completed from (the order events name it).
        Index("ix_agent_checkout_sessions_order_id", "order_id"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    # [{"product_id", "title", "quantity", "unit_amount"}], in the agent's order.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    buyer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    fulfillment_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The protocol's messages for the agent (a declined payment, ...), as the schema has them.
    messages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KeyStatus(StrEnum):
    IN_FLIGHT = "in_flight"  # the first request with the key is being answered
    ANSWERED = "answered"  # its answer is kept and replayed
    RETRY = "retry"  # it ended without an answer to keep (Stripe's outcome unknown)


class AgentIdempotencyKey(Model):
    """An agent's Idempotency-Key for one endpoint: what its body was (a fingerprint, never
    the body: it may hold a payment token) and the answer to replay."""

    __tablename__ = "agent_idempotency_keys"
    __table_args__ = (
        UniqueConstraint(
            "agent_id", "endpoint", "idempotency_key", name="uq_agent_idempotency_keys"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    # "POST /checkout_sessions/<id>/complete": the RFC scopes keys to identity and path.
    endpoint: Mapped[str] = mapped_column(String(255))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=KeyStatus.IN_FLIGHT.value)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AgentCheckoutRequest(Model):
    """A request an agent made about a session and how it ended; copied to the order's
    timeline once the session becomes an order."""

    __tablename__ = "agent_checkout_requests"
    __table_args__ = (Index("ix_agent_checkout_requests_session_id_id", "session_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("agent_checkout_sessions.id", ondelete="CASCADE")
    )
    operation: Mapped[str] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(255))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    http_status: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
