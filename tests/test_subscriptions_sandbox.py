"""Subscriptions against a real localstripe: staff define a plan (made there), a buyer
subscribes through a signed link with a test card, a renewal is paid and another fails
(localstripe makes and charges the invoice when asked; it cannot advance time, and sends
no invoice.paid, so Stripe's events are sent signed to our real endpoint, built from
localstripe's own objects), staff cancel at period end or now."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import (
    OutboxEvent,
    OutboxMessage,
    Plan,
    Role,
    SavedPaymentMethod,
    Subscription,
    SubscriptionInvoice,
    SubscriptionRequest,
)
from dashboard.services import subscriptions
from tests.support.localstripe import localstripe
from tests.support.stripe import send_event, stripe_event
from tests.support.subscriptions import (
    as_stripe_sends,
    renew_at_localstripe,
    set_default_card,
    subscribe_token,
)
from tests.support.web import post_form

DECLINING = "4000000000000341"


@pytest.fixture
def staff(sandbox_app, signed_in):
    return signed_in(Role.STAFF)


def make_plan(staff, **fields) -> object:
    form = {
        "name": "Coffee club",
        "price": "15.00",
        "currency": "USD",
        "interval": "month",
        "interval_count": "1",
        **fields,
    }
    return post_form(staff, "/plans", form)


def rows(app, model) -> list:
    """Every row of the model's table, detached, oldest first."""
    with app.app_context():
        found = list(db.session.scalars(select(model).order_by(model.id)))
        for row in found:
            db.session.expunge(row)
        return found


def only(app, model):
    found = rows(app, model)
    assert len(found) == 1, found
    return found[0]


def get(app, model, row_id):
    with app.app_context():
        row = db.session.get(model, row_id)
        db.session.expunge(row)
        return row


def subscribe(app, plan_id: int, email: str, card: str = "success"):
    buyer = app.test_client()
    token = subscribe_token(app, plan_id, email, "Ada Lovelace")
    page = buyer.get(f"/subscribe/{token}").get_data(as_text=True)
    assert "$15.00 every month" in page
    return post_form(
        buyer, f"/subscribe/{token}/sandbox-card", {"card": card}, follow_redirects=True
    )


def stripe_side(app):
    """Stripe's own connection to our webhook endpoint (no browser's cookies)."""
    return app.test_client()


@pytest.fixture
def subscribed(sandbox_app, staff):
    """Staff made the plan; ada@shop.example subscribed with the success card."""
    assert make_plan(staff).status_code == 303
    plan = only(sandbox_app, Plan)
    answer = subscribe(sandbox_app, plan.id, "ada@shop.example")
    assert "You are subscribed." in answer.get_data(as_text=True)
    return only(sandbox_app, Subscription)


def test_a_plan_is_made_in_stripe_as_a_recurring_price(sandbox_app, localstripe_url, staff):
    answer = make_plan(staff, name="Tea box", price="120.00", interval="year")
    assert answer.status_code == 303
    plan = only(sandbox_app, Plan)
    at_stripe = localstripe(localstripe_url, f"/v1/plans/{plan.stripe_price_id}")
    assert (at_stripe["amount"], at_stripe["currency"], at_stripe["interval"]) == (
        12000,
        "usd",
        "year",
    )
    assert at_stripe["product"] == plan.stripe_product_id
    page = staff.get(answer.headers["Location"]).get_data(as_text=True)
    assert "$120.00 every year" in page


def test_a_buyer_subscribes_with_a_test_card(sandbox_app, localstripe_url, subscribed, staff):
    sub = subscribed
    at_stripe = localstripe(localstripe_url, f"/v1/subscriptions/{sub.stripe_subscription_id}")
    assert at_stripe["status"] == "active"
    assert sub.status == "active"
    assert sub.customer_id is not None and sub.buyer_email == "ada@shop.example"
    (invoice,) = rows(sandbox_app, SubscriptionInvoice)
    assert (invoice.status, invoice.amount_due, invoice.payment_intent_id is not None) == (
        "paid",
        1500,
        True,
    )
    page = staff.get(f"/subscriptions/{sub.id}").get_data(as_text=True)
    assert "Active" in page and "$15.00 on" in page  # the next invoice
    customer_page = staff.get(f"/customers/{sub.customer_id}").get_data(as_text=True)
    assert "Coffee club" in customer_page and "Paid" in customer_page


