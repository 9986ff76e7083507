"""Applying one claimed event to its order: the mode check, the handler its type is
registered with, the webhook entry on the order's timeline, and what became of it, kept on
the inbox row. A failure is kept on the row too (with the error), so nothing is lost.

Payloads are applied as they are, because every rule is monotone (states only move
forward, amounts only grow), which makes any arrival order end in the same state. Where a
payload cannot say enough (a completed Checkout Session, a refund's outcome) the handler
re-reads the object from Stripe and applies the truth.
"""

from __future__ import annotations

import logging
import traceback as tb

from flask import current_app

from dashboard.domain.stripe_mapping import MAPPING_VERSION
from dashboard.extensions import db
from dashboard.models import EventStatus, StripeEvent, TimelineEntry, TimelineKind, utcnow
from dashboard.payments.gateway import is_live_key
from dashboard.services import alerts, timeline
from dashboard.services.inbox.handlers.customer import on_setup_session
from dashboard.services.inbox.handlers.outcomes import Outcome, ignored
from dashboard.services.inbox.handlers.registry import MatchedEvent, registration
from dashboard.services.inbox.matching import OrderLookup, no_match_reason

log = logging.getLogger(__name__)

ERROR_LIMIT = 2000
TRACEBACK_FRAMES = 6


def apply(row: StripeEvent, orders: OrderLookup) -> None:
    """Reconcile a claimed event into its order, in a savepoint: if it raises, what it did
    is rolled back and the event is kept as failed (with the error), to be retried."""
    try:
        with db.session.begin_nested():
            outcome = _reconcile(row, orders)
    except Exception as error:  # every failure is kept on the row and retried
        log.warning("stripe event %s (%s) failed: %s", row.event_id, row.type, type(error).__name__)
        row.status = EventStatus.FAILED.value
        row.error = storable(f"{type(error).__name__}: {error}")
        row.traceback = storable(_traceback_summary(error))
        row.processed_at = utcnow()
        alerts.event_failing(row)
    else:
        _record(row, outcome, orders)


def apply_in_page(row: StripeEvent, orders: OrderLookup) -> None:
    """`apply` without a savepoint of its own: the page's savepoint stands for it, and a
    failure fails the whole page (which is then applied one event at a time)."""
    _record(row, _reconcile(row, orders), orders)


def _record(row: StripeEvent, outcome: Outcome, orders: OrderLookup) -> None:
    row.status = outcome.status.value
    row.reason = storable(outcome.reason)
    row.flag = outcome.flag
    if outcome.order_id is not None:
        row.order_id = outcome.order_id
        row.out_of_order = outcome.out_of_order
        orders.saw(outcome.order_id, row.created)
    row.error = None
    row.traceback = None
    row.processed_at = utcnow()


def _reconcile(row: StripeEvent, orders: OrderLookup) -> Outcome:
    app_live = is_live_key(str(current_app.config.get("STRIPE_SECRET_KEY") or ""))
    if row.livemode != app_live:
        mode, app_mode = ("live", "test") if row.livemode else ("test", "live")
        return ignored(f"A {mode}-mode event reached this {app_mode}-mode dashboard.")
    registered = registration(row.type)
    if registered is None:
        return ignored(f"{row.type} is not an event this dashboard acts on.")
    if registered.customer_handler is not None:
        # About a customer, not an order: its handler writes the customer's timeline.
        with db.session.no_autoflush:
            return registered.customer_handler(row)
    obj = row.data_object
    if obj.get("object") == "checkout.session" and obj.get("mode") == "setup":
        # A save-a-card link's Checkout: about its customer, not an order.
        with db.session.no_autoflush:
            return on_setup_session(row)
    if obj.get("object") == "checkout.session" and obj.get("mode") == "subscription":
        return ignored(
            "A subscription's Checkout Session: the subscription's own events carry what it made."
        )
    order = orders.order_for(obj)
    if order is None:
        return Outcome(EventStatus.UNMATCHED, no_match_reason(obj))
    late = orders.arrived_out_of_order(row, order)
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
        found = registered.handler(MatchedEvent(row, order, orders))
    outcome = Outcome(
        found.status,
        storable(found.reason),
        order_id=order.id,
        out_of_order=late,
        flag=found.flag,
    )
    _describe(entry, row.type, outcome)
    return outcome


def _describe(entry: TimelineEntry, event_type: str, outcome: Outcome) -> None:
    late = " (arrived out of order)" if outcome.out_of_order else ""
    entry.summary = f"Stripe event {event_type}{late}: {outcome.status.value}, {outcome.reason}"
    entry.data = {**entry.data, "outcome": outcome.status.value, "reason": outcome.reason}


def storable(text: str) -> str:
    """Text from a payload made safe to keep: PostgreSQL refuses NUL in text columns."""
    return text.replace("\x00", "\\u0000")[:ERROR_LIMIT]


def _traceback_summary(error: BaseException) -> str:
    frames = tb.extract_tb(error.__traceback__)[-TRACEBACK_FRAMES:]
    lines = [
        f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}" for frame in frames
    ]
    return "\n".join([*lines, f"{type(error).__name__}: {error}"])[:ERROR_LIMIT]
