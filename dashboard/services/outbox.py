"""Domain events for other systems (the order-settlement contract, docs/outbox.md)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Order, OutboxEvent, TimelineKind, utcnow
from dashboard.services import timeline


class OutboxType(StrEnum):
    ORDER_CREATED = "ORDER_CREATED"  # a payment was started for the order
    PAYMENT_SUCCEEDED = "PAYMENT_SUCCEEDED"  # a capture was confirmed
    PAYMENT_FAILED = "PAYMENT_FAILED"  # an authorization or a capture failed
    # A subscription's renewal invoice was paid, or its payment failed (no order: the
    # payload names the subscription and the invoice; services/subscriptions/renewals.py).
    SUBSCRIPTION_RENEWAL_PAID = "SUBSCRIPTION_RENEWAL_PAID"
    SUBSCRIPTION_RENEWAL_FAILED = "SUBSCRIPTION_RENEWAL_FAILED"


def emit(order: Order, kind: OutboxType, dedupe_key: str, **payload: Any) -> OutboxEvent | None:
    """Write the event once per dedupe_key, in the caller's transaction."""
    key = f"{kind.value}:{dedupe_key}"
    if db.session.scalar(select(OutboxEvent.id).where(OutboxEvent.dedupe_key == key)):
        return None
    event = OutboxEvent(
        order_id=order.id,
        type=kind.value,
        dedupe_key=key,
        payload={
            "order_id": order.id,
            "currency": order.currency,
            "total_amount": order.total_amount,
            **payload,
        },
    )
    db.session.add(event)
    db.session.flush()
    timeline.append(
        order,
        TimelineKind.OUTBOX,
        f"Outbox event {kind.value} #{event.id} written",
        data={"outbox_event_id": event.id, "type": kind.value},
    )
    return event


def record_of(event: OutboxEvent) -> dict[str, Any]:
    """The event as other systems read it: `flask outbox list --json`'s line, and the body
    the relay publishes to the broker (docs/outbox.md)."""
    return {
        "id": event.id,
        "type": event.type,
        "order_id": event.order_id,
        "created_at": event.created_at.isoformat(),
        "acked_at": event.acked_at.isoformat() if event.acked_at else None,
        "payload": event.payload,
    }


def pending(limit: int = 100, include_acked: bool = False) -> list[OutboxEvent]:
    query = select(OutboxEvent).order_by(OutboxEvent.id).limit(limit)
    if not include_acked:
        query = query.where(OutboxEvent.acked_at.is_(None))
    return list(db.session.scalars(query))


class UnknownOutboxEvent(LookupError):
    pass


def ack(event_id: int) -> OutboxEvent:
    """Mark consumed; acking twice is harmless and keeps the first time."""
    event = db.session.get(OutboxEvent, event_id)
    if event is None:
        raise UnknownOutboxEvent(f"There is no outbox event {event_id}.")
    if event.acked_at is None:
        event.acked_at = utcnow()
        db.session.flush()
    return event