def test_a_renewal_paid_is_kept_and_written_to_the_outbox(
    sandbox_app, localstripe_url, subscribed, staff
):
    sub = subscribed
    client = stripe_side(sandbox_app)
    renewal = renew_at_localstripe(
        localstripe_url, sub.stripe_subscription_id, sub.stripe_customer_id
    )
    assert renewal["status"] == "paid"
    sent = as_stripe_sends(renewal, billing_reason="subscription_cycle")
    assert send_event(client, stripe_event("invoice.paid", sent)).status_code == 200
    again = send_event(client, stripe_event("invoice.paid", sent, event_id="evt_dup_paid"))
    assert again.status_code == 200
    invoices = {i.stripe_invoice_id: i for i in rows(sandbox_app, SubscriptionInvoice)}
    assert invoices[renewal["id"]].status == "paid"
    (event,) = rows(sandbox_app, OutboxEvent)
    assert event.type == "SUBSCRIPTION_RENEWAL_PAID" and event.order_id is None
    assert (event.payload["invoice"], event.payload["amount"]) == (renewal["id"], 1500)
    assert "Renewal paid: $15.00" in staff.get(f"/subscriptions/{sub.id}").get_data(as_text=True)


def test_a_failed_renewal_flags_the_subscription_and_alerts_staff(
    sandbox_app, localstripe_url, subscribed, staff, mail_server
):
    sub = subscribed
    client = stripe_side(sandbox_app)
    set_default_card(localstripe_url, sub.stripe_customer_id, DECLINING)
    renewal = renew_at_localstripe(
        localstripe_url, sub.stripe_subscription_id, sub.stripe_customer_id
    )
    assert renewal["status"] == "open"  # the bank declined: still due
    sent = as_stripe_sends(renewal, billing_reason="subscription_cycle")
    past_due = localstripe(localstripe_url, f"/v1/subscriptions/{sub.stripe_subscription_id}")
    past_due["status"] = "past_due"  # what Stripe reports after a failed renewal
    for event in (
        stripe_event("invoice.payment_failed", sent),
        stripe_event("customer.subscription.updated", past_due),
    ):
        assert send_event(client, event).status_code == 200
    sub = get(sandbox_app, Subscription, sub.id)
    assert sub.status == "past_due" and sub.renewal_failed_at is not None
    (event,) = rows(sandbox_app, OutboxEvent)
    assert event.type == "SUBSCRIPTION_RENEWAL_FAILED"
    alerts = [m for m in rows(sandbox_app, OutboxMessage) if m.kind == "alert_renewal_failed"]
    assert alerts and all("$15.00" in m.subject for m in alerts)
    # The relay delivers the alert to a real SMTP server.
    relayed = sandbox_app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
    assert relayed.exit_code == 0, relayed.output
    subjects = [r.message["Subject"] for r in mail_server.received]
    assert "A subscription renewal of $15.00 failed (ada@shop.example)" in subjects
    page = staff.get(f"/subscriptions/{sub.id}").get_data(as_text=True)
    assert "Renewal payment failed" in page
    failing = staff.get("/subscriptions?status=renewal_failed").get_data(as_text=True)
    assert "ada@shop.example" in failing
    # The buyer changes their card and Stripe's retry succeeds: the flag goes.
    set_default_card(localstripe_url, sub.stripe_customer_id, "4242424242424242")
    localstripe(localstripe_url, f"/v1/invoices/{renewal['id']}/pay", {})
    paid = localstripe(localstripe_url, f"/v1/invoices/{renewal['id']}")
    sent = as_stripe_sends(paid, billing_reason="subscription_cycle")
    assert send_event(client, stripe_event("invoice.paid", sent)).status_code == 200
    assert get(sandbox_app, Subscription, sub.id).renewal_failed_at is None


