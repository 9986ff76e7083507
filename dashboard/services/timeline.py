"""The per-order timeline: append-only entries, read back in one query."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from dashboard.extensions import db
from dashboard.models import Order, TimelineEntry, TimelineKind, User


def append(
    order: Order,
    kind: TimelineKind,
    summary: str,
    *,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    entry = TimelineEntry(
        order_id=order.id, kind=kind.value, summary=summary, actor=actor, data=data or {}
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def entries_for(order_id: int) -> list[TimelineEntry]:
    """Oldest first; ids break ties between entries written in the same instant."""
    query = (
        select(TimelineEntry)
        .where(TimelineEntry.order_id == order_id)
        .options(joinedload(TimelineEntry.actor))
        .order_by(TimelineEntry.id)
    )
    return list(db.session.scalars(query))
