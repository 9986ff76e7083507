"""Stripe Checkout (and our own payment page) through the real pay-link routes.

localstripe has no Checkout Sessions, so here Stripe is replaced at one place only: the
SDK's HTTP client. Everything above it is real: the routes, the services, the gateway, the
stripe SDK's encoding, headers and error handling. The double answers with Stripe's own
published example objects (tests/fixtures/stripe, MIT, Stripe Inc.), changed only in the
fields a case needs, and records every request as (method, url, headers, post_data).
"""

from __future__ import annotations

import html
import json
import re
import time

import pytest
from sqlalchemy import select

from dashboard.domain.buyer_words import DECLINE_SENTENCES
from dashboard.domain.orders import LineDraft
from dashboard.domain.stripe_mapping import MAPPING_VERSION
from dashboard.extensions import db
from dashboard.models import OutboxEvent, Role
from dashboard.payments.stripe_gateway import API_VERSION
from tests.support.database import reload, requests_of, state_changes
from tests.support.stripe import TEST_KEY
from tests.support.web import pay_link, post_form

LINES = [LineDraft("Widget", 2, 1250), LineDraft("Gadget — blue", 1, 499)]
TOTAL = 2 * 1250 + 499


@pytest.fixture
def order(make_order):
    return make_order(lines=LINES)


def click_pay(app, order_id, method="checkout", *, follow=False):
    """A buyer opens the pay link and presses the pay button. The answer is a 303: to
    Stripe's page, to our card page, or back to the pay page with what went wrong; `follow`
    makes it the page the buyer then sees (never Stripe's, which is not ours to serve)."""
    return post_form(
        app.test_client(), f"{pay_link(app, order_id)}/{method}", follow_redirects=follow
    )


def pay_form_action(page):
    forms = re.findall(r'<form method="post" action="([^"]+)"', page)
    return [action.rsplit("/", 1)[1] for action in forms]


# -- starting Checkout -----------------------------------------------------------------


def test_pay_creates_a_checkout_session_with_exactly_these_parameters(live_app, stripe_http, order):
    link = pay_link(live_app, order.id)
    page = live_app.test_client().get(link).get_data(as_text=True)
    assert pay_form_action(page) == ["checkout"]
    assert f"Pay ${TOTAL / 100:.2f} with Stripe" in page
    assert stripe_http.calls == []  # showing the page asks Stripe nothing

    before = time.time()
    response = click_pay(live_app, order.id)
    after = time.time()

    assert response.status_code == 303
    session = stripe_http.only_session()
    assert response.headers["Location"] == session["url"]
    assert stripe_http.trace() == [("POST", "/v1/checkout/sessions")]
    (create,) = stripe_http.calls
    assert create.url == "https://api.stripe.com/v1/checkout/sessions"

    sent = create.form
    expires_at = int(sent.pop("expires_at")[0])
    assert before + 30 * 60 <= expires_at <= after + 24 * 3600  # Stripe's allowed range
    assert before + 23 * 3600 - 1 <= expires_at <= after + 23 * 3600  # as configured
    oid = str(order.id)
    # The return addresses carry a pay link signed when the buyer clicked (its timestamp
    # may be a second later than `link`'s): any valid link for this order, nothing else.
    success = re.fullmatch(
        r"http://dashboard\.test/pay/([^/?]+)/done\?session_id=\{CHECKOUT_SESSION_ID\}",
        sent.pop("success_url")[0],
    )
    cancel = re.fullmatch(r"http://dashboard\.test/pay/([^/?]+)", sent.pop("cancel_url")[0])
    assert success and cancel
    for token in (success.group(1), cancel.group(1)):
        assert pay_links_of(live_app).order_id_from(token) == order.id
    assert sent == {
        "mode": ["payment"],
        "client_reference_id": [oid],
        "metadata[order_id]": [oid],
        "customer_email": ["buyer@example.com"],
        "payment_intent_data[capture_method]": ["manual"],
        "payment_intent_data[metadata][order_id]": [oid],
        "line_items[0][quantity]": ["2"],
        "line_items[0][price_data][currency]": ["usd"],
        "line_items[0][price_data][unit_amount]": ["1250"],
        "line_items[0][price_data][product_data][name]": ["Widget"],
        "line_items[1][quantity]": ["1"],
        "line_items[1][price_data][currency]": ["usd"],
        "line_items[1][price_data][unit_amount]": ["499"],
        "line_items[1][price_data][product_data][name]": ["Gadget — blue"],
    }
    key = create.headers["Idempotency-Key"]
    assert key == f"order-{order.id}-create_checkout_session-{TOTAL}-1"
    assert create.headers["Stripe-Version"] == API_VERSION
    assert create.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert create.headers["Content-Type"] == "application/x-www-form-urlencoded"

    started = reload(live_app, order.id)
    assert (started.state, started.stripe_checkout_session_id) == ("processing", session["id"])
    assert started.stripe_payment_intent_id is None
    (request,) = requests_of(live_app, order.id, "create_checkout_session")
    assert (request.status, request.stripe_object_id, request.amount) == (
        "succeeded",
        session["id"],
        TOTAL,
    )
    assert request.stripe_request_id.startswith("req_test_")
    with live_app.app_context():
        outbox = db.session.scalars(
            select(OutboxEvent.type).where(OutboxEvent.order_id == order.id)
        ).all()
    assert outbox == ["ORDER_CREATED"]


