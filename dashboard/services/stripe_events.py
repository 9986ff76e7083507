"""The Stripe event inbox: store each verified event once, then reconcile it into its order.

One transaction per delivery, or per page of deliveries (the sync's pages; the webhook
deliveries a worker groups, services/group_commit.py), committed by the caller of
`receive_page` or here by `receive` (like the payments ledger, this breaks "services only
flush" on purpose, so that Stripe's 2xx always follows a commit):
1. store: insert the events (`INSERT … ON CONFLICT DO NOTHING` on the event id: nothing
   reads first; a concurrent insert of the same id waits for the first one's transaction,
   then inserts nothing), each new row already claimed; for an event stored before, bump
   its delivery count.
2. process: a new row is applied at once; an older one only if it is still pending or
   failed, after a conditional UPDATE claims it (so two workers never apply one event
   twice). Applying finds the order, locks it, and moves it forward-only through the state
   machine, in a savepoint. A failure rolls back to the savepoint and is kept on the row,
   to be retried by Stripe's redelivery, the Reprocess button or `flask stripe reprocess`.
   A page is applied in one savepoint, its orders read once; if anything in it raises it
   is applied again one event at a time.
A crash before the commit keeps nothing, and Stripe, having had no 2xx, delivers again.

Payloads are applied as they are, because every rule is monotone (states only move
forward, amounts only grow), which makes any arrival order end in the same state. Where a
payload cannot say enough (a completed Checkout Session, a refund's outcome) the object is
re-read from Stripe and the truth applied.
"""

from __future__ import annotations

import logging
import traceback as tb
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.domain.ids import row_id
from dashboard.domain.money import format_minor
from dashboard.domain.orders import OrderState
from dashboard.domain.state_machine import (
    AFTER_CAPTURE,
    Ignored,
    IllegalTransition,
    PaymentEvent,
    StaffAction,
    Transition,
    state_for_refunds,
)
from dashboard.domain.stripe_mapping import (
    DISPUTE_RANK,
    LAPSED_CANCELLATION_REASONS,
    MAPPING_VERSION,
    CheckoutSessionStatus,
    PaymentIntentStatus,
    refund_counts,
)
from dashboard.extensions import db
from dashboard.models import (
    IN_FLIGHT,
    MONEY_ACTIONS,
    RETRYABLE,
    Dispute,
    EventStatus,
    Order,
    RequestStatus,
    StripeEvent,
    StripeRequest,
    TimelineEntry,
    TimelineKind,
    WebhookRejection,
    utcnow,
)
from dashboard.payments.gateway import gateway, is_live_key, mend_event_object
from dashboard.payments.snapshots import (
    PaymentIntentSnapshot,
    checkout_session_snapshot,
    dispute_from_event,
    object_refs,
    payment_intent_from_charge,
    payment_intent_snapshot,
    refund_from_event,
)
from dashboard.payments.webhooks import check_event_shape, created_at, redact
from dashboard.services import payments, timeline

log = logging.getLogger(__name__)

ERROR_LIMIT = 2000
TRACEBACK_FRAMES = 6


@dataclass(frozen=True)
class Outcome:
    status: EventStatus
    reason: str
    order_id: int | None = None  # the order it was reconciled into, if one matched
    out_of_order: bool = False


def applied(reason: str) -> Outcome:
    return Outcome(EventStatus.APPLIED, reason)


def ignored(reason: str) -> Outcome:
    return Outcome(EventStatus.IGNORED, reason)


# -- receiving ----------------------------------------------------------------------------


# Refusals older than this are forgotten: the health panel shows the last 24 hours.
REJECTIONS_KEPT = timedelta(days=30)


def reject(reason: str, remote_addr: str | None) -> None:
    """Count a refused delivery (nothing of it is kept but why, from where and when)."""
    db.session.add(WebhookRejection(reason=reason[:32], remote_addr=(remote_addr or "-")[:64]))
    db.session.execute(
        delete(WebhookRejection).where(WebhookRejection.created_at < utcnow() - REJECTIONS_KEPT)
    )
    db.session.commit()


