"""Storing verified events once, claiming them, and (re)processing them.

A delivery, or a page of deliveries (the sync's pages; the webhook deliveries a worker
groups, `inbox.group_commit`), is one transaction, committed by its caller's boundary:
1. store: insert the events (`INSERT … ON CONFLICT DO NOTHING` on the event id: nothing
   reads first; a concurrent insert of the same id waits for the first one's transaction,
   then inserts nothing), each new row already claimed; for an event stored before, bump
   its delivery count.
2. process: a new row is applied at once; an older one only if it is still pending or
   failed, after a conditional UPDATE claims it (so two workers never apply one event
   twice). Applying (`inbox.reconcile`) finds the order, locks it, and moves it forward
   only, in a savepoint; a failure is kept on the row, to be retried by Stripe's
   redelivery, the Reprocess button or `flask stripe reprocess`. A page is applied in one
   savepoint, its orders read once; if anything in it raises it is applied again one event
   at a time.
A crash before the commit keeps nothing, and Stripe, having had no 2xx, delivers again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, case, delete, select, update
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value

from dashboard.extensions import db, upsert_insert
from dashboard.models import (
    REPROCESSABLE,
    RETRYABLE,
    EventStatus,
    StripeEvent,
    WebhookRejection,
    utcnow,
)
from dashboard.payments.snapshots import object_refs
from dashboard.payments.webhooks import created_at, redact
from dashboard.services import customers, timeline
from dashboard.services.inbox import reconcile
from dashboard.services.inbox.matching import OrderLookup, PageOrders

log = logging.getLogger(__name__)

# The source of events read from Stripe's list by `flask stripe sync` (not delivered).
SYNC = "sync"
# Refusals older than this are forgotten: the health panel shows the last 24 hours.
REJECTIONS_KEPT = timedelta(days=30)


def reject(reason: str, remote_addr: str | None) -> None:
    """Count a refused delivery in its reason's count for this minute (nothing of it is kept
    but why, from where and when), so that a flood of refusals cannot grow the database."""
    now = utcnow()
    address = (remote_addr or "-")[:64]
    db.session.execute(
        upsert_insert()(WebhookRejection)
        .values(
            reason=reason[:32],
            minute=now.replace(second=0, microsecond=0),
            count=1,
            remote_addr=address,
        )
        .on_conflict_do_update(
            index_elements=["reason", "minute"],
            set_={"count": WebhookRejection.count + 1, "remote_addr": address},
        )
    )
    db.session.execute(
        delete(WebhookRejection).where(WebhookRejection.minute < now - REJECTIONS_KEPT)
    )


@dataclass(frozen=True)
class Receipt:
    """What a delivery's answer says, read before the commit (so nothing is re-read)."""

    row_id: int
    event_id: str
    status: str
    delivery_count: int  # webhook deliveries (the sync's readings are counted apart)
    new: bool  # stored just now: it was not in the inbox before

    @classmethod
    def of(cls, row: StripeEvent) -> Receipt:
        return cls(row.id, row.event_id, row.status, row.delivery_count, new=True)


def receive(event: dict[str, Any], *, source: str) -> Receipt:
    """Store a verified event (or count a redelivery) and process it if it still needs it,
    in the caller's transaction: the caller answers Stripe only after committing it."""
    inserted, known = _store([event], source=source)
    return _receive_stored(event, inserted, known, reconcile.apply, OrderLookup())


def receive_page(events: list[dict[str, Any]], *, source: str) -> list[Receipt]:
    """`receive` for each event in turn, in the caller's transaction, in a handful of
    statements per page rather than a dozen per event.

    The new events are inserted in one statement, already claimed, and the redeliveries
    counted in another. Then, in a savepoint, the orders the new events lead to are locked
    in one query (in id order) with what processing reads of them (`PageOrders`), the events
    are applied in list order without a savepoint each, and everything is written at the
    end. If anything raises, that savepoint is rolled back and the events are applied one at
    a time instead, each in its own savepoint, where a failing event is kept as failed and
    the others applied. (The inserts come first, outside the savepoint: on SQLite a
    transaction begins at its first write, and a savepoint opened before it would be a
    transaction of its own, committed by its release.)
    """
    if not events:
        return []
    if len({event["id"] for event in events}) < len(events):
        return [receive(event, source=source) for event in events]
    inserted, known = _store(events, source=source)
    try:
        with db.session.begin_nested(), customers.page_of_buyers(), timeline.page_of_entries():
            page = PageOrders()
            page.lock([row.data_object for row in inserted.values()])
            return [
                _receive_stored(e, inserted, known, reconcile.apply_in_page, page) for e in events
            ]
    except Exception as error:  # the page's events are then applied one at a time
        log.info("stripe events: a page fell back to one event at a time (%s)", error)
        return [_receive_stored(e, inserted, known, reconcile.apply, OrderLookup()) for e in events]


