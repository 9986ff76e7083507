"""The buyer's forms: each post answers 303 to a page that shows how it went, so a reload
never sends a payment again; and the buyer's error pages are the buyer's, not the staff's.

Against a real localstripe (the sandbox's test cards) and, for Stripe Checkout and our
own payment page, Stripe's HTTP API as a double (tests/support/stripe.py).
"""

from __future__ import annotations

import re
import time

import pytest

from dashboard.models import Role
from tests.support.app import add_failing_route
from tests.support.database import reload, requests_of
from tests.support.routes import route_paths
from tests.support.web import csrf_token, pay_link, post_form

STAFF_CHROME = ("Back to the orders", "Sign out", 'href="/orders"', "Merchant dashboard")


def pay_page_message(page: str) -> str:
    match = re.search(r'id="pay-message">([^<]*)<', page)
    assert match, "the pay page shows how the step went"
    return match.group(1)


def attempts(app, order_id) -> int:
    return len(requests_of(app, order_id, "create_payment_intent"))


def test_a_declined_card_answers_with_a_303_and_a_reload_sends_nothing(sandbox_app, make_order):
    """Issue 12, item 14: reloading after a decline sent two more payment attempts."""
    order = make_order()
    buyer = sandbox_app.test_client()
    link = pay_link(sandbox_app, order.id)

    posted = post_form(buyer, f"{link}/sandbox-card", {"card": "decline"})

    assert posted.status_code == 303
    assert posted.headers["Location"] == link  # the pay page, a GET
    shown = buyer.get(link)
    page = shown.get_data(as_text=True)
    assert "Your card was declined." in pay_page_message(page)
    assert 'id="pay-button"' in page  # another card may be tried
    assert attempts(sandbox_app, order.id) == 1

    for _ in range(2):  # the buyer reloads the page they were sent to
        again = buyer.get(posted.headers["Location"])
        assert again.status_code == 200
        assert "Your card was declined. Try another card or contact your bank." in again.get_data(
            as_text=True
        )
    assert attempts(sandbox_app, order.id) == 1
    assert reload(sandbox_app, order.id).state == "failed"


def test_3d_secure_steps_answer_with_303s_and_money_moves_once(sandbox_app, make_order):
    order = make_order()
    buyer = sandbox_app.test_client()
    link = pay_link(sandbox_app, order.id)

    paid = post_form(buyer, f"{link}/sandbox-card", {"card": "3ds"})
    assert (paid.status_code, paid.headers["Location"]) == (303, link)
    assert "Authenticate" in buyer.get(link).get_data(as_text=True)

    verified = post_form(buyer, f"{link}/sandbox-authenticate", {"outcome": "success"})
    assert (verified.status_code, verified.headers["Location"]) == (303, link)
    page = buyer.get(link).get_data(as_text=True)
    assert pay_page_message(page) == (
        "$25.00 is on hold on your card; you will be charged when the merchant confirms your order."
    )
    assert buyer.get(link).status_code == 200  # a reload
    held = reload(sandbox_app, order.id)
    assert (held.state, held.amount_authorized) == ("authorized", 2500)
    assert attempts(sandbox_app, order.id) == 1


def test_every_buyer_post_of_the_url_map_answers_303_to_a_get_page(
    sandbox_app, make_order, make_user
):
    """In the sandbox every pay form exists: each answers 303, to a page that is a GET."""
    _, _, routes = route_paths(sandbox_app, make_order, make_user)
    posts = [(e, p) for e, m, p in routes if m == "POST" and e.startswith("pay.")]
    assert {e for e, _ in posts} == {
        "pay.checkout",
        "pay.card",
        "pay.sandbox_card",
        "pay.sandbox_authenticate",
    }
    gets = {p for _, m, p in routes if m == "GET"}
    for endpoint, path in posts:
        buyer = sandbox_app.test_client()
        answer = post_form(buyer, path, {"card": "decline", "outcome": "fail"})
        assert answer.status_code == 303, endpoint
        assert answer.headers["Location"] in gets, endpoint
        assert buyer.get(answer.headers["Location"]).status_code == 200, endpoint


