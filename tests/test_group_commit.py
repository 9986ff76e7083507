"""Group commit of webhook deliveries (dashboard/services/inbox/group_commit.py): what Stripe and
the merchant can notice of it. Deliveries that share a page are each answered only after
its commit; a page that fails as a whole has its deliveries received again one at a time,
so a failure stays with the delivery that caused it; a delivery whose handling waits on
Stripe holds up no other. (Pages of many deliveries, and their outcomes
next to one-at-a-time processing: tests/test_webhook_ordering.py, tests/test_event_pages.py.)
"""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from dashboard import create_app
from dashboard.config import ConfigError
from tests.support.database import reload, stored_events
from tests.support.stripe import (
    AMOUNT,
    FakeStripeHTTP,
    apply_stored,
    completed_session,
    hold_event,
    intent,
    send_event,
    send_raw,
    stripe_event,
)


def test_a_page_whose_commit_fails_keeps_nothing_and_is_answered_500(app, client, make_order):
    order = make_order(lines=None)
    event = hold_event(order.id, payment_intent="pi_test_commit", event_id="evt_commit_fails")

    def refuse(session: Session) -> None:
        if not session.in_nested_transaction():  # the commit itself, not a savepoint's end
            raise RuntimeError("the database went away")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does, not raise
    sa_event.listen(Session, "before_commit", refuse)
    try:
        refused = send_event(client, event)
    finally:
        sa_event.remove(Session, "before_commit", refuse)

    assert refused.status_code == 500
    assert stored_events(app) == []
    assert reload(app, order.id).state == "open"
    # Stripe delivers again: stored and applied once.
    assert send_event(client, event).status_code == 200
    (row,) = stored_events(app)
    assert (row.status, row.delivery_count) == ("applied", 1)
    assert reload(app, order.id).state == "authorized"


def test_every_delivery_of_a_failed_page_is_answered_500(app, make_order, caplog):
    """While commits fail (slowly, so that deliveries queue up behind the first page),
    deliveries arriving together all get a 500 and none is kept, a page's deliveries tried
    again on their own first; then all are applied."""
    orders = [make_order(lines=None) for _ in range(6)]
    events = [
        hold_event(o.id, payment_intent=f"pi_test_page_{n}", event_id=f"evt_page_{n}")
        for n, o in enumerate(orders)
    ]
    commits: list[int] = []

    def refuse(session: Session) -> None:
        if not session.in_nested_transaction():
            commits.append(1)
            time.sleep(0.2)
            raise RuntimeError("the database went away")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    answers: list[int] = []
    barrier = threading.Barrier(len(events))

    def deliver(event: dict[str, Any]) -> None:
        client = app.test_client()
        barrier.wait()
        answers.append(send_event(client, event).status_code)

    sa_event.listen(Session, "before_commit", refuse)
    try:
        threads = [threading.Thread(target=deliver, args=(e,)) for e in events]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sa_event.remove(Session, "before_commit", refuse)

    assert answers == [500] * len(events)
    # Some page held several deliveries: its failure had them tried one at a time (each
    # failing again), so there were more commits than deliveries.
    pages = [int(n) for n in re.findall(r"a page of (\d+) deliveries failed", caplog.text)]
    assert pages and max(pages) > 1
    assert len(commits) == len(events) + len(pages)
    assert stored_events(app) == []
    client = app.test_client()
    assert [send_event(client, e).status_code for e in events] == [200] * len(events)
    assert {reload(app, o.id).state for o in orders} == {"authorized"}