def keep_page(events: list[dict[str, Any]]) -> list[Receipt]:
    """Store a page of verified webhook deliveries without applying them, in the caller's
    transaction (the endpoint answers 2xx once it is committed; `inbox.applier` applies
    them right after). A new event is kept `pending`, claimed by no one (`process_count`
    0); a redelivery is counted, and one whose processing failed is made `pending` again,
    so it is applied once more, as a redelivery always was."""
    if not events:
        return []
    if len({event["id"] for event in events}) < len(events):  # each delivery is counted
        return [keep_page([event])[0] for event in events]
    now = utcnow()
    by_id = sorted(events, key=lambda event: str(event["id"]))
    inbox = cast(Table, StripeEvent.__table__).c
    inserted = {
        row.event_id: Receipt(row.id, row.event_id, row.status, row.delivery_count, new=True)
        for row in db.session.execute(
            # The table's INSERT, not the model's: no object is made, and the ORM's bulk
            # insert layer cost about a fifth of this statement's time in the workers.
            upsert_insert()(StripeEvent.__table__)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(inbox.id, inbox.event_id, inbox.status, inbox.delivery_count),
            [
                {**_row_values(event, source="webhook", now=now), "process_count": 0}
                for event in by_id
            ],
        )
    }
    known: dict[str, Receipt] = {}
    again = [str(event["id"]) for event in by_id if str(event["id"]) not in inserted]
    if again:
        failed = StripeEvent.status == EventStatus.FAILED.value
        values = {
            **_seen_again("webhook", now),
            StripeEvent.status: case((failed, EventStatus.PENDING.value), else_=StripeEvent.status),
        }
        for row_id, event_id, status, deliveries in db.session.execute(
            update(StripeEvent)
            .where(StripeEvent.event_id.in_(again))
            .values(values)
            .returning(
                StripeEvent.id, StripeEvent.event_id, StripeEvent.status, StripeEvent.delivery_count
            )
            .execution_options(synchronize_session=False)
        ):
            known[event_id] = Receipt(int(row_id), event_id, str(status), int(deliveries), False)
    found = {**inserted, **known}
    return [found[str(event["id"])] for event in events]


def _store(
    events: list[dict[str, Any]], *, source: str
) -> tuple[dict[str, StripeEvent], dict[str, Receipt]]:
    """The page's new rows (inserted, claimed) and the receipts of its redeliveries."""
    now = utcnow()
    insert = upsert_insert()
    # Written in event id order: two pages sharing events (a redelivery reaching two
    # workers at once) then wait for each other instead of deadlocking.
    by_id = sorted(events, key=lambda event: str(event["id"]))
    values = [_row_values(event, source=source, now=now) for event in by_id]
    inserted = {
        row.event_id: row
        for row in db.session.scalars(
            # One statement with a row of parameters per event (compiled once, cached).
            insert(StripeEvent)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(StripeEvent)
            # The payloads are not read back: each new row is given the one just written.
            .options(defer(StripeEvent.payload)),
            values,
        )
    }
    for row_values in values:
        row = inserted.get(row_values["event_id"])
        if row is not None:
            set_committed_value(row, "payload", row_values["payload"])
    known: dict[str, Receipt] = {}
    again = [event["id"] for event in by_id if event["id"] not in inserted]
    if again:
        for row_id, event_id, status, deliveries in db.session.execute(
            update(StripeEvent)
            .where(StripeEvent.event_id.in_(again))
            .values(_seen_again(source, now))
            .returning(
                StripeEvent.id, StripeEvent.event_id, StripeEvent.status, StripeEvent.delivery_count
            )
            .execution_options(synchronize_session=False)
        ):
            known[event_id] = Receipt(int(row_id), event_id, str(status), int(deliveries), False)
    return inserted, known


