"""What localstripe cannot serve, at the SDK's HTTP boundary with exact parameters: saving a
card on Stripe Checkout in setup mode, and registering a domain for Apple Pay and Google
Pay. The Apple Pay association file is served only when configured."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import Customer, Role, StripeEvent
from dashboard.payments.stripe_gateway import StripeGateway
from dashboard.services import customers
from tests.support.customer_stripe import CustomerStripeHTTP, card_method
from tests.support.stripe import TEST_KEY, send_event, stripe_event
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


def test_a_card_staff_removed_is_not_brought_back_by_a_late_event(
    customer_app, stripe_http, signed_in
):
    """Stripe's `payment_method.attached` of before the removal, arriving after it."""
    with customer_app.test_request_context():
        customer = customers.find_or_create("late@example.com", "Late")
        customer.stripe_customer_id = "cus_late"
        db.session.commit()
        customer_id = customer.id
    client = customer_app.test_client()
    attached = card_method("pm_late", "cus_late")
    send_event(client, stripe_event("payment_method.attached", attached, created=1_780_000_000))
    with customer_app.app_context():
        (method,) = db.session.get_one(Customer, customer_id).payment_methods
        method_id = method.id
    staff = signed_in(Role.STAFF, quick_hash=True)
    path = f"/customers/{customer_id}/payment-methods/{method_id}/detach"
    done = post_form(staff, path, follow_redirects=True).get_data(as_text=True)
    assert "Visa •••• 4242 was removed." in done
    (call,) = stripe_http.calls_to("POST", "/v1/payment_methods/pm_late/detach")
    assert call.form == {}
    late = stripe_event("payment_method.attached", attached, created=1_780_000_000)
    assert send_event(client, late).status_code == 200
    with customer_app.app_context():
        (method,) = db.session.get_one(Customer, customer_id).payment_methods
        assert method.status == "detached"


def test_a_save_card_link_reaches_stripe_only_so_often(customer_app, stripe_http, signed_in):
    """As a pay link: each step that calls Stripe (our card page, Checkout, the return
    pages) counts against the link's and the address's share of the window; past it, the
    page says to wait (429, Retry-After) and nothing is sent. No consent, no count."""
    customer_app.config.update(
        PAY_STRIPE_CALL_WINDOW=3600, PAY_STRIPE_CALLS_PER_LINK=2, PAY_STRIPE_CALLS_PER_ADDRESS=3
    )
    staff = signed_in(Role.STAFF, quick_hash=True)
    _, link = customer_with_link(customer_app, staff)
    buyer = customer_app.test_client()
    for _ in range(3):
        assert post_form(buyer, f"{link}/checkout").status_code == 422  # no consent: no call
    assert post_form(buyer, f"{link}/checkout", {"consent": "y"}).status_code == 303
    session_id = stripe_http.only_session()["id"]
    stripe_http.buyer_completes_setup(session_id, wallet=None, last4="4242")
    back = buyer.get(f"{link}/checkout-done?session_id={session_id}")
    assert "Visa •••• 4242 is saved with the shop." in back.get_data(as_text=True)
    made = len(stripe_http.calls)
    for step in (
        lambda: post_form(buyer, f"{link}/checkout", {"consent": "y"}),
        lambda: post_form(buyer, f"{link}/card", {"consent": "y"}),  # would make a SetupIntent
        lambda: buyer.get(f"{link}/checkout-done?session_id={session_id}"),
        lambda: buyer.get(f"{link}/done?setup_intent=seti_123"),
    ):
        refused = step()
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 3500
        assert "too many attempts from here" in refused.get_data(as_text=True)
    assert len(stripe_http.calls) == made
    # Another customer's link from the same address: one step left for the address.
    with customer_app.test_request_context():
        other = customers.find_or_create("leo@example.com", "Leo")
        db.session.commit()
        other_id = other.id
    page = post_form(staff, f"/customers/{other_id}/save-card-link", follow_redirects=True)
    found = re.findall(r"http://dashboard\.test(/save-card/[A-Za-z0-9_.\-]+)", page.get_data(True))
    assert found
    second = found[-1]
    assert post_form(buyer, f"{second}/checkout", {"consent": "y"}).status_code == 303
    assert post_form(buyer, f"{second}/checkout", {"consent": "y"}).status_code == 429