class SlowStripe(FakeStripeHTTP):
    """Reading a PaymentIntent waits until the test lets it answer."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()
        self.answer = threading.Event()

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        if method.upper() == "GET" and "/v1/payment_intents/" in url:
            self.reading.set()
            assert self.answer.wait(timeout=20), "the test never let Stripe answer"
        return super().request(method, url, headers, post_data, _usage=_usage)


@pytest.fixture
def slow_stripe(live_app) -> SlowStripe:
    from dashboard.payments.stripe_gateway import StripeGateway
    from tests.support.stripe import TEST_KEY

    double = SlowStripe()
    live_app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=double, max_network_retries=0
    )
    return double


def test_a_delivery_waiting_on_stripe_holds_up_no_other(
    live_app, database_url, make_order, slow_stripe
):
    """checkout.session.completed re-reads its PaymentIntent from Stripe, which is slow
    today; a payment_intent event for another order, arriving meanwhile on the same worker,
    is answered without waiting for it."""
    if not database_url.startswith("postgresql"):
        slow_stripe.answer.set()
        pytest.skip("SQLite admits one writer at a time: the first delivery's blocks it")
    paying = make_order(state="processing", stripe_checkout_session_id="cs_test_slow")
    other = make_order(lines=None)
    slow_stripe.intents["pi_test_slow"] = intent(
        paying.id, id="pi_test_slow", status="requires_capture", capturable=AMOUNT
    )
    session = completed_session(paying.id, id="cs_test_slow", payment_intent="pi_test_slow")
    answers: dict[str, int] = {}

    def deliver(name: str, event: dict[str, Any]) -> None:
        answers[name] = send_event(live_app.test_client(), event).status_code

    completed = threading.Thread(
        target=deliver,
        args=("completed", stripe_event("checkout.session.completed", session)),
    )
    completed.start()
    assert slow_stripe.reading.wait(timeout=10)
    quick = threading.Thread(
        target=deliver,
        args=("held", hold_event(other.id, payment_intent="pi_test_quick", event_id="evt_quick")),
    )
    quick.start()
    quick.join(timeout=10)
    try:
        assert answers == {"held": 200}  # answered while Stripe is still thinking
        assert reload(live_app, other.id).state == "authorized"
    finally:
        slow_stripe.answer.set()
        completed.join(timeout=20)
    assert answers == {"held": 200, "completed": 200}
    assert reload(live_app, paying.id).state == "authorized"


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_a_group_limit_below_one_is_refused_at_start(monkeypatch, tmp_path, limit):
    monkeypatch.setenv("WEBHOOK_GROUP_LIMIT", limit)
    with pytest.raises(ConfigError, match="WEBHOOK_GROUP_LIMIT must be at least 1"):
        create_app(instance_path=str(tmp_path))


def test_the_events_kept_out_of_pages_are_the_ones_whose_handlers_ask_stripe():
    """Each handler says so where it registers, so no list of types can be misspelt (the
    subset check this test made of a hand-kept list holds by construction now);
    tests/test_inbox_registry.py shows the types said not to ask Stripe never do."""
    from dashboard.services.inbox.handlers.registry import HANDLERS, rereads_stripe

    asks_stripe = {event_type for event_type in HANDLERS if rereads_stripe(event_type)}
    assert {"checkout.session.completed", "refund.updated"} <= asks_stripe


POISONED = 15  # which of the 32 deliveries is not a Stripe event


def deliver_together(app, events, send) -> list[Any]:
    """Each event from a thread of its own, all released at once, in send's answer order."""
    answers: list[Any] = [None] * len(events)
    barrier = threading.Barrier(len(events))

    def deliver(index: int) -> None:
        barrier.wait()
        answers[index] = send(events[index])

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e309"])
def test_a_nan_among_31_valid_deliveries_is_refused_alone(app, make_order, number):
    """NaN, Infinity and 1e309 pass Python's JSON parser; PostgreSQL refuses to store them,
    which failed the whole page the body had joined (4 to 7 of 31 valid events got 500s)."""
    orders = [make_order(lines=None) for _ in range(32)]
    events = [
        hold_event(o.id, payment_intent=f"pi_test_nan_{n}", event_id=f"evt_nan_{n}")
        for n, o in enumerate(orders)
    ]
    poison = json.dumps(events[POISONED]).replace('"amount": 3000', f'"amount": {number}', 1)
    assert number in poison
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def send(event: dict[str, Any]) -> int:
        client = app.test_client()
        if event is events[POISONED]:
            return send_raw(client, poison.encode()).status_code
        return send_event(client, event).status_code

    answers = deliver_together(app, events, send)

    assert answers[POISONED] == 400
    assert answers[:POISONED] + answers[POISONED + 1 :] == [200] * 31
    stored = {row.event_id: row.status for row in stored_events(app)}
    assert f"evt_nan_{POISONED}" not in stored
    assert len(stored) == 31 and set(stored.values()) == {"applied"}


def test_a_delivery_that_fails_its_page_fails_alone(app, make_order):
    """Below the endpoint, whatever makes a page fail as a whole (here an event the inbox
    cannot store, which the endpoint would have refused) fails only its own delivery."""
    orders = [make_order(lines=None) for _ in range(32)]
    events = [
        hold_event(o.id, payment_intent=f"pi_test_alone_{n}", event_id=f"evt_alone_{n}")
        for n, o in enumerate(orders)
    ]
    events[POISONED]["api_version"] = "\ud800"  # a lone surrogate: no database can encode it
    group = app.extensions["webhook_group_commit"]

    def send(event: dict[str, Any]) -> Any:
        with app.app_context():
            try:
                return group.receive(event).status
            except Exception as error:
                return type(error).__name__

    answers = deliver_together(app, events, send)

    # Its own error when it led its page, else the lead's word that its page failed.
    assert answers[POISONED] in ("UnicodeEncodeError", "PageNotCommitted")
    assert answers[:POISONED] + answers[POISONED + 1 :] == ["pending"] * 31  # stored
    apply_stored(app)  # what the worker's applier does next
    assert {row.event_id: row.status for row in stored_events(app)} == {
        event["id"]: "applied" for n, event in enumerate(events) if n != POISONED
    }
