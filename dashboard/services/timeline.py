"""The per-order timeline: append-only entries, read back in one query."""

from __future__ import annotations

from dataclasses import dataclass
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
    # Not flushed here: the unit of work inserts entries in the order they were added, all
    # in one statement at the next flush (a query, a savepoint's end, the commit).
    db.session.add(entry)
    return entry


# How many entries the order page shows at once: the latest ones; earlier ones on demand.
WINDOW = 100


@dataclass(frozen=True)
class TimelineWindow:
    entries: list[TimelineEntry]  # oldest first, or newest first if asked
    earlier: int | None  # the cursor for the entries before these, if there are any


def window(
    order_id: int,
    *,
    before: int | None = None,
    size: int = WINDOW,
    newest_first: bool = False,
) -> TimelineWindow:
    """The latest `size` entries (before entry `before`), oldest first, in one query.

    Actors and webhook events are joined in, without the events' payloads (fetched one at
    a time when support expands an entry). Ids order entries written in the same instant.
    Either way round, the cursor is the same: the next window holds the entries before it.
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
        .order_by(TimelineEntry.id.desc())
        .limit(size + 1)
    )
    if before is not None:
        query = query.where(TimelineEntry.id < before)
    found = list(db.session.scalars(query))
    latest = found[:size]
    earlier = latest[-1].id if len(found) > size else None
    return TimelineWindow(entries=latest if newest_first else latest[::-1], earlier=earlier)
