"""The pay link after money moved, against a real localstripe: the buyer reads what was
held, captured, refunded or released as a sentence, and a decline or a failed 3-D Secure
step in plain words, never Stripe's developer wording; staff keep Stripe's precise code."""

from __future__ import annotations

import re

import pytest

from dashboard.models import Role
from tests.support.database import reload
from tests.support.web import move_money, pay_link, pay_with_test_card, post_form

# Stripe's API words: a buyer's page never shows them (staff's timeline does).
DEVELOPER_WORDS = ("PaymentMethod", "PaymentIntent", "payment_intent", "requires_action")


def buyer_page(app, order_id) -> str:
    page = app.test_client().get(pay_link(app, order_id))
    assert page.status_code == 200
    return page.get_data(as_text=True)


def status_line(page: str) -> tuple[str, str]:
    """The pay page's status: (its sentence, how it is shown)."""
    found = re.search(r'<p class="flash flash-(\w+)" role="status" id="pay-status">([^<]*)<', page)
    assert found, "the pay page says where the payment stands"
    return found.group(2), found.group(1)


def message_line(page: str) -> tuple[str, str]:
    """The message of the step the buyer just took: (its text, how it is shown)."""
    found = re.search(r'<p class="flash flash-(\w+)" role="status" id="pay-message">([^<]*)<', page)
    assert found, "the pay page says how the step went"
    return found.group(2), found.group(1)


def assert_plain(page: str) -> None:
    for word in DEVELOPER_WORDS:
        assert word not in page, word


def test_a_hold_says_how_much_is_held_and_when_it_is_charged(sandbox_app, held):
    page = buyer_page(sandbox_app, held.id)
    assert status_line(page) == (
        "$25.00 is on hold on your card; you will be charged when the merchant confirms your "
        "order.",
        "success",
    )
    assert "<th>Order total</th>" in page
    assert_plain(page)


def test_a_partial_capture_then_a_partial_refund_say_paid_and_refunded(
    sandbox_app, held, signed_in
):
    staff = signed_in(Role.STAFF)
    assert move_money(staff, f"/orders/{held.id}/capture", {"amount": "18.00"}).status_code == 303
    page = buyer_page(sandbox_app, held.id)
    assert status_line(page) == (
        "Paid $18.00 of $25.00; the other $7.00 was released, not charged.",
        "success",
    )

    refund = {"amount": "5.00", "reason": "requested_by_customer"}
    assert move_money(staff, f"/orders/{held.id}/refund", refund).status_code == 303
    assert reload(sandbox_app, held.id).state == "partially_refunded"
    page = buyer_page(sandbox_app, held.id)
    assert status_line(page) == ("Paid $18.00 of $25.00; $5.00 refunded.", "success")
    assert_plain(page)

    rest = {"amount": "13.00", "reason": "requested_by_customer"}
    assert move_money(staff, f"/orders/{held.id}/refund", rest).status_code == 303
    assert status_line(buyer_page(sandbox_app, held.id)) == (
        "Paid $18.00 of $25.00; $18.00 refunded, all of it.",
        "info",
    )


def test_a_void_says_the_hold_was_released_and_nothing_charged(sandbox_app, held, signed_in):
    staff = signed_in(Role.STAFF)
    void = {"reason": "requested_by_customer"}
    assert move_money(staff, f"/orders/{held.id}/void", void).status_code == 303
    page = buyer_page(sandbox_app, held.id)
    assert status_line(page) == ("The hold was released; you were not charged.", "info")
    assert_plain(page)


def test_a_decline_is_a_plain_sentence_and_staff_see_stripes_code(
    sandbox_app, make_order, signed_in
):
    order = make_order()
    page = pay_with_test_card(sandbox_app, order.id, "decline").get_data(as_text=True)
    declined = "Your card was declined. Try another card or contact your bank."
    assert message_line(page) == (declined, "error")
    assert_plain(page)
    later = buyer_page(sandbox_app, order.id)  # the link opened again: the stored state
    assert status_line(later) == (declined, "error")
    assert_plain(later)

    timeline = signed_in(Role.SUPPORT).get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Payment attempt failed: the card was declined" in timeline
    assert "<dt>Stripe code</dt><dd><code>card_declined</code></dd>" in timeline


def test_the_verify_step_is_an_instruction_and_its_failure_is_plain(
    sandbox_app, make_order, signed_in
):
    order = make_order()
    asked = pay_with_test_card(sandbox_app, order.id, "3ds").get_data(as_text=True)
    assert message_line(asked) == ("Your bank needs you to verify this payment.", "info")
    assert "flash-success" not in asked
    assert 'class="card instruction" id="verify"' in asked
    assert_plain(asked)

    link = pay_link(sandbox_app, order.id)
    failed = post_form(
        sandbox_app.test_client(),
        f"{link}/sandbox-authenticate",
        {"outcome": "fail"},
        follow_redirects=True,
    ).get_data(as_text=True)
    could_not = "Your bank could not verify this payment. Try again or use another card."
    assert message_line(failed) == (could_not, "error")
    assert_plain(failed)
    assert "failed authentication" not in failed  # Stripe's message for developers
    assert status_line(buyer_page(sandbox_app, order.id)) == (could_not, "error")

    staff_page = signed_in(Role.SUPPORT).get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Payment attempt failed: the buyer&#39;s bank could not verify it" in staff_page
    assert "<code>payment_intent_authentication_failure</code>" in staff_page
    assert "The provided PaymentMethod has failed authentication." in staff_page


@pytest.mark.parametrize("outcome", ["success", "fail"])
def test_no_buyer_page_of_a_3d_secure_payment_shows_developer_words(
    sandbox_app, make_order, outcome
):
    order = make_order()
    buyer = sandbox_app.test_client()
    link = pay_link(sandbox_app, order.id)
    pages = [post_form(buyer, f"{link}/sandbox-card", {"card": "3ds"}, follow_redirects=True)]
    pages.append(
        post_form(
            buyer, f"{link}/sandbox-authenticate", {"outcome": outcome}, follow_redirects=True
        )
    )
    pages.append(buyer.get(f"{link}/done"))
    for page in pages:
        assert page.status_code == 200
        assert_plain(page.get_data(as_text=True))
