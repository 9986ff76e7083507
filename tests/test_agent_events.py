"""Order events back to the agent (ACP `order_create` / `order_update`): written when an
agent's order is held and whenever its state changes, whatever changed it; signed as the
protocol's webhook file says, checked by a receiver written from its words, valid against
that file; delivered by `flask outbox relay`, once each and in order per order, through an
agent that was down; every attempt on the order's timeline and on the admin's page."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from dashboard.domain.state_machine import PaymentEvent
from dashboard.extensions import db
from dashboard.models import (
    Agent,
    AgentWebhook,
    Order,
    Role,
    TimelineEntry,
    utcnow,
)
from dashboard.services import agent_deliveries, agent_events, agents
from dashboard.services.payments import apply, staff
from dashboard.services.relay import loop
from dashboard.services.relay.claims import Policy
from dashboard.transactions import unit_of_work
from tests.support.agent_receiver import AgentReceiver
from tests.support.stripe import AMOUNT, dispute, send_event, stripe_event
from tests.support.web import pay_with_test_card

SECRET = "whsec_" + "s3cr3t" * 8


@pytest.fixture
def receiver():
    receiver = AgentReceiver(SECRET)
    yield receiver
    receiver.stop()


def register(app, url, name="Shopping Agent", secret=SECRET):
    with app.app_context():
        made = agents.register(name, url, webhook_secret=secret)
        db.session.commit()
        return made.agent.id


def relay_once(app):
    result = app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def webhooks(app, order_id=None):
    with app.app_context():
        query = select(AgentWebhook).order_by(AgentWebhook.id)
        if order_id is not None:
            query = query.where(AgentWebhook.order_id == order_id)
        found = list(db.session.scalars(query))
        db.session.expunge_all()
        return found


def timeline_of(app, order_id):
    with app.app_context():
        return list(
            db.session.scalars(
                select(TimelineEntry.summary)
                .where(TimelineEntry.order_id == order_id)
                .order_by(TimelineEntry.id)
            )
        )


def move(app, order_id, event, **amounts):
    """One step of the order state machine, as a webhook, a sweep or staff make it, with
    the amounts Stripe's answer brings."""
    with app.app_context(), unit_of_work():
        order = db.session.get(Order, order_id)
        for name, value in amounts.items():
            setattr(order, name, value)
        apply.move(order, event, source="test", detail=event.value)


