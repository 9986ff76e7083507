"""The per-order timeline: append-only entries, read back in one query."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Table, event, insert, select
from sqlalchemy.orm import Session, SessionTransaction, defer, joinedload

from dashboard.extensions import db
from dashboard.models import (
    CustomerTimelineEntry,
    Order,
    StripeEvent,
    TimelineEntry,
    TimelineKind,
    User,
)
from dashboard.transactions import enclosing

Entry = TimelineEntry | CustomerTimelineEntry
# The page of webhook events being applied: the entries it appends, each with the
# transaction (or savepoint) it was appended in, to be inserted at the page's end.
_PAGE: ContextVar[list[tuple[SessionTransaction | None, Entry]] | None] = ContextVar(
    "timeline_page", default=None
)
# What an entry's row is made of, but its id and time (given as it is inserted).
_COLUMNS = ("kind", "actor_id", "summary", "data", "stripe_event_id")


def append(
    order: Order,
    kind: TimelineKind,
    summary: str,
    *,
    actor: User | None = None,
    data: dict[str, Any] | None = None,
    stripe_event: StripeEvent | None = None,
) -> TimelineEntry:
    if page_takes(order, actor, stripe_event):
        columns = page_columns(kind, summary, actor, data, stripe_event)
        return keep_with_page(TimelineEntry(order_id=order.id, **columns))
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


def page_takes(*rows: Any) -> bool:
    """A page of webhook events is being applied, and an entry about these rows (None for
    one not given) can wait for its end: each of them has its id already."""
    return _PAGE.get() is not None and all(row is None or row.id is not None for row in rows)


def page_columns(
    kind: TimelineKind,
    summary: str,
    actor: User | None,
    data: dict[str, Any] | None,
    stripe_event: StripeEvent | None,
) -> dict[str, Any]:
    """An entry's columns but its owner, by id (what `page_takes` checked is there)."""
    return {
        "kind": kind.value,
        "summary": summary,
        "actor_id": actor.id if actor is not None else None,
        "data": data or {},
        "stripe_event_id": stripe_event.id if stripe_event is not None else None,
    }


E = TypeVar("E", TimelineEntry, CustomerTimelineEntry)


def keep_with_page(entry: E) -> E:
    """Insert this entry (not in the session) with the page's others, at the page's end,
    unless the savepoint it was appended in is rolled back first."""
    page = _PAGE.get()
    assert page is not None, "keep_with_page outside page_of_entries"
    session = db.session()
    page.append((session.get_nested_transaction() or session.get_transaction(), entry))
    return entry


@contextmanager
def page_of_entries() -> Iterator[None]:
    """While a page of webhook events is applied: the order and customer timeline entries
    it appends are inserted when it ends, one statement per timeline, in the order they
    were appended. They are never in the session: the unit of work's bookkeeping of a few
    objects per event cost more than writing them. What a savepoint rolled back within the
    page appended is dropped with it (an event retried in the page that fails again, say),
    and if the block raises nothing of them is written (the page's own savepoint is rolled
    back, and its events applied one at a time, with entries in the session as usual)."""
    page: list[tuple[SessionTransaction | None, Entry]] = []
    token = _PAGE.set(page)
    try:
        yield
    finally:
        _PAGE.reset(token)
    if not page:
        return
    db.session.flush()  # the rows they point at first: a customer the page made, say
    for model, owner in ((TimelineEntry, "order_id"), (CustomerTimelineEntry, "customer_id")):
        rows = [
            {owner: getattr(entry, owner), **{name: getattr(entry, name) for name in _COLUMNS}}
            for _, entry in page
            if type(entry) is model
        ]
        if rows:
            db.session.execute(insert(cast(Table, model.__table__)), rows)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    page = _PAGE.get()
    if page:
        page[:] = [(txn, entry) for txn, entry in page if previous not in enclosing(txn)]


def init_app() -> None:
    """Listen to every session's rollbacks (once per process)."""
    if not event.contains(Session, "after_soft_rollback", _after_soft_rollback):
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)


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