def session_event(stripe_http, session_id: str, type_: str = "checkout.session.completed"):
    """Stripe's event about the session, as Stripe sends it (the double's own keys left out)."""
    session = {
        k: v for k, v in stripe_http.sessions[session_id].items() if k != "setup_intent_metadata"
    }
    return stripe_event(type_, session)


def stored_event(app, event_id: str) -> StripeEvent:
    with app.app_context():
        found = db.session.scalar(select(StripeEvent).where(StripeEvent.event_id == event_id))
        assert found is not None
        db.session.expunge(found)
        return found


def test_a_buyer_who_never_comes_back_from_checkout_still_has_the_card_kept(
    customer_app, stripe_http, signed_in
):
    """The buyer saves a card on Stripe's page and closes the tab: Stripe's
    checkout.session.completed keeps it with their consent, on the customer's timeline
    (not an unmatched event). Delivered twice, or followed by the return page after all,
    it is kept once."""
    staff = signed_in(Role.STAFF, quick_hash=True)
    customer_id, link = customer_with_link(customer_app, staff)
    buyer = customer_app.test_client()
    post_form(buyer, f"{link}/checkout", {"consent": "y"})
    session_id = stripe_http.only_session()["id"]
    method_id = stripe_http.buyer_completes_setup(session_id, wallet=None, last4="1881")
    stripe = customer_app.test_client()
    event = session_event(stripe_http, session_id)
    for _ in range(2):
        assert send_event(stripe, event).status_code == 200
    stored = stored_event(customer_app, event["id"])
    assert stored.status == "applied"
    assert stored.reason == f"Visa •••• 1881 kept on file from Checkout session {session_id}"
    back = buyer.get(f"{link}/checkout-done?session_id={session_id}")
    assert "Visa •••• 1881 is saved with the shop." in back.get_data(as_text=True)
    with customer_app.app_context():
        (kept,) = db.session.get_one(Customer, customer_id).payment_methods
        assert kept.stripe_payment_method_id == method_id and kept.consent_at is not None
        assert kept.source == "save-a-card link"
    page = staff.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "•••• 1881" in page
    assert "Stripe event checkout.session.completed: Visa •••• 1881 kept on file" in page


def test_a_setup_session_that_saved_nothing_or_is_not_ours_keeps_nothing(
    customer_app, stripe_http, signed_in
):
    staff = signed_in(Role.STAFF, quick_hash=True)
    customer_id, link = customer_with_link(customer_app, staff)
    buyer = customer_app.test_client()
    post_form(buyer, f"{link}/checkout", {"consent": "y"})
    session_id = stripe_http.only_session()["id"]
    stripe = customer_app.test_client()
    # Given up on Stripe's page: the session expires, nothing was saved.
    expired = session_event(stripe_http, session_id, "checkout.session.expired")
    assert send_event(stripe, expired).status_code == 200
    assert stored_event(customer_app, expired["id"]).status == "ignored"
    # Another link's session for this customer (its SetupIntent names another nonce).
    stripe_http.sessions[session_id]["metadata"]["save_card_link"] = "someoneelse"
    stripe_http.buyer_completes_setup(session_id)
    other = session_event(stripe_http, session_id)
    assert send_event(stripe, other).status_code == 200
    assert stored_event(customer_app, other["id"]).status == "ignored"
    # A setup session that names no customer of ours.
    stripe_http.sessions[session_id]["metadata"]["customer_id"] = "999999"
    stranger = session_event(stripe_http, session_id)
    assert send_event(stripe, stranger).status_code == 200
    assert stored_event(customer_app, stranger["id"]).status == "unmatched"
    with customer_app.app_context():
        assert db.session.get_one(Customer, customer_id).payment_methods == []
