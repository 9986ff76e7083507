"""Amounts no payment can have are not applied (issue: a signed event with
`amount_received` 2^62 showed a captured total of $46 quadrillion; 10^30 overflowed the
database and the event failed, answered 500 and retried by Stripe forever).

Such an event is kept as ignored with the reason, answered 200, and flagged on the event
log; the order stays as it was. Captures above the authorized amount are applied only where
the charge says overcapture was granted, up to its maximum.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Dispute, Role
from tests.support.database import reload, stored_events
from tests.support.stripe import AMOUNT, charge, dispute, intent, send_event, stripe_event


@pytest.fixture
def authorized(make_order):
    return make_order(
        state="authorized",
        stripe_payment_intent_id="pi_test_hold",
        stripe_charge_id="ch_test_hold",
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )


def only_event(app):
    (row,) = stored_events(app)
    return row


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"status": "succeeded", "received": 2**62}, "captured amount 4611686018427387904"),
        ({"status": "succeeded", "received": AMOUNT + 1}, "more than the hold allows (3000)"),
        ({"status": "requires_capture", "amount": 10**30, "capturable": 10**30}, "beyond"),
        ({"status": "requires_capture", "capturable": -5}, "held amount -5 is beyond"),
    ],
    ids=["2^62-captured", "more-than-held", "10^30-held", "negative"],
)
def test_amounts_no_payment_can_have_are_refused_and_flagged(app, client, authorized, fields, said):
    obj = intent(authorized.id, **fields)
    answer = send_event(client, stripe_event("payment_intent.succeeded", obj))

    assert answer.status_code == 200, answer.get_data(as_text=True)
    row = only_event(app)
    assert (row.status, row.flag) == ("ignored", "implausible_amounts")
    assert said in row.reason and row.reason.startswith("Not applied")
    order = reload(app, authorized.id)
    assert (order.state, order.amount_captured, order.amount_capturable) == (
        "authorized",
        0,
        AMOUNT,
    )


def test_a_capture_beyond_the_hold_is_applied_where_overcapture_was_granted(
    app, client, authorized
):
    over = charge(authorized.id, captured=True, amount_captured=3500)
    over["payment_method_details"]["card"]["overcapture"] = {
        "status": "available",
        "maximum_amount_capturable": 4000,
    }
    answer = send_event(client, stripe_event("charge.captured", over))

    assert answer.status_code == 200
    row = only_event(app)
    assert (row.status, row.flag) == ("applied", None)
    order = reload(app, authorized.id)
    assert (order.state, order.amount_captured, order.amount_refunded) == ("captured", 3500, 0)


def test_a_capture_beyond_the_granted_overcapture_is_refused(app, client, authorized):
    over = charge(authorized.id, captured=True, amount_captured=4500)
    over["payment_method_details"]["card"]["overcapture"] = {
        "status": "available",
        "maximum_amount_capturable": 4000,
    }
    send_event(client, stripe_event("charge.captured", over))
    row = only_event(app)
    assert (row.status, row.flag) == ("ignored", "implausible_amounts")
    assert "more than the hold allows (4000)" in row.reason


def test_a_disputed_amount_beyond_stripes_largest_is_refused(app, client, make_order):
    order = make_order(
        state="captured",
        stripe_payment_intent_id="pi_test_hold",
        stripe_charge_id="ch_test_hold",
        amount_captured=AMOUNT,
    )
    huge = dispute(status="needs_response", amount=10**30)
    answer = send_event(client, stripe_event("charge.dispute.created", huge))
    assert answer.status_code == 200
    row = only_event(app)
    assert (row.status, row.flag, row.order_id) == ("ignored", "implausible_amounts", order.id)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Dispute)) == 0


def test_the_event_log_shows_flagged_events_apart(app, client, signed_in, authorized):
    send_event(
        client,
        stripe_event(
            "payment_intent.succeeded", intent(authorized.id, status="succeeded", received=2**62)
        ),
    )
    send_event(
        client,
        stripe_event(
            "payment_intent.amount_capturable_updated",
            intent(authorized.id, status="requires_capture", capturable=AMOUNT),
        ),
    )
    support = signed_in(Role.SUPPORT, quick_hash=True)

    everything = support.get("/events").get_data(as_text=True)
    assert re.search(r'id="count-flagged">1<', everything)
    assert everything.count("flagged: implausible amounts") == 1
    flagged = support.get("/events?flagged=1").get_data(as_text=True)
    assert flagged.count('class="event-row') == 1 and "payment_intent.succeeded" in flagged
    row = next(r for r in stored_events(app) if r.flag)
    detail = support.get(f"/events/{row.id}").get_data(as_text=True)
    assert 'id="event-flag"' in detail and "refused outright" in detail
