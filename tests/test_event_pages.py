"""A page of events received at once (the sync's way) ends exactly as if each event had been
received on its own (the webhook's way): same order states, amounts, timelines, outbox and
inbox outcomes. The page path reads each order once for the whole page and writes at the
end; these tests hold it to the one-at-a-time path, which the webhook suites cover.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import CustomerTimelineEntry, Order, OutboxEvent, StripeEvent, TimelineEntry
from dashboard.services.inbox import store
from tests.support.stripe import charge, completed_session, intent, stripe_event

AMOUNT = 2500  # make_order's default: two widgets at 12.50


def scenario(prefix: str, orders: list[int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events delivered before the page, the page): every kind of outcome, several events
    per order, one pair arriving in the opposite order to Stripe's."""
    a, b, c = orders
    now = int(time.time()) - 600

    def event(kind: str, obj: dict[str, Any], n: int, **kw: Any) -> dict[str, Any]:
        return stripe_event(kind, obj, event_id=f"evt_{prefix}_{n}", created=now + n, **kw)

    def pi(order: int, status: str, **kw: Any) -> dict[str, Any]:
        return intent(
            order, id=f"pi_{prefix}_{orders.index(order)}", amount=AMOUNT, status=status, **kw
        )

    held = "payment_intent.amount_capturable_updated"
    # No Stripe key here: a completed session, whose payment must be read from Stripe,
    # fails, before the page and again when it is delivered with it.
    completed = completed_session(a, id=f"cs_{prefix}_0", payment_intent=f"pi_{prefix}_0")
    before = [
        event(held, pi(c, "requires_capture", capturable=AMOUNT), 1),
        event("checkout.session.completed", completed, 11),
    ]
    page = [
        # a: held, then captured in part, then the charge says the same again
        event(held, pi(a, "requires_capture", capturable=AMOUNT), 2),
        event("payment_intent.succeeded", pi(a, "succeeded", received=1800), 3),
        event(
            "charge.captured",
            charge(
                a,
                id=f"ch_{prefix}_0",
                payment_intent=f"pi_{prefix}_0",
                amount=AMOUNT,
                captured=True,
                amount_captured=1800,
            ),
            4,
        ),
        # b: the capture arrives before the hold Stripe created first
        event("payment_intent.succeeded", pi(b, "succeeded", received=AMOUNT), 6),
        event(held, pi(b, "requires_capture", capturable=AMOUNT), 5),
        # c: held before the page (redelivered in it), then voided in Stripe's Dashboard
        before[0],
        before[1],  # failed before: retried with the page, fails again
        event("payment_intent.canceled", pi(c, "canceled", cancellation_reason="abandoned"), 7),
        # nobody's payment, a live-mode event, a type with nothing to do
        event("payment_intent.succeeded", intent(None, id=f"pi_{prefix}_x", status="succeeded"), 8),
        event(held, pi(a, "requires_capture", capturable=AMOUNT), 9, livemode=True),
        event("payment_intent.processing", pi(b, "processing"), 10),
    ]
    return before, page


def normalised(app: Flask, prefix: str, orders: list[int]) -> dict[str, Any]:
    """What support and the merchant see, with this run's ids taken out."""

    def plain(text: Any) -> Any:
        text = str(text).replace(prefix, "P")
        text = re.sub(r"#\d+", "#N", text)
        for position, order_id in enumerate(orders):
            text = re.sub(rf"\b{order_id}\b", f"order{position}", text)
        return text

    with app.app_context():
        seen: dict[str, Any] = {}
        for position, order_id in enumerate(orders):
            order = db.session.get(Order, order_id)
            assert order is not None
            seen[f"order{position}"] = (
                order.state,
                order.amount_authorized,
                order.amount_captured,
                order.amount_refunded,
                order.amount_capturable,
                plain(order.stripe_payment_intent_id),
                plain(order.stripe_charge_id),
            )
            seen[f"timeline{position}"] = [
                (
                    entry.kind,
                    plain(entry.summary),
                    plain(entry.data.get("outcome")),
                    plain(entry.stripe_event.event_id if entry.stripe_event else None),
                )
                for entry in db.session.scalars(
                    select(TimelineEntry)
                    .where(TimelineEntry.order_id == order_id)
                    .order_by(TimelineEntry.id)
                )
            ]
            seen[f"customer{position}"] = [
                (
                    entry.kind,
                    plain(entry.summary),
                    plain(entry.data),
                    plain(entry.stripe_event.event_id if entry.stripe_event else None),
                )
                for entry in db.session.scalars(
                    select(CustomerTimelineEntry)
                    .where(CustomerTimelineEntry.customer_id == order.customer_id)
                    .order_by(CustomerTimelineEntry.id)
                )
            ]
            seen[f"outbox{position}"] = [
                (event.type, plain(event.dedupe_key))
                for event in db.session.scalars(
                    select(OutboxEvent)
                    .where(OutboxEvent.order_id == order_id)
                    .order_by(OutboxEvent.id)
                )
            ]
        seen["inbox"] = [
            (
                plain(row.event_id),
                row.status,
                plain(row.reason),
                row.out_of_order,
                row.delivery_count,
                row.process_count,
                orders.index(row.order_id) if row.order_id else None,
            )
            for row in db.session.scalars(
                select(StripeEvent)
                .where(StripeEvent.event_id.like(f"evt_{prefix}_%"))
                .order_by(StripeEvent.event_id)
            )
        ]
        return seen


