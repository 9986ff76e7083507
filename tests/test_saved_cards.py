"""A card kept for later with the buyer's consent, and a hold placed again with it.

Against localstripe, where it serves: customers, attaching a payment method, off-session
PaymentIntents. The whole way: the buyer ticks the box and pays; a second order of the same
email reuses the Stripe Customer; the hold lapses (or nears its deadline); staff
re-authorize with the saved card (a new PaymentIntent, off-session, confirmed, manual
capture); the new hold is captured. Where the buyer does not tick the box, nothing is kept.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models import Customer, Order, Role, TimelineEntry, utcnow
from tests.support.database import count, reload, requests_of
from tests.support.localstripe import localstripe, stripe_pi
from tests.support.web import HTMX, move_money, pay_link, post_form


@pytest.fixture
def staff(signed_in):
    return signed_in(Role.STAFF, quick_hash=True)


def pay(app, order_id: int, *, keep: bool, card: str = "success") -> str:
    """The buyer pays from the pay link with a test card, ticking the box or not."""
    form: dict[str, Any] = {"card": card}
    if keep:
        form["keep_card"] = "y"
    buyer = app.test_client()
    answer = post_form(
        buyer, pay_link(app, order_id) + "/sandbox-card", form, follow_redirects=True
    )
    return answer.get_data(as_text=True)


def lapse(app, order_id: int, localstripe_url: str) -> None:
    """The hold runs out: Stripe cancels the PaymentIntent, and the order says it expired
    (as `charge.expired` or the sweep would record it)."""
    order = reload(app, order_id)
    localstripe(localstripe_url, f"/v1/payment_intents/{order.stripe_payment_intent_id}/cancel", {})
    with app.app_context():
        db.session.execute(
            update(Order).where(Order.id == order_id).values(state="expired", amount_capturable=0)
        )
        db.session.commit()


def near_deadline(app, order_id: int, hours: float = 1) -> None:
    with app.app_context():
        db.session.execute(
            update(Order)
            .where(Order.id == order_id)
            .values(capture_before=utcnow() + timedelta(hours=hours))
        )
        db.session.commit()


def reauthorize(staff, order_id: int) -> str:
    answer = move_money(staff, f"/orders/{order_id}/reauthorize", {}, headers=HTMX)
    return answer.get_data(as_text=True)


def timeline_data(app, order_id: int) -> list[dict[str, Any]]:
    with app.app_context():
        return [
            dict(entry.data or {})
            for entry in db.session.scalars(
                select(TimelineEntry).where(TimelineEntry.order_id == order_id)
            )
        ]


def test_the_pay_page_asks_with_an_unticked_box_in_plain_words(sandbox_app, make_order):
    order = make_order()
    page = sandbox_app.test_client().get(pay_link(sandbox_app, order.id)).get_data(as_text=True)
    assert 'id="keep-card"' in page
    assert "checked" not in page.split('id="keep-card"')[0].rsplit("<input", 1)[-1]
    assert (
        "Keep this card on file so the shop can place a new hold if this one runs out. "
        "You can ask the shop to remove it." in page
    )


def test_without_the_box_ticked_no_customer_and_no_saved_card(
    sandbox_app, make_order, localstripe_url
):
    order = make_order(buyer_email="nobox@example.com")
    assert "$25.00 is on hold on your card" in pay(sandbox_app, order.id, keep=False)
    held = reload(sandbox_app, order.id)
    assert (held.card_consent_at, held.stripe_customer_id, held.saved_payment_method_id) == (
        None,
        None,
        None,
    )
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id or "")["customer"] is None
    # The buyer paid, so they are a customer (the order links to them), with no Stripe
    # Customer and no card kept.
    with sandbox_app.app_context():
        buyer = db.session.get(Customer, held.customer_id)
        assert buyer is not None and buyer.email == "nobox@example.com"
        assert (buyer.stripe_customer_id, buyer.payment_methods) == (None, [])


def test_pay_with_consent_reuse_the_customer_reauthorize_a_lapsed_hold_and_capture(
    sandbox_app, make_order, localstripe_url, staff
):
    first = make_order(buyer_email="ada@example.com")
    assert "$25.00 is on hold on your card" in pay(sandbox_app, first.id, keep=True)
    kept = reload(sandbox_app, first.id)
    assert kept.card_consent_at is not None
    assert (kept.stripe_customer_id or "").startswith("cus_")
    assert (kept.saved_payment_method_id or "").startswith("pm_")
    paid = stripe_pi(localstripe_url, kept.stripe_payment_intent_id or "")
    assert (paid["customer"], paid["payment_method"]) == (
        kept.stripe_customer_id,
        kept.saved_payment_method_id,
    )
    method = localstripe(localstripe_url, f"/v1/payment_methods/{kept.saved_payment_method_id}")
    assert method["customer"] == kept.stripe_customer_id  # attached, as Stripe does on saving

    # A second order of the same buyer (the email typed differently) reuses the customer.
    second = make_order(buyer_email="Ada@Example.com")
    assert "$25.00 is on hold on your card" in pay(sandbox_app, second.id, keep=True)
    assert reload(sandbox_app, second.id).stripe_customer_id == kept.stripe_customer_id
    assert count(sandbox_app, Customer) == 1
    with sandbox_app.app_context():
        buyer = db.session.get(Customer, reload(sandbox_app, second.id).customer_id)
        assert buyer is not None and buyer.stripe_customer_id == kept.stripe_customer_id
        # Both orders' cards are the customer's, each with its facts.
        assert [m.stripe_payment_method_id for m in buyer.payment_methods] == [
            kept.saved_payment_method_id,
            reload(sandbox_app, second.id).saved_payment_method_id,
        ]
        assert [(m.brand, m.last4) for m in buyer.payment_methods] == [("visa", "4242")] * 2

    lapse(sandbox_app, first.id, localstripe_url)
    old = kept.stripe_payment_intent_id
    page = reauthorize(staff, first.id)
    assert "A new hold of $25.00 is in place." in page, page
    renewed = reload(sandbox_app, first.id)
    assert renewed.state == "authorized"
    assert renewed.stripe_payment_intent_id not in (None, old)
    assert renewed.amount_capturable == 2500 and renewed.capture_before is not None
    new = stripe_pi(localstripe_url, renewed.stripe_payment_intent_id or "")
    assert new["status"] == "requires_capture"
    assert (new["customer"], new["payment_method"], new["capture_method"]) == (
        kept.stripe_customer_id,
        kept.saved_payment_method_id,
        "manual",
    )
    assert new["metadata"]["order_id"] == str(first.id)
    assert new["metadata"]["replaces_payment_intent"] == old
    (request,) = requests_of(sandbox_app, first.id, "reauthorize")
    assert request.idempotency_key == f"order-{first.id}-reauthorize-2500-1"
    assert (request.status, request.stripe_object_id) == ("succeeded", new["id"])
    linked = [d for d in timeline_data(sandbox_app, first.id) if d.get("event") == "reauthorized"]
    assert [(d["previous_payment_intent"], d["payment_intent"]) for d in linked] == [
        (old, new["id"])
    ]

    captured = move_money(staff, f"/orders/{first.id}/capture", {"amount": "25.00"}, headers=HTMX)
    assert "Captured $25.00." in captured.get_data(as_text=True)
    assert reload(sandbox_app, first.id).state == "captured"
    assert stripe_pi(localstripe_url, new["id"])["status"] == "succeeded"


def test_a_hold_near_its_deadline_is_replaced_and_the_old_one_released(
    sandbox_app, make_order, localstripe_url, staff
):
    order = make_order(buyer_email="near@example.com")
    pay(sandbox_app, order.id, keep=True)
    old = reload(sandbox_app, order.id).stripe_payment_intent_id or ""
    near_deadline(sandbox_app, order.id, hours=3)
    assert "A new hold of $25.00 is in place." in reauthorize(staff, order.id)
    renewed = reload(sandbox_app, order.id)
    assert renewed.state == "authorized" and renewed.stripe_payment_intent_id != old
    assert stripe_pi(localstripe_url, old)["status"] == "canceled"
    (release,) = requests_of(sandbox_app, order.id, "cancel_replaced_hold")
    assert release.status == "succeeded"


def test_not_offered_far_from_the_deadline_nor_without_a_saved_card(
    sandbox_app, make_order, staff, localstripe_url
):
    order = make_order(buyer_email="far@example.com")
    pay(sandbox_app, order.id, keep=True)
    near_deadline(sandbox_app, order.id, hours=72)  # outside HOLD_ALERT_HOURS (48)
    page = staff.get(f"/orders/{order.id}").get_data(as_text=True)
    assert 'id="reauthorize-form"' not in page
    refused = post_form(staff, f"/orders/{order.id}/reauthorize", {}, headers=HTMX)
    assert refused.status_code == 409
    assert "not within 48 hours of its deadline" in refused.get_data(as_text=True)

    plain = make_order(buyer_email="plain@example.com")
    pay(sandbox_app, plain.id, keep=False)
    lapse(sandbox_app, plain.id, localstripe_url)
    page = staff.get(f"/orders/{plain.id}").get_data(as_text=True)
    assert 'id="reauthorize-form"' not in page
    assert "Send the buyer a new pay link" in page
    refused = post_form(staff, f"/orders/{plain.id}/reauthorize", {}, headers=HTMX)
    assert "send them a new pay link instead" in refused.get_data(as_text=True)
    assert requests_of(sandbox_app, plain.id, "reauthorize") == []


def test_without_a_saved_card_a_new_pay_link_the_buyer_pays(
    sandbox_app, make_order, localstripe_url, staff
):
    order = make_order(buyer_email="link@example.com")
    pay(sandbox_app, order.id, keep=False)
    lapse(sandbox_app, order.id, localstripe_url)
    answer = move_money(staff, f"/orders/{order.id}/new-pay-link", {}, headers=HTMX)
    text = answer.get_data(as_text=True)
    assert "A new pay link for $25.00:" in text and "/pay/" in text
    waiting = reload(sandbox_app, order.id)
    assert waiting.state == "expired" and waiting.renewal_payment_intent_id
    notices = [d for d in timeline_data(sandbox_app, order.id) if d.get("notice")]
    assert [(n["reason"], n["amount"], n["to"]) for n in notices] == [
        ("new_link", 2500, "link@example.com")
    ]

    page = sandbox_app.test_client().get(pay_link(sandbox_app, order.id)).get_data(as_text=True)
    assert "The shop needs a new hold of $25.00 on your card" in page
    assert "$25.00 is on hold on your card" in pay(sandbox_app, order.id, keep=True)
    renewed = reload(sandbox_app, order.id)
    assert renewed.state == "authorized" and renewed.renewal_payment_intent_id is None
    assert renewed.saved_payment_method_id  # ticked this time: kept for the next one
    assert stripe_pi(localstripe_url, renewed.stripe_payment_intent_id or "")["status"] == (
        "requires_capture"
    )


def test_a_card_whose_bank_wants_the_buyer_gets_them_a_fresh_pay_link(
    sandbox_app, make_order, localstripe_url, staff
):
    """localstripe's 3-D Secure card, kept on file: off-session, Stripe answers
    `authentication_required` (localstripe's gap, mended in the sandbox's compat layer)."""
    order = make_order(buyer_email="verify@example.com")
    assert "verify" in pay(sandbox_app, order.id, keep=True, card="3ds").lower()
    buyer = sandbox_app.test_client()
    post_form(
        buyer,
        pay_link(sandbox_app, order.id) + "/sandbox-authenticate",
        {"outcome": "success"},
    )
    kept = reload(sandbox_app, order.id)
    assert kept.state == "authorized" and kept.saved_payment_method_id
    lapse(sandbox_app, order.id, localstripe_url)

    page = reauthorize(staff, order.id)
    assert "wants the buyer to verify this hold, so nothing new is held yet" in page
    waiting = reload(sandbox_app, order.id)
    assert waiting.state == "expired" and waiting.renewal_payment_intent_id
    assert waiting.amount_captured == 0
    notices = [d for d in timeline_data(sandbox_app, order.id) if d.get("notice")]
    assert [(n["reason"], n["amount"]) for n in notices] == [("verify", 2500)]

    assert "$25.00 is on hold on your card" in pay(sandbox_app, order.id, keep=False)
    assert reload(sandbox_app, order.id).state == "authorized"
