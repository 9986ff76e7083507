"""A PaymentIntent's whole life against a real localstripe: authorize, capture, void, refund."""

import pytest
from sqlalchemy import func, select

from dashboard.extensions import db
from dashboard.models import Role, StripeRequest, TimelineEntry
from tests.support.database import outbox_types, reload, requests_of
from tests.support.localstripe import capture_at_stripe, refund_at_stripe, stripe_pi
from tests.support.web import HTMX, move_money, pay_link, pay_with_test_card, post_form


def test_buyer_authorizes_a_hold(sandbox_app, held, localstripe_url):
    assert held.state == "authorized"
    assert (held.amount_authorized, held.amount_capturable, held.amount_captured) == (2500, 2500, 0)
    assert held.stripe_payment_intent_id.startswith("pi_")
    assert held.capture_before is not None
    days = (held.capture_before - held.authorized_at).total_seconds() / 86400
    assert 6.9 < days <= 7.0
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "requires_capture"
    assert outbox_types(sandbox_app, held.id) == ["ORDER_CREATED"]
    (create,) = requests_of(sandbox_app, held.id, "create_payment_intent")
    assert create.status == "succeeded"
    assert create.idempotency_key == f"order-{held.id}-create_payment_intent-2500-1"


def test_the_link_after_a_hold_shows_status_and_no_second_payment(sandbox_app, held):
    page = sandbox_app.test_client().get(pay_link(sandbox_app, held.id)).get_data(as_text=True)
    assert (
        "$25.00 is on hold on your card; you will be charged when the merchant confirms your order"
        in page
    )
    assert 'id="pay-button"' not in page
    again = pay_with_test_card(sandbox_app, held.id)
    assert "already authorized" in again.get_data(as_text=True)
    assert len(requests_of(sandbox_app, held.id, "create_payment_intent")) == 1


def test_partial_capture_from_the_panel_releases_the_rest(
    sandbox_app, held, signed_in, localstripe_url
):
    staff = signed_in(Role.STAFF)
    panel = staff.get(f"/orders/{held.id}").get_data(as_text=True)
    assert "whatever you do not capture now" in panel
    response = move_money(staff, f"/orders/{held.id}/capture", {"amount": "15.00"}, headers=HTMX)
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "Captured $15.00." in fragment
    assert 'id="amount-captured">$15.00<' in fragment
    assert 'id="amount-capturable">$0.00<' in fragment
    assert 'id="refund-form"' in fragment and 'id="capture-form"' not in fragment
    assert 'hx-swap-oob="true"' in fragment  # the timeline comes along
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured, order.amount_capturable) == ("captured", 1500, 0)
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "succeeded"
    assert outbox_types(sandbox_app, held.id) == ["ORDER_CREATED", "PAYMENT_SUCCEEDED"]
    (capture,) = requests_of(sandbox_app, held.id, "capture")
    assert (capture.status, capture.amount, capture.actor_id is not None) == (
        "succeeded",
        1500,
        True,
    )
    assert capture.idempotency_key == f"order-{held.id}-capture-1500-1"
    with sandbox_app.app_context():
        summaries = db.session.scalars(
            select(TimelineEntry.summary).where(TimelineEntry.order_id == held.id)
        ).all()
    assert "staff@shop.example asked to capture $15.00 (releasing the other $10.00)" in summaries
    assert "Stripe capture: succeeded" in summaries
    assert "Authorized → Captured (payment intent succeeded, from capture response)" in summaries


def test_full_capture_then_refunds_down_to_zero(sandbox_app, held, signed_in):
    staff = signed_in(Role.STAFF)
    assert move_money(staff, f"/orders/{held.id}/capture", {"amount": "25"}).status_code == 303
    assert reload(sandbox_app, held.id).amount_captured == 2500

    refund = {"amount": "10.00", "reason": "requested_by_customer"}
    fragment = move_money(staff, f"/orders/{held.id}/refund", refund, headers=HTMX).get_data(
        as_text=True
    )
    assert "Refunded $10.00." in fragment
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_refunded, order.amount_refundable) == (
        "partially_refunded",
        1000,
        1500,
    )

    too_much = move_money(
        staff, f"/orders/{held.id}/refund", {**refund, "amount": "15.01"}, headers=HTMX
    )
    assert too_much.status_code == 422  # the form's answer: the amount, corrected by staff
    assert "Refund between $0.01 and $15.00." in too_much.get_data(as_text=True)
    assert len(requests_of(sandbox_app, held.id, "refund")) == 1  # nothing sent to Stripe

    move_money(staff, f"/orders/{held.id}/refund", {**refund, "amount": "15.00"})
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_refunded, order.amount_refundable) == ("refunded", 2500, 0)
    page = staff.get(f"/orders/{held.id}").get_data(as_text=True)
    assert 'id="refund-form"' not in page


def test_void_releases_the_hold(sandbox_app, held, signed_in, localstripe_url):
    staff = signed_in(Role.STAFF)
    fragment = move_money(
        staff, f"/orders/{held.id}/void", {"reason": "requested_by_customer"}, headers=HTMX
    ).get_data(as_text=True)
    assert "The hold was released; nothing was charged." in fragment
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_capturable, order.amount_captured) == ("voided", 0, 0)
    assert stripe_pi(localstripe_url, held.stripe_payment_intent_id)["status"] == "canceled"
    assert 'id="capture-form"' not in fragment and 'id="void-form"' not in fragment


