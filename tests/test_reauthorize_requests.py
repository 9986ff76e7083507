"""Saving a card and re-authorizing, as production sends them to Stripe.

localstripe rejects `setup_future_usage` and never answers `authentication_required`, so
here the gateway runs as in production against the double at the SDK's HTTP boundary, and
each request's exact form is pinned: the buyer's consent (or its absence) on our payment
page and on Checkout, the off-session re-authorization with the saved card, the release of
the replaced hold, and the bank asking the buyer to verify (a fresh pay link, nothing held).
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from dashboard.extensions import db
from dashboard.models import Order, Role, utcnow
from tests.support.database import reload, requests_of
from tests.support.stripe import AMOUNT, intent, send_event, stripe_event
from tests.support.web import HTMX, confirmation_in, move_money, pay_link, post_form

OLD = "pi_test_hold"
SAVED = {"saved_payment_method_id": "pm_saved_visa", "stripe_customer_id": "cus_saved"}


@pytest.fixture
def staff(signed_in):
    return signed_in(Role.STAFF, quick_hash=True)


@pytest.fixture
def near_deadline(live_app, stripe_http, make_order):
    """$30.00 held on pi_test_hold, 3 hours from its deadline, with a card kept on file."""
    order = make_order(
        state="authorized",
        stripe_payment_intent_id=OLD,
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
        capture_before=utcnow() + timedelta(hours=3),
        card_consent_at=utcnow() - timedelta(days=6),
        **SAVED,
    )
    stripe_http.intents[OLD] = intent(order.id, status="requires_capture", capturable=AMOUNT)
    return order


def click(app, order_id: int, step: str, *, keep: bool) -> object:
    buyer = app.test_client()
    return post_form(
        buyer, pay_link(app, order_id) + f"/{step}", {"keep_card": "y"} if keep else {}
    )


def creates(stripe_http):
    return stripe_http.calls_to("POST", "/v1/payment_intents")


# -- the buyer's consent -----------------------------------------------------------------


def test_unticked_our_payment_page_sends_no_customer_and_no_saving(
    live_app, stripe_http, make_order
):
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    order = make_order()
    click(live_app, order.id, "card", keep=False)
    (create,) = creates(stripe_http)
    assert "setup_future_usage" not in create.form and "customer" not in create.form
    assert stripe_http.calls_to("POST", "/v1/customers") == []
    assert reload(live_app, order.id).card_consent_at is None


def test_ticked_our_payment_page_pays_for_the_buyers_customer_and_keeps_the_card(
    live_app, stripe_http, make_order
):
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    order = make_order(buyer_email="grace@example.com")
    click(live_app, order.id, "card", keep=True)
    (customer,) = stripe_http.calls_to("POST", "/v1/customers")
    assert customer.form == {"email": ["grace@example.com"]}
    assert customer.headers["Idempotency-Key"].startswith("buyer-customer-")
    (create,) = creates(stripe_http)
    assert create.form["setup_future_usage"] == ["off_session"]
    assert create.form["customer"][0].startswith("cus_test_")
    assert reload(live_app, order.id).card_consent_at is not None


def test_ticking_after_the_payment_was_opened_tells_the_open_payment(
    live_app, stripe_http, make_order
):
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    order = make_order()
    click(live_app, order.id, "card", keep=False)
    (opened,) = stripe_http.intents
    click(live_app, order.id, "card", keep=True)
    (update,) = stripe_http.calls_to("POST", f"/v1/payment_intents/{opened}")
    assert update.form["setup_future_usage"] == ["off_session"]
    assert update.form["customer"][0].startswith("cus_test_")
    click(live_app, order.id, "card", keep=False)  # and unticked again: Stripe is told
    assert stripe_http.calls_to("POST", f"/v1/payment_intents/{opened}")[-1].form[
        "setup_future_usage"
    ] == [""]
    assert len(creates(stripe_http)) == 1


def test_checkout_with_the_box_ticked_makes_the_session_for_the_customer(
    live_app, stripe_http, make_order
):
    order = make_order()
    click(live_app, order.id, "checkout", keep=True)
    (session,) = stripe_http.calls_to("POST", "/v1/checkout/sessions")
    assert session.form["payment_intent_data[setup_future_usage]"] == ["off_session"]
    assert session.form["customer"][0].startswith("cus_test_")
    assert "customer_email" not in session.form  # Stripe takes one or the other


def test_checkout_unticked_sends_the_email_only(live_app, stripe_http, make_order):
    order = make_order()
    click(live_app, order.id, "checkout", keep=False)
    (session,) = stripe_http.calls_to("POST", "/v1/checkout/sessions")
    assert "payment_intent_data[setup_future_usage]" not in session.form
    assert "customer" not in session.form and session.form["customer_email"]


# -- re-authorizing ----------------------------------------------------------------------


def test_reauthorize_sends_an_off_session_manual_hold_with_the_saved_card(
    live_app, stripe_http, staff, near_deadline
):
    order = near_deadline
    answer = move_money(staff, f"/orders/{order.id}/reauthorize", {}, headers=HTMX)
    assert "A new hold of $30.00 is in place." in answer.get_data(as_text=True)

    (create,) = creates(stripe_http)
    key = f"order-{order.id}-reauthorize-{AMOUNT}-1"
    assert create.headers["Idempotency-Key"] == key
    assert create.form == {
        "amount": [str(AMOUNT)],
        "currency": ["usd"],
        "capture_method": ["manual"],
        "metadata[idempotency_key]": [key],
        "metadata[replaces_payment_intent]": [OLD],
        "metadata[order_id]": [str(order.id)],
        "description": [f"Order #{order.id} (new hold)"],
        "payment_method": ["pm_saved_visa"],
        "confirm": ["true"],
        "customer": ["cus_saved"],
        "off_session": ["true"],
    }
    (cancel,) = stripe_http.calls_to("POST", f"/v1/payment_intents/{OLD}/cancel")
    assert cancel.form["cancellation_reason"] == ["duplicate"]
    assert cancel.headers["Idempotency-Key"] == f"order-{order.id}-cancel_replaced_hold-0-1"
    after = reload(live_app, order.id)
    (new,) = [i for i in stripe_http.intents if i != OLD]
    assert (after.state, after.stripe_payment_intent_id, after.amount_capturable) == (
        "authorized",
        new,
        AMOUNT,
    )
    assert after.capture_before is not None and after.capture_before > utcnow() + timedelta(days=5)


def buyer_emails(app, mail_server) -> list[tuple[str, str, str]]:
    """What `flask outbox relay` delivers to the SMTP server: (to, subject, body)."""
    relayed = app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
    assert relayed.exit_code == 0, relayed.output
    return [
        (r.recipients[0], r.message["Subject"], r.message.get_payload(decode=True).decode())
        for r in mail_server.received
    ]


def test_the_bank_asking_the_buyer_to_verify_gives_a_fresh_pay_link_and_holds_nothing(
    live_app, stripe_http, staff, near_deadline, mail_server
):
    order = near_deadline
    stripe_http.intents["pi_test_verify"] = intent(
        order.id, id="pi_test_verify", status="requires_payment_method"
    )
    stripe_http.fail_next(
        "POST",
        "/v1/payment_intents",
        402,
        {
            "type": "card_error",
            "code": "authentication_required",
            "decline_code": "authentication_required",
            "message": "This payment requires authentication.",
            "payment_intent": stripe_http.intents["pi_test_verify"],
        },
    )
    answer = move_money(staff, f"/orders/{order.id}/reauthorize", {}, headers=HTMX)
    page = answer.get_data(as_text=True)
    assert "The buyer&#39;s bank wants the buyer to verify this hold" in page
    assert "A fresh pay link for $30.00 is ready for them: http" in page
    assert 'id="renewal-waiting"' in page
    ((to, subject, body),) = buyer_emails(live_app, mail_server)
    assert (to, subject) == (
        "buyer@example.com",
        f"Order #{order.id}: please verify a new hold with your bank",
    )
    assert "Your bank wants you to confirm it yourself." in body
    assert "Amount: $30.00. This is a hold, not yet a charge" in body
    assert any(line.startswith("http://dashboard.test/pay/") for line in body.splitlines())

    after = reload(live_app, order.id)
    # The old hold stays (it still holds the money); nothing captured, nothing released.
    assert (after.state, after.stripe_payment_intent_id, after.amount_captured) == (
        "authorized",
        OLD,
        0,
    )
    assert after.renewal_payment_intent_id == "pi_test_verify"
    assert stripe_http.calls_to("POST", f"/v1/payment_intents/{OLD}/cancel") == []
    assert stripe_http.calls_to("POST", f"/v1/payment_intents/{OLD}/capture") == []
    (request,) = requests_of(live_app, order.id, "reauthorize")
    assert (request.status, request.error_code) == ("failed", "authentication_required")

    live_app.config["DEFAULT_PAYMENT_METHOD"] = "checkout"  # the new hold is ours to confirm
    buyer = live_app.test_client().get(pay_link(live_app, order.id)).get_data(as_text=True)
    assert "The shop needs a new hold of $30.00 on your card" in buyer
    assert "by card" in buyer  # our payment page, where Stripe.js confirms that payment


def test_a_new_pay_link_opens_an_unconfirmed_payment_for_what_is_left(
    live_app, stripe_http, staff, make_order, mail_server
):
    order = make_order(state="expired", stripe_payment_intent_id=OLD, amount_authorized=AMOUNT)
    answer = move_money(staff, f"/orders/{order.id}/new-pay-link", {}, headers=HTMX)
    assert "A new pay link for $25.00: http" in answer.get_data(as_text=True)
    (create,) = creates(stripe_http)
    assert "confirm" not in create.form and "off_session" not in create.form
    assert create.form["amount"] == ["2500"]
    (made,) = stripe_http.intents
    assert reload(live_app, order.id).renewal_payment_intent_id == made
    again = move_money(staff, f"/orders/{order.id}/new-pay-link", {}, headers=HTMX)
    assert "The buyer&#39;s new pay link (sent again): http" in again.get_data(as_text=True)
    assert len(creates(stripe_http)) == 1  # the same payment, a second email
    subject = f"Order #{order.id}: a new pay link for your order"
    assert [(to, title) for to, title, _ in buyer_emails(live_app, mail_server)] == [
        ("buyer@example.com", subject),
        ("buyer@example.com", subject),
    ]


# -- webhooks and the confirmation step ----------------------------------------------------


def test_the_new_holds_webhook_is_matched_to_the_order_and_settles_an_unanswered_request(
    live_app, stripe_http, staff, near_deadline
):
    """The answer never came (Stripe's 500); the event about the PaymentIntent it made, which
    carries the order id and the request's key in its metadata, makes it the order's hold."""
    order = near_deadline
    stripe_http.fail_next("POST", "/v1/payment_intents", 500, {"type": "api_error"})
    move_money(staff, f"/orders/{order.id}/reauthorize", {}, headers=HTMX)
    (request,) = requests_of(live_app, order.id, "reauthorize")
    assert request.status == "unknown"

    made = intent(
        order.id,
        id="pi_test_new_hold",
        status="requires_capture",
        capturable=AMOUNT,
        metadata={
            "order_id": str(order.id),
            "idempotency_key": request.idempotency_key,
            "replaces_payment_intent": OLD,
        },
    )
    answer = send_event(
        live_app.test_client(), stripe_event("payment_intent.amount_capturable_updated", made)
    )
    assert answer.status_code == 200
    after = reload(live_app, order.id)
    assert (after.state, after.stripe_payment_intent_id) == ("authorized", "pi_test_new_hold")
    (request,) = requests_of(live_app, order.id, "reauthorize")
    assert (request.status, request.stripe_object_id) == ("succeeded", "pi_test_new_hold")
    # A webhook calls no Stripe: the old hold's release is saved, and the sweep sends it.
    assert stripe_http.calls_to("POST", f"/v1/payment_intents/{OLD}/cancel") == []
    (release,) = requests_of(live_app, order.id, "cancel_replaced_hold")
    assert (release.status, release.stripe_object_id) == ("pending", OLD)
    stripe_http.intents["pi_test_new_hold"] = made
    outputs = []
    for _ in range(2):
        swept = live_app.test_cli_runner().invoke(
            args=["stripe", "sweep-holds", "--older-than", "0s"]
        )
        assert swept.exit_code == 0, swept.output
        outputs.append(swept.output)
    assert re.search(rf"#{order.id} +The hold {OLD} was released\.", outputs[0]), outputs[0]
    assert "Old holds a new one replaced" not in outputs[1]
    (cancel,) = stripe_http.calls_to("POST", f"/v1/payment_intents/{OLD}/cancel")
    assert cancel.form["cancellation_reason"] == ["duplicate"]
    (release,) = requests_of(live_app, order.id, "cancel_replaced_hold")
    assert release.status == "succeeded"

    # Then the old hold's cancellation (ours) arrives: about an earlier attempt, ignored.
    canceled = intent(order.id, status="canceled", cancellation_reason="duplicate")
    assert (
        send_event(
            live_app.test_client(), stripe_event("payment_intent.canceled", canceled)
        ).status_code
        == 200
    )
    after = reload(live_app, order.id)
    assert (after.state, after.stripe_payment_intent_id, after.amount_capturable) == (
        "authorized",
        "pi_test_new_hold",
        AMOUNT,
    )


def test_a_confirmation_of_a_hold_that_changed_is_asked_again_and_sends_nothing(
    live_app, stripe_http, staff, near_deadline
):
    order = near_deadline
    asked = post_form(staff, f"/orders/{order.id}/reauthorize", {})
    action, fields = confirmation_in(asked.get_data(as_text=True)) or ("", {})
    assert action.endswith("/reauthorize/confirm") and fields["basis"] == str(AMOUNT)
    stale = staff.post(action, data={**fields, "basis": "1"})
    assert "The order changed since you were asked" in stale.get_data(as_text=True)
    assert creates(stripe_http) == []


def test_the_buyers_new_hold_reported_by_webhook_releases_the_old_one_on_check_with_stripe(
    live_app, stripe_http, staff, near_deadline
):
    """The buyer confirmed the new hold on the pay link and closed the page: the webhook
    makes it the order's payment; "Check with Stripe" sends the old hold's saved release."""
    order = near_deadline
    with live_app.app_context():
        db.session.get(Order, order.id).renewal_payment_intent_id = "pi_test_buyer_hold"
        db.session.commit()
    confirmed = intent(
        order.id, id="pi_test_buyer_hold", status="requires_capture", capturable=AMOUNT
    )
    stripe_http.intents["pi_test_buyer_hold"] = confirmed
    event = stripe_event("payment_intent.amount_capturable_updated", confirmed)
    assert send_event(live_app.test_client(), event).status_code == 200
    assert reload(live_app, order.id).stripe_payment_intent_id == "pi_test_buyer_hold"
    assert stripe_http.calls_to("POST", f"/v1/payment_intents/{OLD}/cancel") == []

    answer = post_form(staff, f"/orders/{order.id}/settle", headers=HTMX)
    assert f"The hold {OLD} was released." in answer.get_data(as_text=True)
    assert len(stripe_http.calls_to("POST", f"/v1/payment_intents/{OLD}/cancel")) == 1
    post_form(staff, f"/orders/{order.id}/settle", headers=HTMX)  # nothing left to release
    assert len(stripe_http.calls_to("POST", f"/v1/payment_intents/{OLD}/cancel")) == 1
