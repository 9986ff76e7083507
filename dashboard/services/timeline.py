"""The per-order timeline: append-only entries, read back in one query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import defer, joinedload

from dashboard.extensions import db
from dashboard.models import Order, StripeEvent, TimelineEntry, TimelineKind, User


def append(
    order: Order,
    kind: TimelineKind,
    summary: str,
    *,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    stripe_event: StripeEvent | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        order_id=order.id,
        kind=kind.value,
        summary=summary,
        actor=actor,
        data=data or {},
        stripe_event=stripe_event,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def entries_for(order_id: int) -> list[TimelineEntry]:
    """Oldest first; ids break ties between entries written in the same instant.

    One query: actors and webhook events are joined in (without their payloads, which are
    fetched one at a time when support expands an entry).
    """
    query = (
        select(TimelineEntry)
        .where(TimelineEntry.order_id == order_id)
        .options(
            joinedload(TimelineEntry.actor),
            joinedload(TimelineEntry.stripe_event).options(
                defer(StripeEvent.payload), defer(StripeEvent.traceback)
            ),
        )
        .order_by(TimelineEntry.id)
    )
    return list(db.session.scalars(query))