def test_back_on_the_link_while_the_session_is_open_reuses_it(live_app, stripe_http, order):
    first = click_pay(live_app, order.id)
    url = first.headers["Location"]
    sent = len(stripe_http.calls)

    page = live_app.test_client().get(pay_link(live_app, order.id)).get_data(as_text=True)
    assert pay_form_action(page) == ["checkout"]  # the buyer can go back to Stripe's page
    again = click_pay(live_app, order.id)

    assert again.status_code == 303
    assert again.headers["Location"] == url
    session = stripe_http.only_session()
    assert stripe_http.trace(sent) == [("GET", f"/v1/checkout/sessions/{session['id']}")]
    assert len(stripe_http.calls_to("POST", "/v1/checkout/sessions")) == 1
    assert len(requests_of(live_app, order.id, "create_checkout_session")) == 1


def test_a_session_about_to_expire_is_expired_and_replaced(live_app, stripe_http, order):
    old_url = click_pay(live_app, order.id).headers["Location"]
    old = stripe_http.only_session()
    old["expires_at"] = int(time.time()) + 9 * 60  # under the 10 minutes a buyer needs
    sent = len(stripe_http.calls)

    again = click_pay(live_app, order.id)

    assert again.status_code == 303
    new = stripe_http.sessions[max(stripe_http.sessions)]
    assert new["id"] != old["id"]
    assert again.headers["Location"] == new["url"] != old_url
    assert stripe_http.trace(sent) == [
        ("GET", f"/v1/checkout/sessions/{old['id']}"),
        ("POST", f"/v1/checkout/sessions/{old['id']}/expire"),
        ("POST", "/v1/checkout/sessions"),
    ]
    expire, create = stripe_http.calls[sent + 1 :]
    assert expire.headers["Idempotency-Key"] == f"order-{order.id}-expire_checkout_session-0-1"
    key = create.headers["Idempotency-Key"]
    assert key == f"order-{order.id}-create_checkout_session-{TOTAL}-2"
    assert old["status"] == "expired"
    assert reload(live_app, order.id).stripe_checkout_session_id == new["id"]
    (expired,) = requests_of(live_app, order.id, "expire_checkout_session")
    assert (expired.status, expired.stripe_object_id) == ("succeeded", old["id"])


def test_a_refused_expire_is_recorded_and_no_second_session_is_made(live_app, stripe_http, order):
    click_pay(live_app, order.id)
    old = stripe_http.only_session()
    old["expires_at"] = int(time.time()) + 5 * 60
    stripe_http.fail_next(
        "POST",
        f"/v1/checkout/sessions/{old['id']}/expire",
        400,
        {"type": "invalid_request_error", "message": "No such session"},
    )

    page = click_pay(live_app, order.id, follow=True)

    assert page.status_code == 200
    assert "Stripe refused to expire checkout session." in page.get_data(as_text=True)
    (expire,) = requests_of(live_app, order.id, "expire_checkout_session")
    assert expire.status == "failed"
    assert len(stripe_http.calls_to("POST", "/v1/checkout/sessions")) == 1


def test_a_session_stripe_already_expired_is_replaced_without_expiring_it(
    live_app, stripe_http, order
):
    click_pay(live_app, order.id)
    old = stripe_http.only_session()
    old["status"] = "expired"
    sent = len(stripe_http.calls)

    again = click_pay(live_app, order.id)

    new = stripe_http.sessions[max(stripe_http.sessions)]
    assert again.headers["Location"] == new["url"]
    assert stripe_http.trace(sent) == [
        ("GET", f"/v1/checkout/sessions/{old['id']}"),
        ("POST", "/v1/checkout/sessions"),
    ]
    assert stripe_http.calls[-1].headers["Idempotency-Key"].endswith(f"-{TOTAL}-2")


def test_an_expired_session_leaves_the_order_payable(live_app, stripe_http, order):
    """A lapsed checkout page is a failed attempt, not a lapsed order: the link still works."""
    click_pay(live_app, order.id)
    stripe_http.only_session()["status"] = "expired"
    page = live_app.test_client().get(pay_link(live_app, order.id) + "/done")
    text = page.get_data(as_text=True)
    assert "The checkout page expired before the payment was made." in text
    assert 'id="pay-button"' in text
    assert reload(live_app, order.id).state == "failed"
    again = click_pay(live_app, order.id)
    assert again.status_code == 303
    assert reload(live_app, order.id).state == "processing"