@dataclass(frozen=True)
class Receipt:
    """What a delivery's answer says, read before the commit (so nothing is re-read)."""

    row_id: int
    event_id: str
    status: str
    delivery_count: int

    @classmethod
    def of(cls, row: StripeEvent) -> Receipt:
        return cls(row.id, row.event_id, row.status, row.delivery_count)


def receive(event: dict[str, Any], *, source: str, commit: bool = True) -> Receipt:
    """Store a verified event (or count a redelivery), process it if it still needs it, and
    commit both in one transaction: the caller answers Stripe only after that commit.

    `commit=False` leaves the commit to the caller (the sync commits a page at a time)."""
    inserted, known = _store_page([event], source=source)
    receipt = _receive_stored(event, inserted, known, _apply)
    _end(commit)
    return receipt


def _row_values(event: dict[str, Any], *, source: str, now: datetime) -> dict[str, Any]:
    """A new inbox row's columns, claimed as it is written (`process_count` 1)."""
    check_event_shape(event)
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
        "first_received_at": now,
        "last_received_at": now,
    }


def _insert_for(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# -- processing ---------------------------------------------------------------------------


def process(row_id: int, *, include_unmatched: bool = False, commit: bool = True) -> StripeEvent:
    """Apply a stored event if no one has yet; commit; return the row as it now stands."""
    row = _process(row_id, include_unmatched=include_unmatched)
    _end(commit)
    return row


def _process(row_id: int, *, include_unmatched: bool) -> StripeEvent:
    claimable = list(RETRYABLE)
    if include_unmatched:
        claimable.append(EventStatus.UNMATCHED.value)
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
        return row
    _apply(claimed)
    return claimed


def _apply(row: StripeEvent) -> None:
    """Reconcile a claimed event into its order, in a savepoint: if it raises, what it did
    is rolled back and the event is kept as failed (with the error), so nothing received
    is lost."""
    try:
        with db.session.begin_nested():
            outcome = _reconcile(row)
    except Exception as error:  # every failure is kept on the row and retried
        log.warning("stripe event %s (%s) failed: %s", row.event_id, row.type, type(error).__name__)
        row.status = EventStatus.FAILED.value
        row.error = storable(f"{type(error).__name__}: {error}")
        row.traceback = storable(_traceback_summary(error))
        row.processed_at = utcnow()
    else:
        _record(row, outcome)


def _record(row: StripeEvent, outcome: Outcome) -> None:
    row.status = outcome.status.value
    row.reason = storable(outcome.reason)
    if outcome.order_id is not None:
        row.order_id = outcome.order_id
        row.out_of_order = outcome.out_of_order
        page = _PAGE.get()
        if page is not None:
            page.saw(outcome.order_id, row.created)
    row.error = None
    row.traceback = None
    row.processed_at = utcnow()


# -- receiving a page of events (the sync) -------------------------------------------------


class _Page:
    """What a page of events needs of its orders, read once for the page and kept current
    as its events are applied: the orders (locked), the latest event each has taken, and
    our money requests for each. Consulted by `lock_order_for`, `_arrived_out_of_order`
    and `_sent_requests` while the page is applied."""

    def __init__(self) -> None:
        self.orders: dict[int, Order] = {}
        self.latest: dict[int, datetime] = {}
        self.requests: dict[int, list[StripeRequest]] = {}
        # The keys the orders were looked up by: an event with any other key is found by
        # the database (an event stored before and retried with the page, say).
        self.keys: set[tuple[str, int | str]] = set()

    def lock_orders_for(self, objects: list[dict[str, Any]]) -> None:
        """Lock every order these objects could lead to, in id order (one query), and
        read what their events' processing needs."""
        wanted: dict[str, set[int | str]] = {}
        for obj in objects:
            for column, value in _order_keys(obj):
                wanted.setdefault(column, set()).add(value)
                self.keys.add((column, value))
        if not wanted:
            return
        conditions = [getattr(Order, column).in_(sorted(v)) for column, v in wanted.items()]
        self.adopt(
            list(
                db.session.scalars(
                    select(Order)
                    .where(or_(*conditions))
                    .order_by(Order.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            )
        )

    def adopt(self, orders: list[Order]) -> None:
        ids = [order.id for order in orders if order.id not in self.orders]
        if not ids:
            return
        self.orders.update({order.id: order for order in orders})
        for order_id, latest in db.session.execute(
            select(StripeEvent.order_id, func.max(StripeEvent.created))
            .where(StripeEvent.order_id.in_(ids), StripeEvent.processed_at.is_not(None))
            .group_by(StripeEvent.order_id)
        ):
            if order_id is not None:
                self.latest[order_id] = latest
        for request in db.session.scalars(
            select(StripeRequest).where(
                StripeRequest.order_id.in_(ids), StripeRequest.action.in_(MONEY_ACTIONS)
            )
        ):
            self.requests.setdefault(request.order_id, []).append(request)

    def order_for(self, keys: list[tuple[str, int | str]]) -> Order | None:
        if not self.keys.issuperset(keys):
            return None
        for column, value in keys:
            if column == "id":
                by_id = self.orders.get(int(value))
                if by_id is not None:
                    return by_id
                continue
            # The Stripe ids as they stand now: an earlier event of the page may have set one.
            found = [o for o in self.orders.values() if getattr(o, column) == value]
            if found:
                return min(found, key=lambda order: order.id)
        return None

    def saw(self, order_id: int, created: datetime) -> None:
        latest = self.latest.get(order_id)
        if latest is None or created > latest:
            self.latest[order_id] = created


_PAGE: ContextVar[_Page | None] = ContextVar("stripe_events_page", default=None)


def receive_page(events: list[dict[str, Any]], *, source: str) -> list[Receipt]:
    """`receive` for each event in turn, in the caller's transaction (not committed), in a
    handful of statements per page rather than a dozen per event.

    The new events are inserted in one statement, already claimed, and the redeliveries
    counted in another. Then, in a savepoint, the orders the new events lead to are locked
    in one query (in id order) with what processing reads of them, the events are applied
    in list order without a savepoint each, and everything is written at the end. If
    anything raises, that savepoint is rolled back and the events are applied one at a
    time instead, each in its own savepoint, where a failing event is kept as failed and
    the others applied. (The inserts come first, outside the savepoint: on SQLite a
    transaction begins at its first write, and a savepoint opened before it would be a
    transaction of its own, committed by its release.)
    """
    if not events:
        return []
    if len({event["id"] for event in events}) < len(events):
        return [receive(event, source=source, commit=False) for event in events]
    inserted, known = _store_page(events, source=source)
    try:
        with db.session.begin_nested():
            page = _Page()
            token = _PAGE.set(page)
            try:
                page.lock_orders_for([row.data_object for row in inserted.values()])
                return [_receive_stored(e, inserted, known, _apply_in_page) for e in events]
            finally:
                _PAGE.reset(token)
    except Exception as error:  # the page's events are then applied one at a time
        log.info("stripe events: a page fell back to one event at a time (%s)", error)
        return [_receive_stored(e, inserted, known, _apply) for e in events]


def _store_page(
    events: list[dict[str, Any]], *, source: str
) -> tuple[dict[str, StripeEvent], dict[str, Receipt]]:
    """The page's new rows (inserted, claimed) and the receipts of its redeliveries."""
    now = utcnow()
    insert = _insert_for(db.session.get_bind().dialect.name)
    # Written in event id order: two pages sharing events (a redelivery reaching two
    # workers at once) then wait for each other instead of deadlocking.
    by_id = sorted(events, key=lambda event: str(event["id"]))
    inserted = {
        row.event_id: row
        for row in db.session.scalars(
            # One statement with a row of parameters per event (compiled once, cached).
            insert(StripeEvent)
            .on_conflict_do_nothing(index_elements=["event_id"])
            .returning(StripeEvent),
            [_row_values(event, source=source, now=now) for event in by_id],
        )
    }
    known: dict[str, Receipt] = {}
    again = [event["id"] for event in by_id if event["id"] not in inserted]
    if again:
        for row_id, event_id, status, deliveries in db.session.execute(
            update(StripeEvent)
            .where(StripeEvent.event_id.in_(again))
            .values(delivery_count=StripeEvent.delivery_count + 1, last_received_at=now)
            .returning(
                StripeEvent.id, StripeEvent.event_id, StripeEvent.status, StripeEvent.delivery_count
            )
            .execution_options(synchronize_session=False)
        ):
            known[event_id] = Receipt(int(row_id), event_id, str(status), int(deliveries))
    return inserted, known


def _receive_stored(
    event: dict[str, Any],
    inserted: dict[str, StripeEvent],
    known: dict[str, Receipt],
    apply: Callable[[StripeEvent], None],
) -> Receipt:
    row = inserted.get(event["id"])
    if row is not None:
        apply(row)
        return Receipt.of(row)
    receipt = known[event["id"]]
    if receipt.status in RETRYABLE:
        return Receipt.of(_process(receipt.row_id, include_unmatched=False))
    return receipt


def _apply_in_page(row: StripeEvent) -> None:
    """`_apply` without a savepoint of its own: the page's savepoint stands for it."""
    _record(row, _reconcile(row))


def _end(commit: bool) -> None:
    if commit:
        db.session.commit()
    else:
        db.session.flush()


def reprocess(row_id: int) -> StripeEvent:
    """Staff's retry of a failed, pending or unmatched event (applied ones are left alone)."""
    return process(row_id, include_unmatched=True)


def storable(text: str) -> str:
    """Text from a payload made safe to keep: PostgreSQL refuses NUL in text columns."""
    return text.replace("\x00", "\\u0000")[:ERROR_LIMIT]


def _traceback_summary(error: BaseException) -> str:
    frames = tb.extract_tb(error.__traceback__)[-TRACEBACK_FRAMES:]
    lines = [
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}" for frame in frames
    ]
    return "\n".join([*lines, f"{type(error).__name__}: {error}"])[:ERROR_LIMIT]


def _reconcile(row: StripeEvent) -> Outcome:
    app_live = is_live_key(str(current_app.config.get("STRIPE_SECRET_KEY") or ""))
    if row.livemode != app_live:
        mode, app_mode = ("live", "test") if row.livemode else ("test", "live")
        return ignored(f"A {mode}-mode event reached this {app_mode}-mode dashboard.")
    handler = HANDLERS.get(row.type)
    if handler is None:
        return ignored(f"{row.type} is not an event this dashboard acts on.")
    obj = row.data_object
    order = lock_order_for(obj)
    if order is None:
        return Outcome(EventStatus.UNMATCHED, _no_match_reason(obj))
    late = _arrived_out_of_order(row, order)
    entry = timeline.append(
        order,
        TimelineKind.WEBHOOK,
        f"Stripe event {row.type}",
        stripe_event=row,
        data={
            "event_id": row.event_id,
            "type": row.type,
            "stripe_created": row.created.isoformat(),
            "received": row.first_received_at.isoformat(),
            "out_of_order": late,
            "mapping_version": MAPPING_VERSION,
        },
    )
    # The handlers' reads never depend on what this event has written so far, so nothing
    # is flushed before the savepoint ends: the entry is inserted once, already described,
    # with the handler's entries in the same statement.
    with db.session.no_autoflush:
        found = handler(order, obj, row)
    outcome = Outcome(found.status, storable(found.reason), order_id=order.id, out_of_order=late)
    _describe(entry, row.type, outcome)
    return outcome


def _describe(entry: TimelineEntry, event_type: str, outcome: Outcome) -> None:
    late = " (arrived out of order)" if outcome.out_of_order else ""
    entry.summary = f"Stripe event {event_type}{late}: {outcome.status.value}, {outcome.reason}"
    entry.data = {**entry.data, "outcome": outcome.status.value, "reason": outcome.reason}


def _arrived_out_of_order(row: StripeEvent, order: Order) -> bool:
    """Did an event Stripe created later already reach this order?"""
    page = _PAGE.get()
    if page is not None:
        latest = page.latest.get(order.id)
        return latest is not None and latest > row.created
    later = exists().where(
        StripeEvent.order_id == order.id,
        StripeEvent.id != row.id,
        StripeEvent.created > row.created,
        StripeEvent.processed_at.is_not(None),
    )
    return bool(db.session.scalar(select(later)))


# -- finding the order --------------------------------------------------------------------


def _order_keys(obj: dict[str, Any]) -> list[tuple[str, int | str]]:
    """What can lead from an event's object to its order, strongest first: the metadata
    order id, the client_reference_id, then the Stripe ids the order stores."""
    refs = object_refs(obj)
    keys: list[tuple[str, int | str]] = []
    for number in (row_id(refs.order_id), row_id(refs.client_reference_id)):
        if number is not None:
            keys.append(("id", number))
    for column, value in (
        ("stripe_payment_intent_id", refs.payment_intent_id),
        ("stripe_checkout_session_id", refs.checkout_session_id),
        ("stripe_charge_id", refs.charge_id),
    ):
        if value:
            keys.append((column, value))
    return keys


def lock_order_for(obj: dict[str, Any]) -> Order | None:
    """The event's order, locked (as `payments.lock_order` does), by `_order_keys`."""
    keys = _order_keys(obj)
    page = _PAGE.get()
    if page is not None:
        found = page.order_for(keys)
        if found is not None:
            return found
        db.session.flush()  # the query below must not overwrite what the page changed
    for column, value in keys:
        order = db.session.scalar(
            select(Order)
            .where(getattr(Order, column) == value)
            .limit(1)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if order is not None:
            if page is not None:
                page.adopt([order])
            return order
    return None


def _no_match_reason(obj: dict[str, Any]) -> str:
    refs = object_refs(obj)
    tried = [
        f"{name} {value}"
        for name, value in (
            ("metadata order_id", refs.order_id),
            ("client_reference_id", refs.client_reference_id),
            ("payment intent", refs.payment_intent_id),
            ("checkout session", refs.checkout_session_id),
            ("charge", refs.charge_id),
        )
        if value
    ]
    return "No order matches " + (", ".join(tried) if tried else "anything in this event") + "."


def _other_attempt(order: Order, payment_intent_id: str | None) -> Outcome | None:
    if (
        payment_intent_id
        and order.stripe_payment_intent_id
        and payment_intent_id != order.stripe_payment_intent_id
    ):
        return ignored(
            f"It concerns payment {payment_intent_id}, an earlier attempt; the order's payment "
            f"is {order.stripe_payment_intent_id}."
        )
    return None


# -- handlers -----------------------------------------------------------------------------


def _result(outcome: Transition | Ignored | None, nothing: str) -> Outcome:
    if isinstance(outcome, Ignored):
        return ignored(outcome.reason)
    if outcome is None:
        return ignored(nothing)
    if outcome.changed:
        return applied(f"{outcome.before.label} → {outcome.after.label}")
    return applied(f"still {outcome.after.label.lower()}, amounts updated")


_SENT = (RequestStatus.SUCCEEDED.value, *IN_FLIGHT)
# What the PaymentIntent shows once our capture or void went through.
_DONE = {
    StaffAction.CAPTURE.value: PaymentIntentStatus.SUCCEEDED,
    StaffAction.VOID.value: PaymentIntentStatus.CANCELED,
}


def _sent_requests(order: Order) -> list[StripeRequest]:
    """Our money requests for the order that Stripe took or may have taken (one query)."""
    page = _PAGE.get()
    if page is not None:
        return [r for r in page.requests.get(order.id, []) if r.status in _SENT]
    return list(
        db.session.scalars(
            select(StripeRequest).where(
                StripeRequest.order_id == order.id,
                StripeRequest.action.in_(MONEY_ACTIONS),
                StripeRequest.status.in_(_SENT),
            )
        )
    )


def _outside(order: Order, snapshot: PaymentIntentSnapshot, sent: list[StripeRequest]) -> str:
    """Name a money movement that none of our requests asked for (Stripe's Dashboard)."""
    actions = {request.action for request in sent}
    notes = []
    if (
        snapshot.status == PaymentIntentStatus.SUCCEEDED
        and order.order_state not in AFTER_CAPTURE
        and StaffAction.CAPTURE not in actions
    ):
        notes.append("captured outside the dashboard")
    ours = sum(r.amount or 0 for r in sent if r.action == StaffAction.REFUND)
    if snapshot.amounts.refunded > max(ours, order.amount_refunded):
        notes.append("refund made outside the dashboard")
    if (
        snapshot.status == PaymentIntentStatus.CANCELED
        and snapshot.cancellation_reason not in LAPSED_CANCELLATION_REASONS
        and StaffAction.VOID not in actions
        and order.order_state is OrderState.AUTHORIZED
    ):
        notes.append("voided outside the dashboard")
    return "; ".join(notes)


def _confirm_in_flight(
    order: Order, snapshot: PaymentIntentSnapshot, sent: list[StripeRequest], source: str
) -> None:
    """An unanswered capture or void that this event shows went through is settled by it."""
    for request in sent:
        if request.status in IN_FLIGHT and snapshot.status == _DONE.get(request.action):
            payments.finish_request(
                order,
                request,
                RequestStatus.SUCCEEDED,
                what=f"{request.action} (confirmed by {source})",
                object_id=snapshot.id,
            )


def _apply_snapshot(order: Order, snapshot: PaymentIntentSnapshot, row: StripeEvent) -> Outcome:
    other = _other_attempt(order, snapshot.id or None)
    if other is not None:
        return other
    source = f"webhook {row.type}"
    sent = _sent_requests(order)
    _confirm_in_flight(order, snapshot, sent, source)
    outside = _outside(order, snapshot, sent)
    if outside:
        source = f"{source}; {outside}"
    before = (order.amount_captured, order.amount_refunded)
    result = payments.apply_payment_intent(order, snapshot, source=source)
    outcome = _result(result, f"payment intent {snapshot.status} says nothing new")
    if outcome.status is EventStatus.APPLIED and outside:
        return applied(f"{outcome.reason} ({outside})")
    if (
        outcome.status is EventStatus.IGNORED
        and (order.amount_captured, order.amount_refunded) != before
    ):
        return applied("amounts updated")
    return outcome


def on_payment_intent(order: Order, obj: dict[str, Any], row: StripeEvent) -> Outcome:
    return _apply_snapshot(order, payment_intent_snapshot(mend_event_object(obj)), row)


def on_charge(order: Order, obj: dict[str, Any], row: StripeEvent) -> Outcome:
    snapshot = payment_intent_from_charge(obj, expired=row.type == "charge.expired")
    if not snapshot.id:
        if order.stripe_payment_intent_id is None:
            return ignored("The charge belongs to no payment intent.")
        snapshot = _with_id(snapshot, order.stripe_payment_intent_id)
    if order.refund_failed_at and row.type == "charge.refunded":
        # A refund of this order failed: this payload may still count it. Ask Stripe.
        snapshot = gateway().retrieve_payment_intent(snapshot.id)
    return _apply_snapshot(order, snapshot, row)


def _with_id(snapshot: PaymentIntentSnapshot, payment_intent_id: str) -> PaymentIntentSnapshot:
    return replace(snapshot, id=payment_intent_id)


def on_refund(order: Order, obj: dict[str, Any], row: StripeEvent) -> Outcome:
    refund = refund_from_event(obj)
    other = _other_attempt(order, refund.payment_intent_id)
    if other is not None:
        return other
    payment_intent_id = refund.payment_intent_id or order.stripe_payment_intent_id
    if payment_intent_id is None:
        return ignored("The refund belongs to no payment this order knows.")
    request = None
    if refund.idempotency_key:
        request = db.session.scalar(
            select(StripeRequest).where(
                StripeRequest.order_id == order.id,
                StripeRequest.idempotency_key == refund.idempotency_key,
            )
        )
    who = f"our refund {request.idempotency_key}" if request else "made outside the dashboard"
    truth = gateway().retrieve_payment_intent(payment_intent_id)
    if not refund_counts(refund.status):
        return _refund_failed(order, refund.id, refund.failure_reason, request, truth, who)
    if request is not None and request.status in IN_FLIGHT:
        payments.finish_request(
            order,
            request,
            RequestStatus.SUCCEEDED,
            what=f"refund (confirmed by webhook {row.type})",
            object_id=refund.id,
        )
    result = payments.apply_payment_intent(order, truth, source=f"webhook {row.type}; {who}")
    outcome = _result(result, f"refund {refund.id} is {refund.status}")
    return Outcome(outcome.status, f"{outcome.reason} ({who}, {refund.status})")


def _refund_failed(
    order: Order,
    refund_id: str,
    failure_reason: str | None,
    request: StripeRequest | None,
    truth: PaymentIntentSnapshot,
    who: str,
) -> Outcome:
    why = failure_reason or "no reason given"
    if request is not None and request.status != RequestStatus.FAILED.value:
        request.status = RequestStatus.FAILED.value
        request.error_code = "refund_failed"
        request.error_message = f"The refund failed after Stripe accepted it: {why}."[:500]
        request.completed_at = request.completed_at or utcnow()
    order.refund_failed_at = order.refund_failed_at or utcnow()
    refunded = min(truth.amounts.refunded, order.amount_captured)
    if refunded >= order.amount_refunded:
        return ignored(f"Refund {refund_id} failed ({why}), but Stripe's amounts already say so.")
    before = order.order_state
    after = state_for_refunds(order.amount_captured, refunded)
    timeline.append(
        order,
        TimelineKind.STATE_CHANGE,
        f"{before.label} → {after.label} (refund {refund_id} failed: {why}; refunded "
        f"{order.money(order.amount_refunded)} → {order.money(refunded)}, the money "
        "stays with the merchant)",
        data={
            "from": before.value,
            "to": after.value,
            "event": "refund_failed",
            "refund": refund_id,
            "mapping_version": MAPPING_VERSION,
        },
    )
    order.amount_refunded = refunded
    order.state = after.value
    db.session.flush()
    return applied(f"refund {refund_id} failed ({why}, {who}): refunded amount corrected")


def on_checkout_session(order: Order, obj: dict[str, Any], row: StripeEvent) -> Outcome:
    session = checkout_session_snapshot(obj)
    if order.stripe_checkout_session_id and session.id != order.stripe_checkout_session_id:
        return ignored(
            f"It concerns checkout session {session.id}; the order's session is "
            f"{order.stripe_checkout_session_id}."
        )
    other = _other_attempt(order, session.payment_intent_id)
    if other is not None:
        return other
    source = f"webhook {row.type}"
    state = order.order_state
    if row.type == "checkout.session.async_payment_failed":
        order.last_payment_error = "The payment failed after checkout (a delayed method)."
        try:
            result: Transition | Ignored | None = payments.move(
                order, PaymentEvent.FAILED, source=source, detail="delayed payment failed"
            )
        except IllegalTransition as illegal:
            result = Ignored(state, PaymentEvent.FAILED, str(illegal))
        return _result(result, "")
    payments.apply_checkout_session(order, session, source=source)
    if session.status == CheckoutSessionStatus.COMPLETE and order.stripe_payment_intent_id:
        # The session does not say whether the hold is in place: its PaymentIntent does.
        truth = gateway().retrieve_payment_intent(order.stripe_payment_intent_id)
        return _result(
            payments.apply_payment_intent(order, truth, source=f"{source}, payment re-read"),
            f"payment intent {truth.status} says nothing new",
        )
    if order.order_state != state:
        return applied(f"{state.label} → {order.order_state.label}")
    return ignored(f"checkout session {session.status} changes nothing ({state.label.lower()})")


def on_dispute(order: Order, obj: dict[str, Any], row: StripeEvent) -> Outcome:
    facts = dispute_from_event(obj)
    if not facts.id:
        return ignored("The dispute has no valid id.")
    other = _other_attempt(order, facts.payment_intent_id)
    if other is not None:
        return other
    dispute = db.session.scalar(select(Dispute).where(Dispute.stripe_dispute_id == facts.id))
    if dispute is None:
        dispute = Dispute(
            order_id=order.id,
            stripe_dispute_id=facts.id,
            charge_id=facts.charge_id,
            amount=facts.amount,
            currency=facts.currency or order.currency,
            reason=facts.reason,
            status=facts.status,
            evidence_due_by=facts.evidence_due_by,
        )
        db.session.add(dispute)
    elif DISPUTE_RANK.get(facts.status, 0) >= DISPUTE_RANK.get(dispute.status, 0):
        dispute.status = facts.status
        dispute.amount = facts.amount or dispute.amount
        dispute.evidence_due_by = facts.evidence_due_by or dispute.evidence_due_by
    if row.type == "charge.dispute.funds_withdrawn":
        dispute.funds_withdrawn = True
    if row.type == "charge.dispute.funds_reinstated":
        dispute.funds_reinstated = True
    dispute.updated_at = utcnow()
    db.session.flush()
    what = {
        "charge.dispute.created": "opened",
        "charge.dispute.updated": "updated",
        "charge.dispute.closed": "closed",
        "charge.dispute.funds_withdrawn": "funds withdrawn",
        "charge.dispute.funds_reinstated": "funds reinstated",
    }[row.type]
    status = dispute.outcome or dispute.status.replace("_", " ")
    amount = format_minor(dispute.amount, dispute.currency)
    return applied(f"dispute {facts.id} {what}: {amount} ({dispute.reason}), {status}")


Handler = Callable[[Order, dict[str, Any], StripeEvent], Outcome]

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": on_checkout_session,
    "checkout.session.expired": on_checkout_session,
    "checkout.session.async_payment_succeeded": on_checkout_session,
    "checkout.session.async_payment_failed": on_checkout_session,
    "payment_intent.amount_capturable_updated": on_payment_intent,
    "payment_intent.succeeded": on_payment_intent,
    "payment_intent.canceled": on_payment_intent,
    "payment_intent.payment_failed": on_payment_intent,
    "payment_intent.requires_action": on_payment_intent,
    "payment_intent.processing": on_payment_intent,
    "charge.captured": on_charge,
    "charge.refunded": on_charge,
    "charge.expired": on_charge,
    "charge.refund.updated": on_refund,
    "refund.created": on_refund,
    "refund.updated": on_refund,
    "refund.failed": on_refund,
    "charge.dispute.created": on_dispute,
    "charge.dispute.updated": on_dispute,
    "charge.dispute.closed": on_dispute,
    "charge.dispute.funds_withdrawn": on_dispute,
    "charge.dispute.funds_reinstated": on_dispute,
}


# The events whose handling may ask Stripe for the truth first (a network call made while
# the event's transaction is open). Webhook deliveries of these are not grouped: a slow
# answer from Stripe must hold up no delivery but its own.
ASKS_STRIPE = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "charge.refunded",  # when one of the order's refunds failed
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
        "refund.failed",
    }
)


