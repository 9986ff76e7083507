"""Beyond a single capture, against Stripe's HTTP answered by the double at the SDK's
boundary (localstripe has no multicapture, increments or overcapture): the exact requests
sent, what the order and its ledger say after each, and every hostile amount refused
before anything is sent."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import MoneyMovement, Role, StripeRequest
from dashboard.services.payments.holds import MAX_CAPTURES, MAX_INCREMENT_ATTEMPTS
from tests.support.database import reload, requests_of
from tests.support.holds import PI, grant
from tests.support.stripe import AMOUNT
from tests.support.web import HTMX, move_money

EXPAND = ["latest_charge.balance_transaction"]


@pytest.fixture
def staff(signed_in):
    return signed_in(Role.STAFF, quick_hash=True)


@pytest.fixture
def held(live_app, stripe_http, staff, make_order):
    """A $30.00 hold whose card allows several captures, a larger hold and overcapture."""
    order = make_order(
        state="authorized",
        stripe_payment_intent_id=PI,
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )
    grant(live_app, stripe_http, staff, order.id)
    return reload(live_app, order.id)


def page(client, order_id: int) -> str:
    return client.get(f"/orders/{order_id}").get_data(as_text=True)


def said(response) -> str:
    return response.get_data(as_text=True)


def captures(app, order_id: int) -> list[int]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(MoneyMovement.amount)
                .where(MoneyMovement.order_id == order_id, MoneyMovement.kind == "capture")
                .order_by(MoneyMovement.id)
            )
        )


def add_requests(app, order_id: int, action: str, status: str, n: int) -> None:
    with app.app_context():
        for i in range(n):
            db.session.add(
                StripeRequest(
                    order_id=order_id,
                    action=action,
                    amount=100 + i,
                    idempotency_key=f"seeded-{order_id}-{action}-{i}",
                    status=status,
                    error_code="card_declined" if status == "failed" else None,
                )
            )
        db.session.commit()


# -- what the card allows ------------------------------------------------------------------


def test_the_panel_says_what_the_card_allows_and_its_true_deadline(live_app, staff, held):
    shown = page(staff, held.id)
    assert "This card allows several captures." in shown
    assert "This card allows a larger hold later (10 of 10 attempts left)." in shown
    assert "This card allows capturing more than authorized, up to $40.00." in shown
    assert "A longer hold: Not offered by the card network." in shown
    assert "the deadline Stripe gave for this card" in shown
    for form in ("partial-capture-form", "increment-form", "capture-form"):
        assert f'id="{form}"' in shown


def test_nothing_beyond_one_capture_is_offered_when_the_network_granted_nothing(
    live_app, stripe_http, staff, make_order
):
    order = make_order(
        state="authorized",
        stripe_payment_intent_id=PI,
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )
    grant(
        live_app,
        stripe_http,
        staff,
        order.id,
        multicapture="unavailable",
        incremental="unavailable",
        overcapture="unavailable",
    )
    shown = page(staff, order.id)
    assert "Several captures: Not offered by the card network." in shown
    assert 'id="partial-capture-form"' not in shown
    assert 'id="increment-form"' not in shown
    refused = move_money(staff, f"/orders/{order.id}/partial-capture", {"amount": "10.00"})
    assert refused.status_code == 303
    assert not stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/capture")
    assert "does not allow several captures" in page(staff, order.id)


# -- several captures ----------------------------------------------------------------------


def test_two_partial_captures_then_the_final_one(live_app, stripe_http, staff, held):
    path = f"/orders/{held.id}/partial-capture"
    move_money(staff, path, {"amount": "10.00"})
    after = reload(live_app, held.id)
    assert (after.state, after.amount_captured, after.amount_capturable) == (
        "partly_captured",
        1000,
        2000,
    )
    move_money(staff, path, {"amount": "5.00"})
    move_money(staff, f"/orders/{held.id}/capture", {"amount": "15.00"})

    first, second, final = stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/capture")
    assert first.form == {
        "amount_to_capture": ["1000"],
        "expand[0]": EXPAND,
        "final_capture": ["false"],
    }
    assert first.headers["Idempotency-Key"] == f"order-{held.id}-partial_capture-1000-1"
    assert second.form["amount_to_capture"] == ["500"]
    assert second.form["final_capture"] == ["false"]
    # The final capture is Stripe's default: no final_capture sent.
    assert final.form == {"amount_to_capture": ["1500"], "expand[0]": EXPAND}
    after = reload(live_app, held.id)
    assert (after.state, after.amount_captured, after.amount_capturable) == ("captured", 3000, 0)
    assert captures(live_app, held.id) == [1000, 500, 1500]


def test_the_panel_between_captures_offers_more_captures_and_release(live_app, staff, held):
    move_money(staff, f"/orders/{held.id}/partial-capture", {"amount": "10.00"})
    shown = page(staff, held.id)
    assert "Partly captured, rest still held" in shown
    assert "$10.00 captured in 1 capture;" in shown
    assert 'id="release-form"' in shown and 'id="partial-capture-form"' in shown
    # No larger hold after a capture (Stripe: not after a capture).
    assert 'id="increment-form"' not in shown


def test_release_the_rest_cancels_what_is_held_and_keeps_the_captures(
    live_app, stripe_http, staff, held
):
    move_money(staff, f"/orders/{held.id}/partial-capture", {"amount": "10.00"})
    review = staff.post(
        f"/orders/{held.id}/release",
        data={"csrf_token": _token(staff)},
        headers=HTMX,
    )
    assert "Release the $20.00 still held to the buyer. The $10.00 already captured" in said(review)
    move_money(staff, f"/orders/{held.id}/release", {})
    (call,) = stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/cancel")
    assert call.form == {"expand[0]": ["latest_charge"]}
    assert call.headers["Idempotency-Key"] == f"order-{held.id}-release-0-1"
    after = reload(live_app, held.id)
    assert (after.state, after.amount_captured, after.amount_capturable) == ("captured", 1000, 0)
    with live_app.app_context():
        kinds = db.session.execute(
            select(MoneyMovement.kind, MoneyMovement.amount)
            .where(MoneyMovement.order_id == held.id)
            .order_by(MoneyMovement.id)
        ).all()
    assert [tuple(row) for row in kinds] == [("capture", 1000), ("release", 2000)]


def test_refunds_after_several_captures_are_bounded_by_what_was_captured(
    live_app, stripe_http, staff, held
):
    move_money(staff, f"/orders/{held.id}/partial-capture", {"amount": "10.00"})
    move_money(staff, f"/orders/{held.id}/partial-capture", {"amount": "5.00"})
    move_money(staff, f"/orders/{held.id}/release", {})
    refused = move_money(
        staff,
        f"/orders/{held.id}/refund",
        {"amount": "15.01", "reason": "requested_by_customer"},
        headers=HTMX,
    )
    assert "Refund between $0.01 and $15.00." in said(refused)
    assert not stripe_http.calls_to("POST", "/v1/refunds")
    move_money(
        staff, f"/orders/{held.id}/refund", {"amount": "15.00", "reason": "requested_by_customer"}
    )
    after = reload(live_app, held.id)
    assert (after.state, after.amount_refunded) == ("refunded", 1500)


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("30.00", "To capture all of it, use the final capture."),
        ("0.00", "Capture part of the hold"),
        ("31.00", "Capture part of the hold"),
    ],
    ids=["all-of-it", "zero", "more-than-held"],
)
def test_a_partial_capture_must_leave_something_held(
    live_app, stripe_http, staff, held, amount, words
):
    refused = move_money(
        staff, f"/orders/{held.id}/partial-capture", {"amount": amount}, headers=HTMX
    )
    assert refused.status_code == 422
    assert words in said(refused)
    assert not stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/capture")


def test_the_50th_capture_must_be_the_final_one_and_a_51st_is_refused(
    live_app, stripe_http, staff, held
):
    add_requests(live_app, held.id, "partial_capture", "succeeded", MAX_CAPTURES - 1)
    refused = move_money(
        staff, f"/orders/{held.id}/partial-capture", {"amount": "1.00"}, headers=HTMX
    )
    assert "the next one must be the final capture" in said(refused)
    add_requests(live_app, held.id, "capture", "succeeded", 1)
    refused = move_money(staff, f"/orders/{held.id}/capture", {"amount": "1.00"}, headers=HTMX)
    assert f"Stripe allows {MAX_CAPTURES} captures of one hold." in said(refused)
    assert not stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/capture")


# -- a larger hold -------------------------------------------------------------------------


def test_an_increment_sends_the_new_total(live_app, stripe_http, staff, held):
    review = staff.post(
        f"/orders/{held.id}/increment",
        data={"amount": "45.00", "csrf_token": _token(staff)},
        headers=HTMX,
    )
    assert "raise the hold from $30.00 to $45.00. This is attempt 1 of 10" in said(review)
    move_money(staff, f"/orders/{held.id}/increment", {"amount": "45.00"})
    (call,) = stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/increment_authorization")
    assert call.form == {"amount": ["4500"], "expand[0]": EXPAND}
    assert call.headers["Idempotency-Key"] == f"order-{held.id}-increment-4500-1"
    after = reload(live_app, held.id)
    assert (after.state, after.amount_authorized, after.amount_capturable) == (
        "authorized",
        4500,
        4500,
    )
    assert "Hold raised from $30.00 to $45.00" in page(staff, held.id)


def test_a_declined_increment_keeps_the_hold_and_says_so(live_app, stripe_http, staff, held):
    stripe_http.fail_next(
        "POST",
        f"/v1/payment_intents/{PI}/increment_authorization",
        402,
        {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        },
    )
    answer = move_money(staff, f"/orders/{held.id}/increment", {"amount": "45.00"}, headers=HTMX)
    words = "The bank declined a hold of $45.00. The hold of $30.00 stays as it was. 9 of 10"
    assert words in said(answer)
    after = reload(live_app, held.id)
    assert (after.state, after.amount_authorized, after.amount_capturable) == (
        "authorized",
        AMOUNT,
        AMOUNT,
    )
    (request,) = requests_of(live_app, held.id, "increment")
    assert request.status == "failed"
    assert words in page(staff, held.id)  # on the timeline too


def test_the_11th_increment_attempt_is_refused_before_anything_is_sent(
    live_app, stripe_http, staff, held
):
    add_requests(live_app, held.id, "increment", "failed", MAX_INCREMENT_ATTEMPTS)
    assert 'id="increment-form"' not in page(staff, held.id)
    refused = move_money(staff, f"/orders/{held.id}/increment", {"amount": "45.00"}, headers=HTMX)
    assert "All 10 attempts at a larger hold are used up" in said(refused)
    assert not stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/increment_authorization")


@pytest.mark.parametrize("amount", ["30.00", "20.00", "0.00"])
def test_an_increment_must_be_larger_than_the_hold(live_app, stripe_http, staff, held, amount):
    refused = move_money(staff, f"/orders/{held.id}/increment", {"amount": amount}, headers=HTMX)
    assert refused.status_code == 422
    assert "Enter the new total of the hold: more than $30.00." in said(refused)
    assert not stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/increment_authorization")


# -- overcapture ---------------------------------------------------------------------------


def test_overcapture_takes_more_than_the_hold_up_to_the_networks_maximum(
    live_app, stripe_http, staff, held
):
    refused = move_money(staff, f"/orders/{held.id}/capture", {"amount": "40.01"}, headers=HTMX)
    assert "Capture between $0.01 and $40.00" in said(refused)
    review = staff.post(
        f"/orders/{held.id}/capture",
        data={"amount": "38.00", "csrf_token": _token(staff)},
        headers=HTMX,
    )
    assert "$8.00 more than the $30.00 hold, as the card allows (overcapture)" in said(review)
    move_money(staff, f"/orders/{held.id}/capture", {"amount": "38.00"})
    (call,) = stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/capture")
    assert call.form == {"amount_to_capture": ["3800"], "expand[0]": EXPAND}
    after = reload(live_app, held.id)
    assert (after.state, after.amount_captured) == ("captured", 3800)


def test_without_overcapture_a_capture_stops_at_the_hold(live_app, stripe_http, staff, make_order):
    order = make_order(
        state="authorized",
        stripe_payment_intent_id=PI,
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )
    grant(live_app, stripe_http, staff, order.id, overcapture="unavailable")
    refused = move_money(staff, f"/orders/{order.id}/capture", {"amount": "30.01"}, headers=HTMX)
    assert "Capture between $0.01 and $30.00." in said(refused)


def _token(client) -> str:
    from tests.support.web import csrf_token

    return csrf_token(client)


def test_the_cards_own_deadline_replaces_the_default_one(live_app, stripe_http, staff, make_order):
    """Extended authorization: the charge's capture_before, read when it is reported, is
    the order's deadline (the capture queue and the sweep read it), not 7 days."""
    import time
    from datetime import UTC, datetime

    order = make_order(
        state="authorized",
        stripe_payment_intent_id=PI,
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )
    deadline = int(time.time()) + 29 * 86400
    grant(live_app, stripe_http, staff, order.id, extended="available", capture_before=deadline)
    after = reload(live_app, order.id)
    assert after.capture_before == datetime.fromtimestamp(deadline, UTC)
    assert "This card allows a longer hold (extended authorization)." in page(staff, order.id)


def test_the_sandbox_refuses_what_localstripe_cannot_do_rather_than_send_it():
    """Dropping final_capture=false would make localstripe release the rest of the hold."""
    from dashboard.payments import errors
    from dashboard.payments.localstripe_compat import LocalstripeCompat

    compat = LocalstripeCompat()
    with pytest.raises(errors.SandboxOnly, match="Several captures are not available"):
        compat.params("payment_intents.capture", {"amount_to_capture": 100, "final_capture": False})
    with pytest.raises(errors.SandboxOnly, match="A larger hold is not available"):
        compat.params("payment_intents.increment_authorization", {"amount": 5000})
    assert compat.params("payment_intents.capture", {"amount_to_capture": 100}) == {
        "amount_to_capture": 100
    }


def test_without_javascript_the_confirmation_page_names_the_action_in_words(
    live_app, stripe_http, staff, held
):
    from tests.support.web import post_form

    asked = post_form(staff, f"/orders/{held.id}/partial-capture", {"amount": "10.00"})
    shown = asked.get_data(as_text=True)
    assert f"Confirm: capture part, keep the rest held on order #{held.id}" in shown
    assert not stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/capture")