def test_checkout_refused_by_stripe_says_so_on_the_pay_page(live_app, stripe_http, make_order):
    order = make_order()
    stripe_http.fail_next(
        "POST",
        "/v1/checkout/sessions",
        400,
        {"type": "invalid_request_error", "message": "Invalid integer: 12345678901234567890"},
    )
    buyer = live_app.test_client()
    link = pay_link(live_app, order.id)
    answer = post_form(buyer, f"{link}/checkout")
    assert (answer.status_code, answer.headers["Location"]) == (303, link)
    page = buyer.get(link).get_data(as_text=True)
    assert pay_page_message(page) == "Stripe refused to create checkout session."
    calls = len(stripe_http.calls)
    buyer.get(link)
    assert len(stripe_http.calls) == calls  # a reload asks Stripe nothing


def test_our_payment_page_is_a_get_page_the_click_leads_to(live_app, stripe_http, make_order):
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    order = make_order()
    buyer = live_app.test_client()
    link = pay_link(live_app, order.id)
    answer = post_form(buyer, f"{link}/card")
    assert (answer.status_code, answer.headers["Location"]) == (303, f"{link}/card")
    (intent,) = stripe_http.intents.values()
    for _ in range(2):  # shown, then reloaded: the same PaymentIntent, none created
        page = buyer.get(f"{link}/card")
        assert page.status_code == 200
        assert f'data-client-secret="{intent["client_secret"]}"' in page.get_data(as_text=True)
    assert len(stripe_http.calls_to("POST", "/v1/payment_intents")) == 1


def test_the_card_page_before_any_payment_sends_the_buyer_to_the_pay_page(
    live_app, stripe_http, make_order
):
    order = make_order()
    link = pay_link(live_app, order.id)
    answer = live_app.test_client().get(f"{link}/card")
    assert (answer.status_code, answer.headers["Location"]) == (303, link)
    assert stripe_http.calls == []


# -- error pages under /pay/ ---------------------------------------------------------------


def assert_buyer_chrome(response, where):
    page = response.get_data(as_text=True)
    assert '<span class="brand">Secure payment</span>' in page, where
    for staff in STAFF_CHROME:
        assert staff not in page, f"{where}: {staff!r} on a buyer's page"
    assert "<nav" not in page, where


@pytest.mark.parametrize("viewer", ["anonymous", "staff"])
def test_error_pages_under_pay_are_the_buyers(app, make_order, make_user, viewer):
    """A buyer (or staff opening a buyer's link) never gets the dashboard's chrome."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    failing = add_failing_route(app, RuntimeError("boom"), "/pay/test-only/fails")
    order = make_order()
    link = pay_link(app, order.id)
    client = app.test_client()
    if viewer == "staff":
        make_user(Role.STAFF, quick_hash=True)
        assert (
            post_form(
                client,
                "/login",
                {"email": "staff@shop.example", "password": "correct horse battery"},
            ).status_code
            == 302
        )
    answers = {
        "405": client.get(f"{link}/sandbox-card"),
        "404 no such page": client.get(f"{link}/no-such-page"),
        "404 bad link": client.get("/pay/not-a-token"),
        "404 sandbox only": post_form(client, f"{link}/sandbox-card", {"card": "success"}),
        "400 csrf": client.post(f"{link}/checkout", data={"csrf_token": "forged"}),
    }
    if viewer == "staff":  # the failing route, like every route, names who may call it
        answers["500"] = client.get(failing)
    for where, response in answers.items():
        assert response.status_code == int(where[:3]), where
        assert_buyer_chrome(response, where)
    assert "This page cannot be opened like that" in answers["405"].get_data(as_text=True)
    assert f'href="{link}"' in answers["404 no such page"].get_data(as_text=True)
    assert "Nothing was changed" in answers["400 csrf"].get_data(as_text=True)
    if viewer == "staff":
        assert "boom" not in answers["500"].get_data(as_text=True)


def test_an_expired_link_on_a_form_post_is_the_buyers_410(app, make_order, monkeypatch):
    order = make_order()
    link = pay_link(app, order.id)
    buyer = app.test_client()
    token = csrf_token(buyer)
    later = time.time() + app.config["PAY_LINK_MAX_AGE"] + 60
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    answer = buyer.post(f"{link}/checkout", data={"csrf_token": token})
    assert answer.status_code == 410
    assert_buyer_chrome(answer, "410")
    assert "This payment link has expired" in answer.get_data(as_text=True)