def _seen_again(source: str, now: datetime) -> dict[Any, Any]:
    """What an event stored before counts when it comes again: a webhook delivery (and its
    time), or a reading by the sync, which is no delivery and moves no delivery time."""
    if source == SYNC:
        return {StripeEvent.sync_count: StripeEvent.sync_count + 1}
    never_delivered = StripeEvent.delivery_count == 0  # found by the sync before this
    return {
        StripeEvent.delivery_count: StripeEvent.delivery_count + 1,
        StripeEvent.first_received_at: case(
            (never_delivered, now), else_=StripeEvent.first_received_at
        ),
        StripeEvent.last_received_at: now,
    }


def _row_values(event: dict[str, Any], *, source: str, now: datetime) -> dict[str, Any]:
    """A new inbox row's columns, claimed as it is written (`process_count` 1). The event's
    shape was checked where it came in (`payments.webhooks.verify`, the sync's `_feed`)."""
    refs = object_refs(event["data"]["object"])
    return {
        "event_id": event["id"],
        "type": event["type"],
        "api_version": str(event["api_version"])[:64] if event.get("api_version") else None,
        "livemode": bool(event.get("livemode", False)),
        "created": created_at(event),
        "payload": redact(event),
        "object_id": refs.object_id,
        "payment_intent_id": refs.payment_intent_id,
        "source": source,
        "status": EventStatus.PENDING.value,
        "process_count": 1,
        "delivery_count": 0 if source == SYNC else 1,
        "sync_count": 1 if source == SYNC else 0,
        "first_received_at": now,
        "last_received_at": now,
    }


def _receive_stored(
    event: dict[str, Any],
    inserted: dict[str, StripeEvent],
    known: dict[str, Receipt],
    apply: Callable[[StripeEvent, OrderLookup], None],
    orders: OrderLookup,
) -> Receipt:
    row = inserted.get(event["id"])
    if row is not None:
        apply(row, orders)
        return Receipt.of(row)
    receipt = known[event["id"]]
    if receipt.status in RETRYABLE:
        return Receipt.of(_process(receipt.row_id, False, orders).row)
    return receipt


@dataclass(frozen=True)
class Processed:
    row: StripeEvent  # as it now stands
    ran: bool  # False: no one needed it processed (applied, ignored or unmatched already)


def process(row_id: int, *, include_unmatched: bool = False) -> Processed:
    """Apply a stored event if it still needs it and no one else is applying it. With
    `include_unmatched`, an event that matched no order is tried again too (staff's
    Reprocess; an order may exist now)."""
    return _process(row_id, include_unmatched, OrderLookup())


def _process(row_id: int, include_unmatched: bool, orders: OrderLookup) -> Processed:
    claimable = REPROCESSABLE if include_unmatched else RETRYABLE
    # The claim: a conditional write, so it waits for (and then sees) a concurrent claim's
    # commit on PostgreSQL and on SQLite alike. A read-then-write could apply twice.
    claimed = db.session.scalar(
        update(StripeEvent)
        .where(StripeEvent.id == row_id, StripeEvent.status.in_(claimable))
        .values(process_count=StripeEvent.process_count + 1)
        .returning(StripeEvent)
        .execution_options(populate_existing=True)
    )
    if claimed is None:
        row = db.session.get(StripeEvent, row_id, populate_existing=True)
        if row is None:
            raise LookupError(row_id)
        return Processed(row, ran=False)
    reconcile.apply(claimed, orders)
    return Processed(claimed, ran=True)


def retryable_ids(older_than: timedelta = timedelta(0)) -> list[int]:
    """Events that still need processing: failed ones, and pending ones a worker left."""
    cutoff = utcnow() - older_than
    return list(
        db.session.scalars(
            select(StripeEvent.id)
            .where(StripeEvent.status.in_(RETRYABLE), StripeEvent.last_received_at <= cutoff)
            .order_by(StripeEvent.id)
        )
    )


def ids_of(event_ids: list[str]) -> dict[str, int]:
    """The inbox rows of these Stripe event ids (one query); ids not stored are left out."""
    rows = db.session.execute(
        select(StripeEvent.event_id, StripeEvent.id).where(StripeEvent.event_id.in_(event_ids))
    )
    return {event_id: row_id for event_id, row_id in rows}
