"""What localstripe cannot serve, at the SDK's HTTP boundary with exact parameters: saving a
card on Stripe Checkout in setup mode, and registering a domain for Apple Pay and Google
Pay. The Apple Pay association file is served only when configured."""

from __future__ import annotations

import re

import pytest

from dashboard.extensions import db
from dashboard.models import Customer, Role
from dashboard.payments.stripe_gateway import StripeGateway
from dashboard.services import customers
from tests.support.customer_stripe import CustomerStripeHTTP
from tests.support.stripe import TEST_KEY
from tests.support.web import post_form


@pytest.fixture
def stripe_http():
    double = CustomerStripeHTTP()
    yield double
    assert not double.unrouted, f"requests the double does not know: {double.unrouted}"


@pytest.fixture
def customer_app(live_app, stripe_http):
    live_app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=stripe_http, max_network_retries=0
    )
    return live_app


def customer_with_link(app, staff) -> tuple[int, str]:
    with app.test_request_context():
        customer = customers.find_or_create("mia@example.com", "Mia Wong")
        db.session.commit()
        customer_id = customer.id
    page = post_form(staff, f"/customers/{customer_id}/save-card-link", follow_redirects=True)
    found = re.search(
        r"http://dashboard\.test(/save-card/[A-Za-z0-9_.\-]+)", page.get_data(as_text=True)
    )
    assert found
    return customer_id, found.group(1)


def test_checkout_in_setup_mode_saves_the_card_with_its_wallet(
    customer_app, stripe_http, signed_in
):
    staff = signed_in(Role.STAFF, quick_hash=True)
    customer_id, link = customer_with_link(customer_app, staff)
    buyer = customer_app.test_client()
    assert "Use Stripe's page instead" in buyer.get(link).get_data(as_text=True)
    # No consent, no call.
    assert post_form(buyer, f"{link}/checkout").status_code == 422
    assert stripe_http.calls == []

    answer = post_form(buyer, f"{link}/checkout", {"consent": "y"})
    assert answer.status_code == 303
    (made,) = stripe_http.calls_to("POST", "/v1/customers")
    assert made.form == {"email": ["mia@example.com"]}
    assert made.headers["Idempotency-Key"].startswith("buyer-customer-")
    (call,) = stripe_http.calls_to("POST", "/v1/checkout/sessions")
    with customer_app.app_context():
        stripe_customer = db.session.get_one(Customer, customer_id).stripe_customer_id
    nonce = call.form["metadata[save_card_link]"][0]
    done = f"http://dashboard.test{link}/checkout-done?session_id={{CHECKOUT_SESSION_ID}}"
    assert call.form == {
        "mode": ["setup"],
        "customer": [stripe_customer],
        "currency": ["usd"],
        "setup_intent_data[metadata][customer_id]": [str(customer_id)],
        "setup_intent_data[metadata][save_card_link]": [nonce],
        "metadata[customer_id]": [str(customer_id)],
        "metadata[save_card_link]": [nonce],
        "success_url": [done],
        "cancel_url": [f"http://dashboard.test{link}"],
    }
    assert call.headers["Idempotency-Key"] == f"save-card-{customer_id}-{nonce}-checkout"
    session_id = stripe_http.only_session()["id"]
    assert answer.headers["Location"] == f"https://checkout.stripe.com/c/pay/{session_id}"

    # The buyer saves a card on Stripe's page, with Apple Pay; back on ours, it is kept.
    stripe_http.buyer_completes_setup(session_id, wallet={"type": "apple_pay"}, last4="0005")
    back = buyer.get(f"{link}/checkout-done?session_id={session_id}")
    assert "Visa •••• 0005 (Apple Pay) is saved with the shop." in back.get_data(as_text=True)
    page = staff.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "•••• 0005" in page and "Apple Pay" in page and "12/31" in page
    assert f"https://dashboard.stripe.com/test/customers/{stripe_customer}" in page


def test_a_session_of_another_link_saves_nothing(customer_app, stripe_http, signed_in):
    staff = signed_in(Role.STAFF, quick_hash=True)
    customer_id, link = customer_with_link(customer_app, staff)
    buyer = customer_app.test_client()
    post_form(buyer, f"{link}/checkout", {"consent": "y"})
    session_id = stripe_http.only_session()["id"]
    stripe_http.sessions[session_id]["metadata"]["save_card_link"] = "someoneelse"
    stripe_http.buyer_completes_setup(session_id)
    back = buyer.get(f"{link}/checkout-done?session_id={session_id}")
    assert back.status_code == 400
    assert "Your card was not saved" in back.get_data(as_text=True)
    with customer_app.app_context():
        assert db.session.get_one(Customer, customer_id).payment_methods == []


def test_register_domain_prints_each_wallets_status(customer_app, stripe_http):
    runner = customer_app.test_cli_runner()
    result = runner.invoke(args=["stripe", "register-domain", "pay.shop.example"])
    assert result.exit_code == 0, result.output
    (call,) = stripe_http.calls_to("POST", "/v1/payment_method_domains")
    assert call.form == {"domain_name": ["pay.shop.example"], "enabled": ["true"]}
    assert result.output.splitlines() == [
        "Registered pay.shop.example with Stripe (enabled: yes).",
        "  apple pay: active",
        "  google pay: active",
    ]


@pytest.mark.parametrize(
    "domain", ["https://pay.shop.example", "shop", "pay.shop.example/x", "-a.b"]
)
def test_register_domain_refuses_what_is_not_a_domain(customer_app, stripe_http, domain):
    result = customer_app.test_cli_runner().invoke(args=["stripe", "register-domain", domain])
    assert result.exit_code == 2
    assert "domain" in result.output
    assert stripe_http.calls == []


def test_stripe_refusing_the_domain_says_so(customer_app, stripe_http):
    stripe_http.fail_next(
        "POST",
        "/v1/payment_method_domains",
        400,
        {"type": "invalid_request_error", "message": "This domain is already registered."},
    )
    result = customer_app.test_cli_runner().invoke(args=["stripe", "register-domain", "a.example"])
    assert result.exit_code == 1
    assert "Stripe did not register a.example" in result.output


def test_the_apple_pay_file_is_served_only_when_configured(app, tmp_path):
    client = app.test_client()
    path = "/.well-known/apple-developer-merchantid-domain-association"
    assert client.get(path).status_code == 404
    app.config["APPLE_PAY_DOMAIN_FILE"] = str(tmp_path / "missing")
    assert client.get(path).status_code == 404
    association = tmp_path / "association"
    association.write_bytes(b"7B2270737049...association")
    app.config["APPLE_PAY_DOMAIN_FILE"] = str(association)
    served = client.get(path)
    assert (served.status_code, served.data) == (200, b"7B2270737049...association")
    assert served.headers["Content-Type"].startswith("text/plain")