# -- after the buyer paid on Stripe's page -------------------------------------------------


@pytest.mark.parametrize("payment_status", ["unpaid", "paid"])
def test_completed_checkout_authorizes_the_order_on_the_return_page(
    live_app, stripe_http, order, payment_status
):
    """The return page reads the Session and its PaymentIntent; the redirect proves nothing."""
    click_pay(live_app, order.id)
    session = stripe_http.only_session()
    intent = stripe_http.complete(session["id"], payment_status=payment_status)
    sent = len(stripe_http.calls)

    link = pay_link(live_app, order.id)
    page = live_app.test_client().get(f"{link}/done?session_id={session['id']}")

    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert (
        "$29.99 is on hold on your card; you will be charged when the merchant confirms your order."
    ) in text
    assert 'id="pay-button"' not in text
    assert stripe_http.trace(sent) == [
        ("GET", f"/v1/checkout/sessions/{session['id']}"),
        ("GET", f"/v1/payment_intents/{intent['id']}"),
    ]
    assert stripe_http.calls[-1].query["expand[0]"] == ["latest_charge.balance_transaction"]
    held = reload(live_app, order.id)
    assert held.state == "authorized"
    assert (held.stripe_payment_intent_id, held.stripe_charge_id) == (
        intent["id"],
        intent["latest_charge"]["id"],
    )
    assert (
        held.amount_authorized,
        held.amount_capturable,
        held.amount_captured,
        held.amount_refunded,
    ) == (TOTAL, TOTAL, 0, 0)
    assert held.authorized_at is not None
    capture_before = intent["latest_charge"]["payment_method_details"]["card"]["capture_before"]
    assert int(held.capture_before.timestamp()) == capture_before
    moves = [(c["from"], c["to"], c["mapping_version"]) for c in state_changes(live_app, order.id)]
    assert moves == [
        ("open", "processing", MAPPING_VERSION),
        ("processing", "authorized", MAPPING_VERSION),
    ]

    sent = len(stripe_http.calls)
    again = click_pay(live_app, order.id, follow=True)
    assert "This order is already authorized." in again.get_data(as_text=True)
    assert stripe_http.calls[sent:] == []  # refused before Stripe is asked anything
    assert len(stripe_http.calls_to("POST", "/v1/checkout/sessions")) == 1
    assert reload(live_app, order.id).state == "authorized"


def test_pay_clicked_after_paying_but_before_the_return_page_starts_nothing(
    live_app, stripe_http, order
):
    """The buyer paid on Stripe's page, then came back through the link, not the redirect."""
    click_pay(live_app, order.id)
    session = stripe_http.only_session()
    intent = stripe_http.complete(session["id"], payment_status="unpaid")

    again = click_pay(live_app, order.id, follow=True)

    assert again.status_code == 200
    page = again.get_data(as_text=True)
    assert "authorized" in page
    assert 'id="pay-button"' not in page
    assert len(stripe_http.calls_to("POST", "/v1/checkout/sessions")) == 1
    assert stripe_http.calls_to("POST", f"/v1/checkout/sessions/{session['id']}/expire") == []
    held = reload(live_app, order.id)
    assert (held.state, held.stripe_payment_intent_id) == ("authorized", intent["id"])


# -- how the buyer pays: the merchant's default, or staff's choice for one order ---------


@pytest.mark.parametrize(
    ("default", "chosen", "shown"),
    [
        ("checkout", None, "checkout"),
        ("payment_page", None, "card"),
        ("checkout", "payment_page", "card"),
        ("payment_page", "checkout", "checkout"),
    ],
)
def test_the_buyer_sees_the_default_method_unless_staff_chose_one(
    live_app, stripe_http, order, signed_in, default, chosen, shown
):
    live_app.config["DEFAULT_PAYMENT_METHOD"] = default
    if chosen:
        staff = signed_in(Role.STAFF)
        saved = post_form(staff, f"/orders/{order.id}/payment-method", {"method": chosen})
        assert saved.status_code == 303
        assert reload(live_app, order.id).payment_method == chosen

    page = live_app.test_client().get(pay_link(live_app, order.id)).get_data(as_text=True)

    assert pay_form_action(page) == [shown]
    button = "with Stripe" if shown == "checkout" else "by card"
    assert f"Pay ${TOTAL / 100:.2f} {button}" in page
    assert stripe_http.calls == []


def test_support_cannot_choose_the_payment_method(live_app, order, signed_in):
    support = signed_in(Role.SUPPORT)
    response = post_form(support, f"/orders/{order.id}/payment-method", {"method": "checkout"})
    assert response.status_code == 403
    assert reload(live_app, order.id).payment_method is None