def test_staff_cancel_at_period_end_after_confirming(
    sandbox_app, localstripe_url, subscribed, staff
):
    sub = subscribed
    review = staff.get(f"/subscriptions/{sub.id}/cancel?when=period_end")
    text = review.get_data(as_text=True)
    assert "runs until" in text and "not charged again" in text
    assert (
        localstripe(localstripe_url, f"/v1/subscriptions/{sub.stripe_subscription_id}")[
            "cancel_at_period_end"
        ]
        is False
    )  # nothing sent by the review
    done = post_form(staff, f"/subscriptions/{sub.id}/cancel/confirm", {"when": "period_end"})
    assert done.status_code == 303
    at_stripe = localstripe(localstripe_url, f"/v1/subscriptions/{sub.stripe_subscription_id}")
    assert at_stripe["cancel_at_period_end"] is True
    (request,) = rows(sandbox_app, SubscriptionRequest)
    assert (request.status, request.idempotency_key) == (
        "succeeded",
        f"subscription-{sub.id}-cancel_period_end-1",
    )
    page = staff.get(f"/subscriptions/{sub.id}").get_data(as_text=True)
    assert "ends at the end of the period" in page
    assert re.search(r'id="next-invoice">none<', page)
    # A link or a form that does not say which cancel is a bad request, said on the page.
    for unsaid in (
        staff.get(f"/subscriptions/{sub.id}/cancel?when=later"),
        post_form(staff, f"/subscriptions/{sub.id}/cancel/confirm"),
    ):
        assert unsaid.status_code == 400
        assert "Choose to cancel now or at the end of the period." in unsaid.get_data(as_text=True)
    # A second confirmation (another tab) is refused: nothing more is sent.
    second = post_form(staff, f"/subscriptions/{sub.id}/cancel/confirm", {"when": "period_end"})
    assert second.status_code == 409
    assert len(rows(sandbox_app, SubscriptionRequest)) == 1


def test_staff_cancel_now(sandbox_app, localstripe_url, subscribed, staff):
    sub = subscribed
    done = post_form(staff, f"/subscriptions/{sub.id}/cancel/confirm", {"when": "now"})
    assert done.status_code == 303
    at_stripe = localstripe(localstripe_url, f"/v1/subscriptions/{sub.stripe_subscription_id}")
    assert at_stripe["status"] == "canceled"
    assert get(sandbox_app, Subscription, sub.id).status == "canceled"


def test_a_declined_first_payment_starts_nothing(sandbox_app, staff):
    make_plan(staff)
    plan = only(sandbox_app, Plan)
    answer = subscribe(sandbox_app, plan.id, "bob@shop.example", card="decline")
    assert "declined the first payment" in answer.get_data(as_text=True)
    assert only(sandbox_app, Subscription).status == "incomplete"


def test_a_card_a_subscription_renews_with_is_warned_before_removal(sandbox_app, subscribed, staff):
    method = subscribed.default_payment_method
    (card,) = rows(sandbox_app, SavedPaymentMethod)
    assert (card.stripe_payment_method_id, card.last4, card.source) == (
        method,
        "4242",
        "subscription",
    )
    customer_page = staff.get(f"/customers/{subscribed.customer_id}").get_data(as_text=True)
    assert "4242" in customer_page
    detach = f"/customers/{subscribed.customer_id}/payment-methods/{card.id}/detach"
    warning = staff.get(detach).get_data(as_text=True)
    assert "The subscription “Coffee club, renews " in warning
    assert "its next renewal will fail" in warning
    with sandbox_app.app_context():
        assert method and subscriptions.uses_payment_method(method)
        assert not subscriptions.uses_payment_method("pm_not_used")
        assert subscriptions.names_using(method)[0].startswith("Coffee club, renews ")


def test_reloading_or_a_second_click_subscribes_once(sandbox_app, subscribed):
    again = subscribe(sandbox_app, subscribed.plan_id, "ADA@shop.example")
    assert "already subscribed" in again.get_data(as_text=True)
    assert len(rows(sandbox_app, Subscription)) == 1