def receive_one_by_one(app: Flask, events: list[dict[str, Any]]) -> list[Any]:
    with app.app_context():
        receipts = [store.receive(event, source="webhook") for event in events]
        db.session.commit()
        return receipts


def receive_as_page(app: Flask, events: list[dict[str, Any]]) -> list[Any]:
    with app.app_context():
        receipts = store.receive_page(events, source="webhook")
        db.session.commit()
        return receipts


FELL_BACK = "a page fell back to one event at a time"


def test_a_page_ends_as_its_events_received_one_at_a_time(app, make_order, caplog):
    # A buyer of its own for each order: the customers, and their timelines, are made by
    # the events of each run.
    one = [make_order(buyer_email=f"qqone{i}@example.com").id for i in range(3)]
    page = [make_order(buyer_email=f"qqpage{i}@example.com").id for i in range(3)]
    before, events = scenario("qqone", one)
    receive_one_by_one(app, before)
    one_receipts = receive_one_by_one(app, events)
    before, events = scenario("qqpage", page)
    receive_one_by_one(app, before)
    with caplog.at_level(logging.INFO, logger="dashboard.services.inbox.store"):
        page_receipts = receive_as_page(app, events)
    assert FELL_BACK not in caplog.text  # the page's own path, not the one-at-a-time one

    expected = normalised(app, "qqone", one)
    assert normalised(app, "qqpage", page) == expected
    assert [(r.status, r.delivery_count) for r in page_receipts] == [
        (r.status, r.delivery_count) for r in one_receipts
    ]
    # The scenario does reach every outcome, so the comparison means something.
    assert {row[1] for row in expected["inbox"]} == {"applied", "ignored", "unmatched", "failed"}
    assert expected["order0"][0] == "captured" and expected["order0"][2] == 1800
    assert expected["order1"][0] == "captured"
    assert expected["order2"][0] == "voided"
    assert [row[3] for row in expected["inbox"] if row[0] == "evt_P_5"] == [True]
    assert [row[4] for row in expected["inbox"] if row[0] == "evt_P_1"] == [2]
    assert [row[4:6] for row in expected["inbox"] if row[0] == "evt_P_11"] == [(2, 2)]
    # The buyers became customers, each with the entry that says so; the webhook entries
    # point at their events.
    assert [entry[1] for entry in expected["customer0"]] == ["Customer created"]
    assert ("webhook", "evt_P_5") in {(entry[0], entry[3]) for entry in expected["timeline1"]}


def test_a_failing_event_is_kept_failed_and_the_rest_of_its_page_applied(
    live_app, make_order, caplog
):
    """One event of the page fails (its payment cannot be read from Stripe): the page is
    then received one event at a time, so only that event is failed, with its error."""
    good, bad = make_order().id, make_order().id
    session = completed_session(
        bad, id="cs_test_unknown", payment_intent="pi_stripe_does_not_know", payment_status="paid"
    )
    held = intent(good, id="pi_test_good", amount=AMOUNT, status="requires_capture")
    held["amount_capturable"] = AMOUNT
    events = [
        stripe_event("checkout.session.completed", session, event_id="evt_page_bad"),
        stripe_event("payment_intent.amount_capturable_updated", held, event_id="evt_page_ok"),
    ]

    with caplog.at_level(logging.INFO, logger="dashboard.services.inbox.store"):
        receipts = receive_as_page(live_app, events)

    assert FELL_BACK in caplog.text
    assert [(r.event_id, r.status) for r in receipts] == [
        ("evt_page_bad", "failed"),
        ("evt_page_ok", "applied"),
    ]
    with live_app.app_context():
        rows = {
            row.event_id: row
            for row in db.session.scalars(select(StripeEvent).order_by(StripeEvent.id))
        }
        assert rows["evt_page_bad"].error and rows["evt_page_bad"].order_id is None
        assert db.session.get(Order, good).state == "authorized"
        assert db.session.get(Order, bad).state == "open"
        assert len(rows) == 2  # the rolled-back page left nothing behind twice
        webhook_entries = {
            order_id: [
                entry.stripe_event.event_id
                for entry in db.session.scalars(
                    select(TimelineEntry)
                    .where(TimelineEntry.order_id == order_id, TimelineEntry.kind == "webhook")
                    .order_by(TimelineEntry.id)
                )
            ]
            for order_id in (good, bad)
        }
        # Nor any of its timeline entries: the good order's event is on it once.
        assert webhook_entries == {good: ["evt_page_ok"], bad: []}


@pytest.mark.parametrize("repeat_in_page", [False, True])
def test_an_event_twice_in_a_page_is_applied_once(app, make_order, repeat_in_page):
    order = make_order().id
    held = intent(order, id="pi_test_twice", amount=AMOUNT, status="requires_capture")
    held["amount_capturable"] = AMOUNT
    event = stripe_event("payment_intent.amount_capturable_updated", held, event_id="evt_twice")
    if not repeat_in_page:
        receive_as_page(app, [event])
    receipts = receive_as_page(app, [event, event] if repeat_in_page else [event])

    assert [r.delivery_count for r in receipts] == ([1, 2] if repeat_in_page else [2])
    with app.app_context():
        row = db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == "evt_twice"))
        assert (row.status, row.delivery_count, row.process_count) == ("applied", 2, 1)
        assert db.session.get(Order, order).state == "authorized"
