"""Any order, any number of deliveries, several workers at once: one final state.

Stripe guarantees neither order nor uniqueness of deliveries. These tests send one
payment's events in every order, duplicated, concurrently (PostgreSQL), and, end to end,
the webhooks localstripe itself signs and sends during a real payment.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event as sa_event

from dashboard import create_app
from dashboard.extensions import db
from dashboard.sandbox.runner import register_webhook
from dashboard.services.inbox.applier import BackgroundApplier
from dashboard.views.webhooks import APPLIER
from tests.support.app import base_config, serve
from tests.support.database import BACKENDS, outbox_types, reload, stored_events
from tests.support.localstripe import capture_at_stripe
from tests.support.stripe import (
    AMOUNT,
    WEBHOOK_SECRET,
    apply_stored,
    charge,
    intent,
    send_event,
    stripe_event,
)
from tests.support.web import pay_with_test_card

CAPTURED, REFUNDED = 1800, 500


def payment_events(order_id: int) -> dict[str, dict[str, Any]]:
    """Hold 30.00, capture 18.00 of it, refund 5.00: as Stripe reports it, event by event."""
    pi, ch = f"pi_perm_{order_id}", f"ch_perm_{order_id}"
    created = int(time.time()) - 100
    return {
        "authorized": stripe_event(
            "payment_intent.amount_capturable_updated",
            intent(order_id, id=pi, status="requires_capture", capturable=AMOUNT, latest_charge=ch),
            created=created,
        ),
        "charge captured": stripe_event(
            "charge.captured",
            charge(order_id, id=ch, payment_intent=pi, captured=True, amount_captured=CAPTURED),
            created=created + 10,
        ),
        "intent succeeded": stripe_event(
            "payment_intent.succeeded",
            intent(order_id, id=pi, status="succeeded", received=CAPTURED, latest_charge=ch),
            created=created + 10,  # same second as the capture: time cannot order them
        ),
        "refunded": stripe_event(
            "charge.refunded",
            charge(
                order_id,
                id=ch,
                payment_intent=pi,
                captured=True,
                amount_captured=CAPTURED,
                refunds=REFUNDED,
            ),
            created=created + 20,
        ),
    }


def final(app: Flask, order_id: int) -> tuple[Any, ...]:
    order = reload(app, order_id)
    return (
        order.state,
        order.amount_authorized,
        order.amount_capturable,
        order.amount_captured,
        order.amount_refunded,
        tuple(outbox_types(app, order_id)),
    )


TRUTH = ("partially_refunded", AMOUNT, 0, CAPTURED, REFUNDED, ("PAYMENT_SUCCEEDED",))
NAMES = list(payment_events(0))


def test_every_order_of_a_payments_events_ends_in_the_same_state(app, client, make_order):
    outcomes = {}
    for order_of_arrival in itertools.permutations(NAMES):
        order = make_order(lines=None)
        events = payment_events(order.id)
        for name in order_of_arrival:
            assert send_event(client, events[name]).status_code == 200
        outcomes[order_of_arrival] = final(app, order.id)
    assert len(outcomes) == 24
    wrong = {arrival: got for arrival, got in outcomes.items() if got != TRUTH}
    assert not wrong


def test_out_of_order_arrivals_are_marked_on_the_event(app, client, make_order):
    order = make_order(lines=None)
    events = payment_events(order.id)
    for name in ("refunded", "authorized"):
        send_event(client, events[name])
    marks = {row.type: row.out_of_order for row in stored_events(app)}
    assert marks == {"charge.refunded": False, "payment_intent.amount_capturable_updated": True}


def test_shuffled_duplicated_deliveries_of_many_payments(app, client, make_order):
    rng = random.Random(20261123)
    orders = [make_order(lines=None) for _ in range(6)]
    deliveries = [
        event
        for order in orders
        for event in payment_events(order.id).values()
        for _ in range(rng.randint(1, 3))
    ]
    rng.shuffle(deliveries)
    for event in deliveries:
        assert send_event(client, event).status_code == 200
    assert [final(app, order.id) for order in orders] == [TRUTH] * len(orders)
    rows = stored_events(app)
    assert len(rows) == 4 * len(orders)
    assert sum(row.delivery_count for row in rows) == len(deliveries)
    assert {row.process_count for row in rows} == {1}


needs_postgres = pytest.mark.skipif(
    "postgresql" not in BACKENDS, reason="needs PostgreSQL: set TEST_DATABASE_URL"
)


def _at_once(
    app: Flask, events: list[dict[str, Any]], *, workers: bool = True, apply: bool = True
) -> list[int]:
    """Each event from its own thread (its own client, its own connection), all together.

    `workers`: each thread posts to its own app, as gunicorn's worker processes are (their
    own pools and group commits: the race is the database's). Otherwise all post to `app`,
    as a worker's threads do, and deliveries arriving together share pages. `apply`: each
    thread then runs the applier, as each worker's does (else the events stay pending)."""
    barrier = threading.Barrier(len(events))
    statuses: list[int] = []
    lock = threading.Lock()
    apps = [_worker_app(app) if workers else app for _ in events]

    def deliver(target: Flask, event: dict[str, Any]) -> None:
        client = target.test_client()
        barrier.wait()
        status = send_event(client, event, apply=apply).status_code
        with lock:
            statuses.append(status)

    pairs = zip(apps, events, strict=True)
    threads = [threading.Thread(target=deliver, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for worker in apps:
        if worker is not app:
            with worker.app_context():
                db.engine.dispose()
    return statuses


def _worker_app(app: Flask) -> Flask:
    return create_app(
        base_config(app.config["SQLALCHEMY_DATABASE_URI"]), instance_path=app.instance_path
    )


@needs_postgres
def test_one_event_delivered_to_eight_workers_at_once_is_applied_once(
    app, database_url, make_order
):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    for _ in range(3):
        order = make_order(lines=None)
        event = payment_events(order.id)["intent succeeded"]
        statuses = _at_once(app, [event] * 8)
        assert statuses == [200] * 8
        (row,) = [r for r in stored_events(app) if r.event_id == event["id"]]
        assert (row.delivery_count, row.process_count, row.status) == (8, 1, "applied")
        assert final(app, order.id)[0] == "captured"
        assert outbox_types(app, order.id) == ["PAYMENT_SUCCEEDED"]


@needs_postgres
def test_a_payments_events_arriving_together_on_several_workers(app, database_url, make_order):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    for _ in range(3):
        order = make_order(lines=None)
        events = list(payment_events(order.id).values())
        statuses = _at_once(app, events + events)
        assert sorted(statuses) == [200] * 8
        assert final(app, order.id) == TRUTH


def test_deliveries_arriving_together_on_one_worker_share_pages(app, make_order):
    """A worker's threads: deliveries that arrive together are stored as pages, each
    answered after its page's commit; then applied: every event once, every payment true."""
    orders = [make_order(lines=None) for _ in range(4)]
    events = [event for order in orders for event in payment_events(order.id).values()]
    commits: list[int] = []

    def count(connection: Any) -> None:
        commits.append(1)

    with app.app_context():
        engine = db.engine
    sa_event.listen(engine, "commit", count)
    try:
        statuses = _at_once(app, events + events[:4], workers=False, apply=False)
    finally:
        sa_event.remove(engine, "commit", count)
    apply_stored(app)  # what the worker's applier does right after
    assert sorted(statuses) == [200] * 20
    assert [final(app, order.id) for order in orders] == [TRUTH] * 4
    rows = stored_events(app)
    assert sum(row.delivery_count for row in rows) == 20
    assert {row.process_count for row in rows} == {1}
    assert len(commits) < 20  # pages held more than one delivery


# -- end to end: localstripe signs and sends, our server receives --------------------------


@pytest.fixture
def live_server(sandbox_app: Flask, localstripe_url: str) -> Iterator[str]:
    """The dashboard on a real loopback port, registered as localstripe's webhook endpoint,
    applying what it stores in the background as a production worker does."""
    applier = BackgroundApplier(sandbox_app, page_size=sandbox_app.config["WEBHOOK_APPLY_PAGE"])
    sandbox_app.extensions[APPLIER] = applier
    with serve(sandbox_app) as url:
        register_webhook(localstripe_url, url + "/webhooks/stripe", WEBHOOK_SECRET)
        try:
            yield url
        finally:
            applier.stop()
            # localstripe cannot forget an endpoint: point it at a port nothing listens on.
            register_webhook(localstripe_url, "http://127.0.0.1:9/webhooks/stripe", WEBHOOK_SECRET)


def _wait_for(app: Flask, type_: str, order_id: int, timeout: float = 15) -> Any:
    """The event once it arrived and the background applier applied it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for row in stored_events(app):
            if row.type == type_ and row.order_id == order_id and row.status != "pending":
                return row
        time.sleep(0.1)
    raise AssertionError(f"localstripe's {type_} for order {order_id} never arrived")


def test_localstripes_own_webhooks_arrive_and_apply(
    sandbox_app, live_server, localstripe_url, make_order
):
    held = make_order(lines=None)
    pay_with_test_card(sandbox_app, held.id, "success")
    payment_intent_id = reload(sandbox_app, held.id).stripe_payment_intent_id
    assert reload(sandbox_app, held.id).state == "authorized"

    assert capture_at_stripe(localstripe_url, payment_intent_id)["status"] == "succeeded"
    row = _wait_for(sandbox_app, "payment_intent.succeeded", held.id)
    assert (row.status, row.source) == ("applied", "webhook")
    assert "captured outside the dashboard" in row.reason
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured) == ("captured", order.total_amount)

    declined = make_order(lines=None)
    pay_with_test_card(sandbox_app, declined.id, "decline")
    row = _wait_for(sandbox_app, "payment_intent.payment_failed", declined.id)
    assert row.status in ("applied", "ignored")
    assert reload(sandbox_app, declined.id).state == "failed"
