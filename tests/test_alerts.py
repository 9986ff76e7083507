"""Alert emails to staff, end to end: noticed by the sweep or a webhook, written to the
outbox once per person and per hold, dispute or event, delivered by `flask outbox relay` to
a real SMTP server (aiosmtpd on loopback), to whoever chose them on the account page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboard.domain.alerts import AlertKind, wanted
from dashboard.extensions import db
from dashboard.models import EventStatus, OutboxMessage, Role, StripeEvent, utcnow
from dashboard.services import alerts
from dashboard.transactions import unit_of_work
from tests.support.concurrency import all_at_once
from tests.support.stripe import (
    AMOUNT,
    completed_session,
    dispute,
    intent,
    send_event,
    stripe_event,
)
from tests.support.web import login, post_form

HOLD = {"stripe_payment_intent_id": "pi_test_hold", "amount_capturable": 2500}  # the total


@pytest.fixture
def team(make_user):
    """An admin, a staff member and a support agent, with their roles' default alerts."""
    return {
        role: make_user(role, f"{role.value}@shop.example", quick_hash=True)
        for role in (Role.ADMIN, Role.STAFF, Role.SUPPORT)
    }


def relay(app) -> str:
    result = app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def queued(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (message.recipient, message.subject)
            for message in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        ]


def sweep_alerts(app, now=None) -> tuple[int, int]:
    with app.app_context(), unit_of_work():
        return alerts.sweep_holds(now)


def test_a_hold_inside_the_window_is_emailed_once_to_those_who_handle_holds(
    app, team, make_order, mail_server
):
    inside = make_order(state="authorized", capture_before=utcnow() + timedelta(hours=20), **HOLD)
    make_order(state="authorized", capture_before=utcnow() + timedelta(hours=60), **HOLD)

    assert sweep_alerts(app) == (1, 0)
    assert sweep_alerts(app) == (1, 0)  # the next hour's sweep: nothing new is queued
    relay(app)

    received = {r.recipients[0]: r.message for r in mail_server.received}
    assert sorted(received) == ["admin@shop.example", "staff@shop.example"]  # not support
    message = received["staff@shop.example"]
    assert message["Subject"] == f"Order #{inside.id}: the hold of $25.00 runs out in 20 hours"
    body = message.get_payload(decode=True).decode()
    assert "The buyer's card holds $25.00 for order #" in body
    assert f"http://dashboard.test/orders/{inside.id}" in body.split()
    assert "Capture it before then, or re-authorize it" in body


def test_a_lapsed_hold_is_emailed_once_whether_the_sweep_or_stripe_says_so_first(
    app, client, team, make_order, mail_server
):
    order = make_order(state="authorized", capture_before=utcnow() - timedelta(hours=1), **HOLD)
    assert sweep_alerts(app) == (0, 1)
    lapsed = intent(order.id, status="canceled", cancellation_reason="automatic")
    assert send_event(client, stripe_event("payment_intent.canceled", lapsed)).status_code == 200
    relay(app)

    subjects = sorted((r.recipients[0], r.message["Subject"]) for r in mail_server.received)
    ran_out = f"Order #{order.id}: the hold of $25.00 ran out before it was captured"
    assert subjects == [("admin@shop.example", ran_out), ("staff@shop.example", ran_out)]


def test_stripe_releasing_a_hold_alerts_even_when_no_sweep_ran(app, client, team, make_order):
    order = make_order(state="authorized", capture_before=utcnow() + timedelta(days=3), **HOLD)
    lapsed = intent(order.id, status="canceled", cancellation_reason="automatic")
    assert send_event(client, stripe_event("payment_intent.canceled", lapsed)).status_code == 200
    assert [recipient for recipient, _ in queued(app)] == [
        "admin@shop.example",
        "staff@shop.example",
    ]


def test_a_void_by_staff_is_not_a_lapsed_hold(app, client, team, make_order):
    order = make_order(state="authorized", capture_before=utcnow() + timedelta(days=3), **HOLD)
    voided = intent(order.id, status="canceled", cancellation_reason="requested_by_customer")
    assert send_event(client, stripe_event("payment_intent.canceled", voided)).status_code == 200
    assert queued(app) == []


def test_a_re_authorized_order_is_a_new_hold_and_alerted_again(app, team, make_order):
    order = make_order(state="authorized", capture_before=utcnow() + timedelta(hours=5), **HOLD)
    sweep_alerts(app)
    with app.app_context():
        db.session.get(type(order), order.id).stripe_payment_intent_id = "pi_test_renewed"
        db.session.commit()
    sweep_alerts(app)
    assert len(queued(app)) == 4  # two people, two holds