def make_all_due(app):
    """Time passes: every waiting event's backoff is over."""
    with app.app_context(), unit_of_work():
        db.session.execute(
            update(AgentWebhook).values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def statuses(received):
    return [(r.event["type"], r.event["data"]["id"], r.event["data"]["status"]) for r in received]


def test_a_paid_agent_order_is_announced_and_each_change_follows_signed_and_valid(
    sandbox_app, make_order, make_user, receiver
):
    app = sandbox_app
    receiver.start()
    agent_id = register(app, receiver.url)
    order = make_order(agent_id=agent_id)
    staff_order = make_order()
    assert webhooks(app) == []  # not the agent's order before it is held

    pay_with_test_card(app, order.id)
    pay_with_test_card(app, staff_order.id)
    clerk = make_user(Role.STAFF, quick_hash=True)
    with app.app_context():
        actor = db.session.merge(clerk)
        staff.capture_hold(order.id, 2500, actor)
        db.session.commit()
        staff.refund_payment(order.id, 1000, "requested_by_customer", actor)
        db.session.commit()

    written = webhooks(app)
    assert [w.event_type for w in written] == ["order_create", "order_update", "order_update"]
    assert {w.order_id for w in written} == {order.id}  # the staff's own order has none
    assert "3 delivered" in relay_once(app)

    assert receiver.invalid == [] and receiver.refused == []
    ord_id = f"ord_{order.id}"
    assert statuses(receiver.accepted) == [
        ("order_create", ord_id, "confirmed"),
        ("order_update", ord_id, "processing"),
        ("order_update", ord_id, "processing"),
    ]
    refunded = receiver.accepted[-1].event["data"]
    assert {"type": "amount_refunded", "display_text": "Refunded", "amount": 1000} in (
        refunded["totals"]
    )
    [refund] = refunded["adjustments"]
    assert (refund["type"], refund["amount"], refund["currency"]) == ("refund", 1000, "usd")
    assert refunded["line_items"][0]["quantity"] == {"ordered": 2, "current": 2, "fulfilled": 0}
    assert refunded["permalink_url"].endswith(f"/orders/{order.id}")
    # One Request-Id per event, the same on each of its attempts.
    assert len({r.headers["Request-Id"] for r in receiver.accepted}) == 3
    entries = timeline_of(app, order.id)
    assert sum("delivered (HTTP 200" in entry for entry in entries) == 3
    assert any(
        "order_create" in entry and "queued for Shopping Agent" in entry for entry in entries
    )
    assert "Order events to agents: none due" in relay_once(app)  # nothing is sent twice


def test_an_agent_that_was_down_gets_each_event_once_in_order_per_order(app, make_order, receiver):
    agent_id = register(app, receiver.url)  # the receiver is not started: the agent is down
    orders = [make_order(agent_id=agent_id, state="authorized") for _ in range(2)]
    for order in orders:
        move(app, order.id, PaymentEvent.CAPTURED, amount_captured=2500)
        move(app, order.id, PaymentEvent.REFUNDED, amount_refunded=2500)
    assert len(webhooks(app)) == 6

    before = utcnow()
    assert "2 retry" in relay_once(app)  # each order's first event; the rest wait behind it
    for order in orders:
        first, *rest = webhooks(app, order.id)
        assert first.attempts == 1 and first.last_status is None
        assert first.last_error == "the agent's server refused the connection (is it down?)"
        wait = (first.next_attempt_at - before).total_seconds()
        base = app.config["OUTBOX_RETRY_BASE"]
        assert base / 2 - 1 <= wait <= base + 1  # the outbox's backoff with jitter
        assert all(later.attempts == 0 for later in rest)
        assert any(
            "not delivered: the agent's server refused the connection" in e
            for e in timeline_of(app, order.id)
        )
    assert "none due" in relay_once(app)  # backing off: nothing is due yet

    receiver.start()
    make_all_due(app)
    assert "6 delivered" in relay_once(app)
    make_all_due(app)
    relay_once(app)

    assert receiver.invalid == [] and receiver.refused == []
    assert len(receiver.accepted) == 6
    assert len({r.headers["Request-Id"] for r in receiver.accepted}) == 6  # no copies
    for order in orders:
        mine = [s for s in statuses(receiver.accepted) if s[1] == f"ord_{order.id}"]
        assert mine == [
            ("order_create", f"ord_{order.id}", "confirmed"),
            ("order_update", f"ord_{order.id}", "processing"),
            ("order_update", f"ord_{order.id}", "processing"),
        ]
        assert [w.status for w in webhooks(app, order.id)] == ["delivered"] * 3


def test_refusals_errors_and_timeouts_are_on_the_timeline_and_tried_again(
    app, make_order, receiver
):
    # Two seconds to answer is plenty on a loopback, even on a busy machine; the slow agent
    # takes twice that.
    app.config["AGENT_WEBHOOK_TIMEOUT"] = 2
    receiver.start()
    agent_id = register(app, receiver.url, secret="whsec_" + "other" * 10)  # not the agent's
    order = make_order(agent_id=agent_id, state="authorized")

    relay_once(app)  # a wrong signature: the agent answers 401
    assert receiver.refused == ["Webhook signature verification failed."]
    receiver.secret = "whsec_" + "other" * 10
    receiver.answer_status = 500
    make_all_due(app)
    relay_once(app)
    receiver.answer_status = 400
    make_all_due(app)
    relay_once(app)
    receiver.answer_status, receiver.answer_after = 200, 4
    make_all_due(app)
    relay_once(app)
    receiver.answer_after = 0
    make_all_due(app)
    relay_once(app)

    entries = [e for e in timeline_of(app, order.id) if "Agent event order_create" in e]
    said = [e.split(" not delivered: ", 1)[-1] for e in entries[1:-1]]
    assert said[0].startswith('HTTP 401 {"type": "invalid_request", "code": "invalid_signature"')
    assert said[1].startswith('HTTP 500 {"type": "processing_error"')
    assert said[2].startswith('HTTP 400 {"type": "processing_error"')
    assert said[3].startswith("no answer within 2 s (attempt 4; tried again in ")
    assert "delivered (HTTP 200" in entries[-1] and "attempt 5" in entries[-1]
    [webhook] = webhooks(app)
    assert (webhook.status, webhook.attempts, webhook.last_status) == ("delivered", 5, 200)
    with app.app_context():
        attempts = agent_deliveries.attempts_of(webhook.id)
        assert [(a.outcome, a.status_code) for a in attempts] == [
            ("retry", 401),
            ("retry", 500),
            ("retry", 400),
            ("retry", None),
            ("delivered", 200),
        ]
    # The slow answer was received, but too late to count: sent again, and the agent can
    # tell the copy by its Request-Id.
    assert [r.headers["Request-Id"] for r in receiver.accepted] == [
        receiver.accepted[0].headers["Request-Id"]
    ] * 2


def test_the_last_attempt_allowed_stops_the_event_and_lets_the_next_one_go(
    app, make_order, receiver
):
    app.config["OUTBOX_MAX_ATTEMPTS"] = 2
    receiver.start()
    receiver.answer_status = 503
    order = make_order(agent_id=register(app, receiver.url), state="authorized")
    move(app, order.id, PaymentEvent.VOIDED)
    relay_once(app)
    make_all_due(app)
    relay_once(app)
    first, second = webhooks(app)
    # Given up on, the first no longer holds the next back: it went in the same pass.
    assert (first.status, first.attempts, second.attempts) == ("stopped", 2, 1)
    assert any("the last one; given up" in e for e in timeline_of(app, order.id))
    receiver.answer_status = 200
    make_all_due(app)
    relay_once(app)
    assert statuses(receiver.accepted) == [("order_update", f"ord_{order.id}", "canceled")]
    voided = receiver.accepted[0].event["data"]["line_items"][0]
    assert voided["quantity"]["current"] == 0 and voided["status"] == "removed"


def test_a_revoked_agents_waiting_events_stop_and_no_new_ones_are_written(
    app, make_order, receiver
):
    agent_id = register(app, receiver.url)
    order = make_order(agent_id=agent_id, state="authorized")
    move(app, order.id, PaymentEvent.CAPTURED, amount_captured=2500)
    with app.app_context(), unit_of_work():
        agents.revoke(db.session.get(Agent, agent_id))
    move(
        app, order.id, PaymentEvent.REFUNDED, amount_refunded=2500
    )  # after the revocation: nothing written
    receiver.start()
    assert "2 stopped" in relay_once(app)
    assert receiver.accepted == [] and receiver.answered == []
    assert [w.status for w in webhooks(app)] == ["stopped", "stopped"]
    assert timeline_of(app, order.id)[-1].endswith("not sent: Shopping Agent was revoked")


def test_the_agent_api_announces_an_order_itself_once(app, make_order):
    agent_id = register(app, "https://agent.example/hooks")
    order = make_order(agent_id=agent_id)  # open: the commit hook leaves it alone
    with app.app_context(), unit_of_work():
        attached = db.session.get(Order, order.id)
        created = agent_events.order_created(attached, checkout_session_id="cs_acp_42")
        again = agent_events.order_created(attached, checkout_session_id="cs_acp_42")
        assert created is not None and again is None
    move(app, order.id, PaymentEvent.AUTHORIZED)
    first, second = webhooks(app)
    assert (first.event_type, second.event_type) == ("order_create", "order_update")
    assert second.checkout_session_id == "cs_acp_42"
    assert '"checkout_session_id":"cs_acp_42"' in second.body
    assert '"status":"created"' in first.body and '"status":"confirmed"' in second.body


def test_the_admin_page_lists_deliveries_newest_first_a_page_at_a_time(
    app, make_order, receiver, signed_in
):
    agent_id = register(app, receiver.url)
    orders = [make_order(agent_id=agent_id, state="authorized") for _ in range(3)]
    relay_once(app)  # the agent is down: each is tried once
    admin = signed_in(Role.ADMIN)
    page = admin.get("/admin/agent-deliveries")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count("failing, will try again") == 3
    assert html.count("the agent&#39;s server refused the connection (is it down?)") == 3
    assert f'href="/orders/{orders[0].id}"' in html and "Shopping Agent" in html
    assert signed_in(Role.STAFF).get("/admin/agent-deliveries").status_code == 403
    with app.app_context():
        first = agent_deliveries.deliveries(older_than=None, newer_than=None, per_page=2)
        assert [w.order_id for w in first.rows] == [orders[2].id, orders[1].id]
        rest = agent_deliveries.deliveries(older_than=first.older_than, newer_than=None, per_page=2)
        assert [w.order_id for w in rest.rows] == [orders[0].id] and rest.older_than is None
    broken = admin.get("/admin/agent-deliveries?older_than=x")
    assert broken.status_code == 400 and "cursor must be a whole number" in broken.get_data(
        as_text=True
    )


def test_a_dispute_stripe_reports_reaches_the_agent_as_an_adjustment(app, make_order, receiver):
    receiver.start()
    order = make_order(
        agent_id=register(app, receiver.url),
        state="captured",
        amount_authorized=2500,
        amount_captured=2500,
        stripe_charge_id="ch_test_hold",
        stripe_payment_intent_id="pi_test_hold",
    )
    client = app.test_client()
    opened = stripe_event("charge.dispute.created", dispute(status="needs_response"))
    for _ in range(2):  # Stripe delivers it twice: one event to the agent
        assert send_event(client, opened).status_code == 200
    lost = stripe_event("charge.dispute.closed", dispute(status="lost"))
    assert send_event(client, lost).status_code == 200
    relay_once(app)

    assert receiver.invalid == [] and receiver.refused == []
    events = [r.event for r in receiver.accepted]
    assert [e["type"] for e in events] == ["order_create", "order_update", "order_update"]
    assert {e["data"]["id"] for e in events} == {f"ord_{order.id}"}
    assert events[0]["data"]["adjustments"] == []
    assert [
        (a["type"], a["status"], a["amount"], a["currency"])
        for e in events[1:]
        for a in e["data"]["adjustments"]
    ] == [("dispute", "pending", AMOUNT, "usd"), ("dispute", "completed", AMOUNT, "usd")]


def test_two_relays_at_once_send_each_event_once_in_order_per_order(app, make_order, receiver):
    """Two relay processes' worth: two threads, each with its own database connection."""
    receiver.start()
    agent_id = register(app, receiver.url)
    orders = [make_order(agent_id=agent_id, state="authorized") for _ in range(8)]
    for order in orders:
        move(app, order.id, PaymentEvent.CAPTURED, amount_captured=2500)
        move(app, order.id, PaymentEvent.PARTIALLY_REFUNDED, amount_refunded=500)
    errors = []
    start = threading.Barrier(2)

    def relay(name):
        try:
            with app.app_context():
                policy = Policy.from_config(app.config, name)
                start.wait()
                for _ in range(30):
                    if loop.run_pass(app.config, policy).handled == 0:
                        break
                db.session.remove()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=relay, args=(f"relay-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert receiver.invalid == [] and receiver.refused == []
    assert len(receiver.accepted) == 24
    assert len({r.headers["Request-Id"] for r in receiver.accepted}) == 24
    for order in orders:
        mine = [s for s in statuses(receiver.accepted) if s[1] == f"ord_{order.id}"]
        assert [s[0] for s in mine] == ["order_create", "order_update", "order_update"]
        assert [s[2] for s in mine] == ["confirmed", "processing", "processing"]
        last = [r for r in receiver.accepted if r.event["data"]["id"] == f"ord_{order.id}"][-1]
        totals = {t["type"]: t["amount"] for t in last.event["data"]["totals"]}
        assert totals == {"subtotal": 2500, "total": 2500, "amount_refunded": 500}
    assert all(w.status == "delivered" and w.attempts == 1 for w in webhooks(app))


def test_a_savepoint_rolled_back_later_in_the_transaction_loses_no_event(app, make_order):
    """As in a group commit: one order's change, then another event's savepoint undone."""
    order = make_order(agent_id=register(app, "https://agent.example/hooks"), state="authorized")
    with app.app_context(), unit_of_work():
        apply.move(db.session.get(Order, order.id), PaymentEvent.CAPTURED, source="t", detail="t")
        db.session.flush()
        savepoint = db.session.begin_nested()
        db.session.get(Order, order.id).buyer_name = "Changed, then undone"
        db.session.flush()
        savepoint.rollback()
    assert [w.event_type for w in webhooks(app)] == ["order_create", "order_update"]
