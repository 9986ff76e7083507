"""Faults during each new money call (a partial capture, releasing the rest, a larger hold):
a timeout, a 500, a 409 and a lost answer, at the SDK's HTTP boundary. Stripe's answers
come from the double (localstripe has none of these calls); `FaultyHTTP` in front of it
plays Stripe's idempotency layer and the faults. Whatever happens, money moves at most
once, and "Check with Stripe" brings the order to the truth."""

from __future__ import annotations

import pytest

from dashboard.models import Role
from dashboard.payments.stripe_gateway import StripeGateway
from tests.support.database import reload, requests_of
from tests.support.faults import FaultyHTTP
from tests.support.holds import PI, grant
from tests.support.stripe import AMOUNT, TEST_KEY
from tests.support.web import HTMX, move_money, post_form


@pytest.fixture
def staff(signed_in):
    return signed_in(Role.STAFF, quick_hash=True)


@pytest.fixture
def faulty(live_app, stripe_http):
    http = FaultyHTTP(stripe_http)
    live_app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=http, max_network_retries=0
    )
    return http


@pytest.fixture
def held(live_app, stripe_http, staff, make_order, faulty):
    order = make_order(
        state="authorized",
        stripe_payment_intent_id=PI,
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )
    grant(live_app, stripe_http, staff, order.id)
    return reload(live_app, order.id)


# (action, the end of Stripe's path, form, what the order shows once it went through)
ACTIONS = {
    "partial_capture": ("/capture", {"amount": "10.00"}, ("partly_captured", 1000, 3000)),
    "release": ("/cancel", {}, ("captured", 500, 3000)),
    "increment": ("/increment_authorization", {"amount": "45.00"}, ("authorized", 0, 4500)),
}


def asked_at(order_id: int, action: str) -> str:
    """The path staff post the action to (`partial_capture` at `/partial-capture`)."""
    return f"/orders/{order_id}/{action.replace('_', '-')}"


def shape(app, order_id):
    order = reload(app, order_id)
    return (order.state, order.amount_captured, order.amount_authorized)


def prepare(live_app, staff, held, action):
    """A release needs a partly captured hold: $5.00 captured first, without faults."""
    if action == "release":
        move_money(staff, f"/orders/{held.id}/partial-capture", {"amount": "5.00"})
        assert shape(live_app, held.id)[:2] == ("partly_captured", 500)


def reached(stripe_http, end: str) -> int:
    return len(stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}{end}"))


def settle(staff, order_id: int) -> str:
    response = post_form(staff, f"/orders/{order_id}/settle", headers=HTMX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_lost_answer_is_settled_by_re_reading_without_a_resend(
    live_app, stripe_http, staff, held, faulty, action
):
    end, form, done = ACTIONS[action]
    prepare(live_app, staff, held, action)
    before = reached(stripe_http, end)
    faulty.arm("POST", end, "lost")
    answer = move_money(staff, asked_at(held.id, action), form, headers=HTMX)
    assert "awaiting confirmation from Stripe" in answer.get_data(as_text=True)
    (row,) = requests_of(live_app, held.id, action)
    assert row.status == "unknown"
    # A second click while it is unknown sends nothing.
    again = move_money(staff, asked_at(held.id, action), form, headers=HTMX)
    assert "Nothing new was sent" in again.get_data(as_text=True)

    assert "Confirmed with Stripe" in settle(staff, held.id)
    assert reached(stripe_http, end) - before == 1
    (row,) = requests_of(live_app, held.id, action)
    assert row.status == "succeeded"
    assert shape(live_app, held.id) == done


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("fault", ["timeout", "409"])
def test_an_unanswered_call_that_never_ran_is_resent_once_with_its_key(
    live_app, stripe_http, staff, held, faulty, action, fault
):
    end, form, done = ACTIONS[action]
    prepare(live_app, staff, held, action)
    before = reached(stripe_http, end)
    if fault == "409":
        faulty.arm("POST", end, "status", 409)
    else:
        faulty.arm("POST", end, "timeout")
    move_money(staff, asked_at(held.id, action), form, headers=HTMX)
    assert reached(stripe_http, end) == before  # it never reached Stripe
    (row,) = requests_of(live_app, held.id, action)
    assert row.status == "unknown"

    settle(staff, held.id)
    sent = [s for s in faulty.to("POST", end) if s.reached_stripe]
    assert [s.key for s in sent][-1] == row.idempotency_key  # the very same request
    assert reached(stripe_http, end) - before == 1
    assert shape(live_app, held.id) == done
    assert settle(staff, held.id)  # checking again changes nothing
    assert reached(stripe_http, end) - before == 1


@pytest.mark.parametrize("action", list(ACTIONS))
def test_a_500_that_stripe_did_not_act_on_is_closed_without_a_resend(
    live_app, stripe_http, staff, held, faulty, action
):
    end, form, _done = ACTIONS[action]
    prepare(live_app, staff, held, action)
    before_shape = shape(live_app, held.id)
    before = reached(stripe_http, end)
    faulty.arm("POST", end, "status", 500)
    move_money(staff, asked_at(held.id, action), form, headers=HTMX)
    settled = settle(staff, held.id)
    assert "did not happen" in settled
    assert reached(stripe_http, end) == before
    (row,) = requests_of(live_app, held.id, action)
    assert row.status == "failed"
    assert shape(live_app, held.id) == before_shape