# -- reading ------------------------------------------------------------------------------


def get_event(row_id: int) -> StripeEvent | None:
    return db.session.get(StripeEvent, row_id)


@dataclass(frozen=True)
class WebhookHealth:
    last_by_type: list[tuple[str, datetime]]
    rejections_24h: dict[str, int]
    failed_24h: int
    unmatched_24h: int
    oldest_unprocessed: StripeEvent | None


def health(now: datetime | None = None) -> WebhookHealth:
    now = now or utcnow()
    since = now - timedelta(hours=24)
    last_by_type = [
        (str(kind), when)
        for kind, when in db.session.execute(
            select(StripeEvent.type, func.max(StripeEvent.last_received_at))
            .group_by(StripeEvent.type)
            .order_by(StripeEvent.type)
        )
    ]
    rejections = {
        str(reason): int(count)
        for reason, count in db.session.execute(
            select(WebhookRejection.reason, func.count())
            .where(WebhookRejection.created_at >= since)
            .group_by(WebhookRejection.reason)
        )
    }

    def count(status: EventStatus) -> int:
        return int(
            db.session.scalar(
                select(func.count()).where(
                    StripeEvent.status == status.value, StripeEvent.last_received_at >= since
                )
            )
            or 0
        )

    oldest = db.session.scalar(
        select(StripeEvent)
        .where(StripeEvent.status.in_(RETRYABLE))
        .order_by(StripeEvent.id)
        .limit(1)
    )
    return WebhookHealth(
        last_by_type=last_by_type,
        rejections_24h=rejections,
        failed_24h=count(EventStatus.FAILED),
        unmatched_24h=count(EventStatus.UNMATCHED),
        oldest_unprocessed=oldest,
    )


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