def test_capture_above_the_hold_is_refused_before_stripe(sandbox_app, held, signed_in):
    staff = signed_in(Role.STAFF)
    response = move_money(staff, f"/orders/{held.id}/capture", {"amount": "25.01"}, headers=HTMX)
    assert response.status_code == 422
    assert "Capture between $0.01 and $25.00." in response.get_data(as_text=True)
    bad = move_money(staff, f"/orders/{held.id}/capture", {"amount": "1,00"}, headers=HTMX)
    assert bad.status_code == 422
    assert requests_of(sandbox_app, held.id, "capture") == []
    assert reload(sandbox_app, held.id).state == "authorized"


def test_a_second_capture_click_moves_no_money(sandbox_app, held, signed_in):
    staff = signed_in(Role.STAFF)
    first = move_money(staff, f"/orders/{held.id}/capture", {"amount": "25.00"}, headers=HTMX)
    second = move_money(staff, f"/orders/{held.id}/capture", {"amount": "25.00"}, headers=HTMX)
    assert first.status_code == 200
    assert second.status_code == 409
    assert "cannot be captured" in second.get_data(as_text=True)
    assert len(requests_of(sandbox_app, held.id, "capture")) == 1


def test_declined_card_then_a_retry_that_works(sandbox_app, make_order):
    order = make_order()
    response = pay_with_test_card(sandbox_app, order.id, "decline")
    page = response.get_data(as_text=True)
    assert "Your card was declined. Try another card or contact your bank." in page
    assert 'id="pay-button"' in page  # the buyer may try again
    failed = reload(sandbox_app, order.id)
    assert failed.state == "failed"
    assert outbox_types(sandbox_app, order.id) == ["PAYMENT_FAILED"]

    pay_with_test_card(sandbox_app, order.id, "success")
    assert reload(sandbox_app, order.id).state == "authorized"
    keys = [r.idempotency_key for r in requests_of(sandbox_app, order.id, "create_payment_intent")]
    assert keys == [
        f"order-{order.id}-create_payment_intent-2500-1",
        f"order-{order.id}-create_payment_intent-2500-2",
    ]
    assert outbox_types(sandbox_app, order.id) == ["PAYMENT_FAILED", "ORDER_CREATED"]


@pytest.mark.parametrize(
    ("outcome", "state", "text"),
    [
        ("success", "authorized", "$25.00 is on hold on your card"),
        (
            "fail",
            "failed",
            "Your bank could not verify this payment. Try again or use another card.",
        ),
    ],
)
def test_three_d_secure(sandbox_app, make_order, outcome, state, text):
    order = make_order()
    page = pay_with_test_card(sandbox_app, order.id, "3ds").get_data(as_text=True)
    assert "Your bank needs you to verify this payment." in page
    assert "Authenticate" in page
    assert reload(sandbox_app, order.id).state == "processing"
    buyer = sandbox_app.test_client()
    done = post_form(
        buyer,
        pay_link(sandbox_app, order.id) + "/sandbox-authenticate",
        {"outcome": outcome},
        follow_redirects=True,
    )
    assert text in done.get_data(as_text=True)
    assert reload(sandbox_app, order.id).state == state


def test_return_page_reads_stripe_not_the_redirect(sandbox_app, held):
    page = sandbox_app.test_client().get(
        pay_link(sandbox_app, held.id) + "/done?redirect_status=failed"
    )
    assert "$25.00 is on hold on your card" in page.get_data(as_text=True)


def test_support_sees_the_panel_without_buttons(sandbox_app, held, signed_in):
    page = signed_in(Role.SUPPORT).get(f"/orders/{held.id}").get_data(as_text=True)
    assert 'id="amount-capturable">$25.00<' in page
    assert 'id="capture-form"' not in page and 'id="void-form"' not in page


def test_checkout_is_shown_unavailable_in_the_sandbox(sandbox_app, make_order):
    order = make_order()
    page = sandbox_app.test_client().get(pay_link(sandbox_app, order.id)).get_data(as_text=True)
    assert "Stripe Checkout: unavailable." in page
    assert "localstripe" in page and "has no Checkout Sessions" in page
    with sandbox_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StripeRequest)) == 0


def test_capture_and_refund_made_elsewhere_are_caught_up_on_re_read(
    sandbox_app, held, signed_in, localstripe_url
):
    pi = held.stripe_payment_intent_id
    capture_at_stripe(localstripe_url, pi)
    # localstripe counts a refund without metadata as the released part of a hold; one made
    # in Stripe's Dashboard carries none on real Stripe, whose amounts need no such help.
    refund_at_stripe(localstripe_url, pi, 500, **{"metadata[source]": "dashboard"})
    staff = signed_in(Role.STAFF)
    fragment = post_form(staff, f"/orders/{held.id}/settle", headers=HTMX)
    assert fragment.status_code == 200
    order = reload(sandbox_app, held.id)
    assert (order.state, order.amount_captured, order.amount_refunded) == (
        "partially_refunded",
        2500,
        500,
    )
    text = fragment.get_data(as_text=True)
    assert "Authorized → Captured" in text and "Captured → Partially refunded" in text
    assert outbox_types(sandbox_app, held.id) == ["ORDER_CREATED", "PAYMENT_SUCCEEDED"]
