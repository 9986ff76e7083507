"""The outbox contract (docs/outbox.md): events written once, read and acknowledged by CLI."""

import json

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import OutboxEvent, Role
from tests.support.web import pay_with_test_card, post_form


def test_a_payment_writes_its_events_once_and_the_cli_reads_and_acks_them(
    sandbox_app, make_order, signed_in
):
    order = make_order()
    pay_with_test_card(sandbox_app, order.id)
    staff = signed_in(Role.STAFF)
    post_form(staff, f"/orders/{order.id}/capture", {"amount": "20.00"})
    post_form(staff, f"/orders/{order.id}/capture", {"amount": "20.00"})  # a second click
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
