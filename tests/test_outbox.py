"""The outbox contract (docs/outbox.md): events written once, read and acknowledged by CLI."""

import json

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import OutboxEvent, Role
from tests.support.database import reload
from tests.support.web import move_money, pay_with_test_card


def test_a_payment_writes_its_events_once_and_the_cli_reads_and_acks_them(
    sandbox_app, make_order, signed_in
):
    order = make_order()
    pay_with_test_card(sandbox_app, order.id)
    staff = signed_in(Role.STAFF)
    move_money(staff, f"/orders/{order.id}/capture", {"amount": "20.00"})
    move_money(staff, f"/orders/{order.id}/capture", {"amount": "20.00"})  # a second click
    runner = sandbox_app.test_cli_runner()

    lines = runner.invoke(args=["outbox", "list", "--json"]).output.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["type"] for e in events] == ["ORDER_CREATED", "PAYMENT_SUCCEEDED"]
    succeeded = events[1]
    assert succeeded["order_id"] == order.id
    assert succeeded["payload"]["amount_captured"] == 2000
    assert succeeded["payload"]["currency"] == "USD"
    assert succeeded["payload"]["payment_intent"].startswith("pi_")

    acked = runner.invoke(args=["outbox", "ack", str(events[0]["id"])])
    assert acked.exit_code == 0, acked.output
    remaining = runner.invoke(args=["outbox", "list"]).output
    assert "PAYMENT_SUCCEEDED" in remaining and "ORDER_CREATED" not in remaining
    everything = runner.invoke(args=["outbox", "list", "--all"]).output
    assert "ORDER_CREATED" in everything and "acked" in everything

    page = staff.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f"Outbox event PAYMENT_SUCCEEDED #{succeeded['id']} written" in page


def test_ack_twice_keeps_the_first_time_and_unknown_ids_change_nothing(sandbox_app, make_order):
    order = make_order()
    pay_with_test_card(sandbox_app, order.id, "decline")
    runner = sandbox_app.test_cli_runner()
    with sandbox_app.app_context():
        (event_id,) = db.session.scalars(select(OutboxEvent.id)).all()
    assert runner.invoke(args=["outbox", "ack", str(event_id)]).exit_code == 0
    with sandbox_app.app_context():
        first = db.session.get(OutboxEvent, event_id).acked_at
    assert runner.invoke(args=["outbox", "ack", str(event_id)]).exit_code == 0
    with sandbox_app.app_context():
        assert db.session.get(OutboxEvent, event_id).acked_at == first

    result = runner.invoke(args=["outbox", "ack", "999999"])
    assert result.exit_code == 1
    assert "There is no outbox event 999999." in result.output
    bad = runner.invoke(args=["outbox", "ack", "zero"])
    assert bad.exit_code == 2


def test_failed_authorization_event_says_why(sandbox_app, make_order):
    order = make_order()
    pay_with_test_card(sandbox_app, order.id, "decline")
    lines = sandbox_app.test_cli_runner().invoke(args=["outbox", "list", "--json"]).output
    (event,) = [json.loads(line) for line in lines.splitlines()]
    assert event["type"] == "PAYMENT_FAILED"
    assert event["payload"]["stage"] == "authorization"
    assert "declined" in event["payload"]["reason"]


def localstripes_events(localstripe_url):
    """Every event localstripe itself has recorded (for the whole test run), oldest first."""
    from tests.support.localstripe import localstripe

    return localstripe(localstripe_url, "/v1/events?limit=1000000")["data"]


def failures_of(app, order_id):
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.order_id == order_id, OutboxEvent.type == "PAYMENT_FAILED"
                )
            )
        )


def test_one_declined_attempt_is_one_payment_failed_from_the_pay_page_and_the_webhook(
    sandbox_app, localstripe_url, make_order
):
    """The pay page told the decline, then Stripe's payment_intent.payment_failed told it
    again: two PAYMENT_FAILED for one attempt, with different reasons. Both now name the
    attempt by its charge: one event."""
    from tests.support.stripe import send_event

    order = make_order()
    seen = len(localstripes_events(localstripe_url))
    page = pay_with_test_card(sandbox_app, order.id, "decline").get_data(as_text=True)
    assert "Your card was declined." in page
    (failed,) = [
        event
        for event in localstripes_events(localstripe_url)[seen:]
        if event["type"] == "payment_intent.payment_failed"
    ]
    assert send_event(sandbox_app.test_client(), failed).status_code == 200

    (event,) = failures_of(sandbox_app, order.id)
    assert event.payload["stage"] == "authorization"
    assert "declined" in event.payload["reason"]


def test_a_second_declined_attempt_is_a_second_payment_failed(sandbox_app, make_order):
    """Once per attempt, not once per order: each attempt has a charge of its own."""
    order = make_order()
    pay_with_test_card(sandbox_app, order.id, "decline")
    pay_with_test_card(sandbox_app, order.id, "decline")
    assert len(failures_of(sandbox_app, order.id)) == 2


def test_a_failed_3d_secure_step_is_one_payment_failed_from_the_pay_page_and_the_webhook(
    sandbox_app, localstripe_url, make_order
):
    """The verification step failed on the pay page, then Stripe's
    payment_intent.payment_failed reported the same attempt: one event (it was two)."""
    from tests.support.stripe import send_event
    from tests.support.web import pay_link, post_form

    order = make_order()
    buyer = sandbox_app.test_client()
    link = pay_link(sandbox_app, order.id)
    post_form(buyer, f"{link}/sandbox-card", {"card": "3ds"})
    seen = len(localstripes_events(localstripe_url))
    post_form(buyer, f"{link}/sandbox-authenticate", {"outcome": "fail"})
    assert len(failures_of(sandbox_app, order.id)) == 1
    pi_id = reload(sandbox_app, order.id).stripe_payment_intent_id
    failed = [
        event
        for event in localstripes_events(localstripe_url)[seen:]
        if event["type"] == "payment_intent.payment_failed"
    ]
    if not failed:  # localstripe tells no webhook of a failed verification: send Stripe's
        from tests.support.localstripe import stripe_pi
        from tests.support.stripe import stripe_event

        failed = [stripe_event("payment_intent.payment_failed", stripe_pi(localstripe_url, pi_id))]
    assert send_event(sandbox_app.test_client(), failed[0]).status_code == 200
    (event,) = failures_of(sandbox_app, order.id)
    assert event.payload["stage"] == "authorization"
