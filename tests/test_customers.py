"""Customers against localstripe: a buyer who paid is a customer; staff send a save-a-card
link, the buyer saves a card without paying (a SetupIntent, usage off_session), it shows on
the customer's page and re-authorizes a lapsed hold; removing it asks first, and removing
it twice sends nothing the second time. Bad links and ids are refused."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Customer, CustomerTimelineEntry, OutboxMessage, Role
from dashboard.services import customers
from tests.support.concurrency import all_at_once
from tests.support.database import BACKENDS, reload
from tests.support.localstripe import localstripe, stripe_pi
from tests.support.web import HTMX, full_width, move_money, pay_link, post_form


@pytest.fixture
def staff(signed_in):
    return signed_in(Role.STAFF, quick_hash=True)


def pay_without_keeping(app, order_id: int) -> str:
    buyer = app.test_client()
    page = post_form(
        buyer, pay_link(app, order_id) + "/sandbox-card", {"card": "success"}, follow_redirects=True
    )
    return page.get_data(as_text=True)


def send_save_card_link(staff, customer_id: int) -> str:
    page = post_form(staff, f"/customers/{customer_id}/save-card-link", follow_redirects=True)
    text = page.get_data(as_text=True)
    found = re.search(r"(/save-card/[A-Za-z0-9_.\-]+)", text)
    assert found, text
    return found.group(1)


def test_one_customer_per_address_however_typed(app):
    with app.test_request_context():
        first = customers.find_or_create(f"{full_width('ADA')}@Example.com ", "Ada Lovelace")
        again = customers.find_or_create("ada@example.com", "Someone Else")
        db.session.commit()
        assert again.id == first.id
        assert (again.email, again.name) == ("ada@example.com", "Ada Lovelace")
        with pytest.raises(customers.CustomerError):
            customers.find_or_create("not an address")


def test_save_a_card_without_paying_then_renew_a_lapsed_hold_and_remove_the_card(
    sandbox_app, make_order, localstripe_url, staff
):
    order = make_order(buyer_email="grace@example.com", buyer_name="Grace Hopper")
    assert "$25.00 is on hold on your card" in pay_without_keeping(sandbox_app, order.id)
    paid = reload(sandbox_app, order.id)
    assert paid.customer_id is not None and paid.saved_payment_method_id is None
    customer_id = paid.customer_id

    # The customer is on the list (found by email prefix and by name) with the order.
    listing = staff.get("/customers?q=grac").get_data(as_text=True)
    assert "grace@example.com" in listing
    assert "grace@example.com" in staff.get("/customers?q=hopp").get_data(as_text=True)
    assert "No customers match" in staff.get("/customers?q=zed").get_data(as_text=True)
    page = staff.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert f"/orders/{order.id}" in page and "No card saved" in page

    # The hold runs out; the buyer kept no card: staff send a save-a-card link.
    localstripe(localstripe_url, f"/v1/payment_intents/{paid.stripe_payment_intent_id}/cancel", {})
    with sandbox_app.app_context():
        db.session.get_one(type(paid), order.id).state = "expired"
        db.session.get_one(type(paid), order.id).amount_capturable = 0
        db.session.commit()
    link = send_save_card_link(staff, customer_id)
    with sandbox_app.app_context():
        (email,) = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "save_card_link")
        )
        assert email.recipient == "grace@example.com" and link in email.body

    buyer = sandbox_app.test_client()
    shown = buyer.get(link).get_data(as_text=True)
    assert "Nothing is charged now" in shown and "Keep this card on file" in shown
    # Without the box ticked nothing is saved.
    refused = post_form(buyer, f"{link}/sandbox-card", {"card": "success"})
    assert refused.status_code == 422
    saved = post_form(buyer, f"{link}/sandbox-card", {"card": "success", "consent": "y"})
    assert "Visa •••• 4242 is saved with the shop." in saved.get_data(as_text=True)

    with sandbox_app.app_context():
        customer = db.session.get_one(Customer, customer_id)
        (method,) = customer.payment_methods
        stripe_customer = customer.stripe_customer_id
        card_id, method_row = method.stripe_payment_method_id, method.id
        assert (method.brand, method.last4, method.source) == ("visa", "4242", "save-a-card link")
        assert method.exp_month and method.exp_year and method.consent_at is not None
    assert localstripe(localstripe_url, f"/v1/payment_methods/{card_id}")["customer"] == (
        stripe_customer
    )
    page = staff.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "Visa •••• 4242" in page and f"{method.exp_month:02d}/" in page
    assert stripe_customer and stripe_customer in page

    # The saved card places a new hold on the lapsed order (the holds issue's renewal).
    renewed = move_money(staff, f"/orders/{order.id}/reauthorize", {}, headers=HTMX)
    assert "A new hold of $25.00 is in place." in renewed.get_data(as_text=True)
    held = reload(sandbox_app, order.id)
    assert held.state == "authorized"
    new = stripe_pi(localstripe_url, held.stripe_payment_intent_id or "")
    assert (new["customer"], new["payment_method"]) == (stripe_customer, card_id)

    # Removing it: a confirmation first, saying what it breaks; then once only.
    confirm_path = f"/customers/{customer_id}/payment-methods/{method_row}/detach"
    confirm = staff.get(confirm_path).get_data(as_text=True)
    assert "will be removed from Grace Hopper" in confirm
    assert "1 order(s) would place a new hold with this card" in confirm
    assert localstripe(localstripe_url, f"/v1/payment_methods/{card_id}")["customer"]  # not yet
    done = post_form(staff, confirm_path, follow_redirects=True).get_data(as_text=True)
    assert "Visa •••• 4242 was removed. It can no longer be charged." in done
    assert localstripe(localstripe_url, f"/v1/payment_methods/{card_id}")["customer"] is None
    assert reload(sandbox_app, order.id).saved_payment_method_id is None
    twice = post_form(staff, confirm_path, follow_redirects=True).get_data(as_text=True)
    assert "was already removed; nothing was sent to Stripe." in twice
    with sandbox_app.app_context():
        removals = db.session.scalars(
            select(CustomerTimelineEntry.summary).where(
                CustomerTimelineEntry.customer_id == customer_id,
                CustomerTimelineEntry.summary.like("%removed by staff%"),
            )
        ).all()
    assert removals == ["Visa •••• 4242 removed by staff"]


def test_bad_links_and_ids_are_refused(sandbox_app, make_order, staff):
    with sandbox_app.test_request_context():
        customer = customers.find_or_create("lin@example.com", "Lin")
        db.session.commit()
        customer_id = customer.id
    link = send_save_card_link(staff, customer_id)
    buyer = sandbox_app.test_client()
    tampered = link[:-3] + ("xyz" if not link.endswith("xyz") else "abc")
    assert buyer.get(tampered).status_code == 404
    assert "This link is not valid" in buyer.get(tampered).get_data(as_text=True)
    # A forged return from Stripe (no SetupIntent of ours) saves nothing.
    assert buyer.get(f"{link}/done?setup_intent=nonsense").status_code == 400
    assert staff.get("/customers/999999").status_code == 404
    assert staff.get(f"/customers/{customer_id}/payment-methods/999999/detach").status_code == 404
    assert staff.get("/customers?q=" + "a" * 300).status_code == 400
    # Apple Pay's file: 404 until configured, then served as it is.
    assert (
        buyer.get("/.well-known/apple-developer-merchantid-domain-association").status_code == 404
    )


needs_postgres = pytest.mark.skipif(
    "postgresql" not in BACKENDS, reason="needs PostgreSQL: set TEST_DATABASE_URL"
)


@needs_postgres
def test_eight_requests_finding_the_same_new_buyer_at_once_keep_one_customer(app):
    """Each in its own transaction, released together: the unique email lets one insert
    win; the others wait for it, fail their insert and read the winner's row."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("PostgreSQL's concurrency is what this shows")

    def find() -> int:
        with app.test_request_context():
            customer = customers.find_or_create("RACE@example.com ", "Racer")
            db.session.commit()
            found = customer.id
            db.session.remove()
            return found

    ids = all_at_once([find] * 8)
    assert len(set(ids)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 1
        created = db.session.scalar(
            select(func.count())
            .select_from(CustomerTimelineEntry)
            .where(CustomerTimelineEntry.summary == "Customer created")
        )
        assert created == 1