# -- Stripe says no ------------------------------------------------------------------------


def test_a_stripe_error_is_shown_on_the_pay_page_and_the_order_stays_open(
    live_app, stripe_http, order
):
    stripe_http.fail_next(
        "POST",
        "/v1/checkout/sessions",
        400,
        {
            "type": "invalid_request_error",
            "code": "parameter_invalid_integer",
            "param": "expires_at",
            "message": "Invalid integer: 12345678901234567890",
        },
    )

    response = click_pay(live_app, order.id, follow=True)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert (
        '<p class="flash flash-error" role="status" id="pay-message">'
        "Stripe refused to create checkout session.</p>"
    ) in page
    assert "Invalid integer" not in page  # Stripe's developer message is not for buyers
    assert pay_form_action(page) == ["checkout"]  # and they can try again
    still = reload(live_app, order.id)
    assert (still.state, still.stripe_checkout_session_id) == ("open", None)
    (failed,) = requests_of(live_app, order.id, "create_checkout_session")
    assert (failed.status, failed.error_code) == ("failed", "parameter_invalid_integer")
    assert failed.stripe_request_id.startswith("req_test_")

    retry = click_pay(live_app, order.id)
    assert retry.status_code == 303
    assert retry.headers["Location"] == stripe_http.only_session()["url"]
    assert stripe_http.calls[-1].headers["Idempotency-Key"].endswith(f"-{TOTAL}-2")
    assert reload(live_app, order.id).state == "processing"


# -- our own payment page ------------------------------------------------------------------


def test_payment_page_holds_the_client_secret_on_a_locked_down_page(live_app, stripe_http, order):
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"

    response = click_pay(live_app, order.id, "card", follow=True)

    assert response.status_code == 200
    # The click led to a page of its own, a GET (a reload of it posts nothing).
    assert (response.request.method, response.request.path[-5:]) == ("GET", "/card")
    (intent,) = stripe_http.intents.values()
    page = response.get_data(as_text=True)
    assert f'data-client-secret="{intent["client_secret"]}"' in page
    assert 'data-publishable-key="pk_test_x"' in page
    # A failed confirmation is said with the buyer's sentences, not Stripe.js's message.
    sentences = json.loads(html.unescape(re.search(r'data-decline-sentences="([^"]*)"', page)[1]))
    assert sentences == DECLINE_SENTENCES
    assert '<script src="https://js.stripe.com/v3/"></script>' in page
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in csp
    assert "frame-src https://js.stripe.com" in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"

    # The click creates it; the page it leads to reads it back (the secret is never stored).
    create, read = stripe_http.calls
    assert (create.method, create.path) == ("POST", "/v1/payment_intents")
    assert (read.method, read.path) == ("GET", f"/v1/payment_intents/{intent['id']}")
    assert create.form == {
        "amount": [str(TOTAL)],
        "currency": ["usd"],
        "capture_method": ["manual"],
        "metadata[order_id]": [str(order.id)],
        "description": [f"Order #{order.id}"],
    }
    assert create.headers["Idempotency-Key"] == f"order-{order.id}-create_payment_intent-{TOTAL}-1"
    assert create.headers["Stripe-Version"] == API_VERSION
    started = reload(live_app, order.id)
    assert (started.state, started.stripe_payment_intent_id) == ("processing", intent["id"])


def test_payment_page_again_reuses_the_payment_intent(live_app, stripe_http, order):
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    click_pay(live_app, order.id, "card")
    (intent,) = stripe_http.intents.values()
    sent = len(stripe_http.calls)

    page = live_app.test_client().get(pay_link(live_app, order.id)).get_data(as_text=True)
    assert pay_form_action(page) == ["card"]
    again = click_pay(live_app, order.id, "card", follow=True)

    assert f'data-client-secret="{intent["client_secret"]}"' in again.get_data(as_text=True)
    # Read by the click (still payable: reused), then by the card page it leads to.
    assert stripe_http.trace(sent) == [("GET", f"/v1/payment_intents/{intent['id']}")] * 2
    assert len(stripe_http.intents) == 1


def test_payment_page_starts_no_second_payment_while_the_first_is_processing(
    live_app, stripe_http, order
):
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    click_pay(live_app, order.id, "card")
    (intent,) = stripe_http.intents.values()
    intent["status"] = "processing"  # the bank has not answered yet

    again = click_pay(live_app, order.id, "card", follow=True)

    assert again.status_code == 200
    assert "Still processing" in again.get_data(as_text=True)
    assert "data-client-secret" not in again.get_data(as_text=True)
    assert len(stripe_http.intents) == 1
    assert len(stripe_http.calls_to("POST", "/v1/payment_intents")) == 1


def pay_links_of(app):
    from dashboard.services.pay_links import pay_links

    with app.test_request_context():
        return pay_links()