def test_two_sweeps_at_the_same_instant_queue_each_alert_once(app, team, make_order):
    for hours in (2, 10, 30):
        make_order(state="authorized", capture_before=utcnow() + timedelta(hours=hours), **HOLD)

    results = all_at_once([lambda: sweep_alerts(app) for _ in range(4)])

    assert results == [(3, 0)] * 4
    emails = queued(app)
    assert len(emails) == 6 and len(set(emails)) == 6  # three holds, two people each


def test_choices_on_the_account_page_decide_who_is_emailed(app, team, make_order):
    staff, support = app.test_client(), app.test_client()
    login(staff, team[Role.STAFF].email)
    login(support, team[Role.SUPPORT].email)
    page = staff.get("/account").get_data(as_text=True)
    assert '<input checked id="hold_expiring" name="hold_expiring"' in page
    assert '<input id="event_failing" name="event_failing"' in page

    answer = post_form(staff, "/account/alerts", {"dispute_opened": "y"})
    assert answer.status_code == 303 and answer.location.endswith("/account#alerts")
    post_form(support, "/account/alerts", {"hold_expiring": "y", "dispute_opened": "y"})
    make_order(state="authorized", capture_before=utcnow() + timedelta(hours=3), **HOLD)
    sweep_alerts(app)

    assert sorted(recipient for recipient, _ in queued(app)) == [
        "admin@shop.example",
        "support@shop.example",
    ]
    page = staff.get("/account").get_data(as_text=True)
    assert '<input id="hold_expiring" name="hold_expiring"' in page  # kept unticked


def test_deactivated_people_get_no_alerts(app, team, make_order):
    with app.app_context():
        db.session.merge(team[Role.STAFF]).active = False
        db.session.commit()
    make_order(state="authorized", capture_before=utcnow() + timedelta(hours=3), **HOLD)
    sweep_alerts(app)
    assert [recipient for recipient, _ in queued(app)] == ["admin@shop.example"]


def test_a_new_dispute_is_emailed_to_everyone_once(app, client, team, make_order, mail_server):
    order = make_order(
        state="captured", stripe_charge_id="ch_test_hold", stripe_payment_intent_id="pi_test_hold"
    )
    opened = stripe_event("charge.dispute.created", dispute(status="needs_response"))
    for _ in range(2):  # Stripe delivers it twice
        assert send_event(client, opened).status_code == 200
    updated = stripe_event("charge.dispute.updated", dispute(status="under_review"))
    assert send_event(client, updated).status_code == 200
    relay(app)

    received = sorted((r.recipients[0], r.message["Subject"]) for r in mail_server.received)
    subject = f"Order #{order.id}: the buyer disputes ${AMOUNT / 100:.2f}"
    assert received == [(f"{role.value}@shop.example", subject) for role in sorted(team)]
    body = mail_server.received[0].message.get_payload(decode=True).decode()
    assert "(reason: fraudulent)" in body and "Evidence is due on " in body


def test_an_event_that_keeps_failing_is_emailed_to_admins_once(app, client, team, make_order):
    """No Stripe key: a completed Checkout Session cannot be read, so it fails each time
    (each delivery is stored and answered 200; each makes it pending again, to be applied
    once more)."""
    order = make_order(state="processing", stripe_checkout_session_id="cs_test_fails")
    session = completed_session(
        order.id, id="cs_test_fails", payment_intent="pi_fails", metadata=False
    )
    event = stripe_event("checkout.session.completed", session, event_id="evt_keeps_failing")
    answers = [send_event(client, event).status_code for _ in range(4)]

    assert answers == [200, 200, 200, 200]
    with app.app_context():
        row = db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == event["id"]))
        assert (row.status, row.process_count) == (EventStatus.FAILED.value, 4)
    ((recipient, subject),) = queued(app)  # after the third failure, and only then
    assert recipient == "admin@shop.example"
    assert subject == "A Stripe event keeps failing: checkout.session.completed"


def test_alert_defaults_follow_the_role():
    assert wanted("support", {}) == {AlertKind.DISPUTE_OPENED}
    assert wanted("staff", {AlertKind.HOLD_LAPSED: False}) == {
        AlertKind.HOLD_EXPIRING,
        AlertKind.DISPUTE_OPENED,
        AlertKind.RENEWAL_FAILED,  # staff can send the buyer the portal link
    }
    assert wanted("admin", {}) == set(AlertKind)
