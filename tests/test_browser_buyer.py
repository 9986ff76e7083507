"""The buyer's side in Debian's Chromium at 1280 px and 390 px: a declined card, then a
hold; a failed 3-D Secure step; and, after staff captured part and refunded part, the
status in plain words. Each page fits the window, says nothing in Stripe's developer
words, matches the database and localstripe, and axe-core finds nothing serious."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from dashboard.models import Order, Role
from tests.support.axe import axe_findings
from tests.support.browser import Problems, needs_chromium, sideways
from tests.support.database import reload
from tests.support.localstripe import stripe_pi
from tests.support.web import move_money, pay_link

pytestmark = needs_chromium

DEVELOPER_WORDS = ("PaymentMethod", "PaymentIntent", "requires_action", "card_declined")


def checked(page: Page) -> None:
    """What every buyer page must be: fits the window, plain words, nothing serious to axe."""
    assert sideways(page) == 0
    text = page.locator("main").inner_text()
    assert not [word for word in DEVELOPER_WORDS if word in text], text
    assert axe_findings(page) == []


def pay(page: Page, card: str) -> None:
    page.get_by_label(card).check()
    page.locator("#pay-button").click()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_buyer_is_declined_then_pays_fails_verification_and_reads_what_was_charged(
    sandbox_app: Flask,
    server: str,
    browser: Browser,
    make_order: Callable[..., Order],
    signed_in: Callable[..., object],
    localstripe_url: str,
    width: int,
) -> None:
    problems = Problems()
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = problems.watch(context)

    # A declined card, in plain words; then a card that works: a hold, said as one.
    order = make_order()
    page.goto(server + pay_link(sandbox_app, order.id))
    expect(page.locator(".lines tfoot")).to_contain_text("$25.00")
    checked(page)
    pay(page, "4000000000000341 · Visa, declined by the bank")
    expect(page.locator("#pay-message")).to_have_text(
        "Your card was declined. Try another card or contact your bank."
    )
    expect(page.locator("#pay-message")).to_have_class("flash flash-error")
    checked(page)
    pay(page, "4242424242424242 · Visa, authorizes")
    expect(page.locator("#pay-message")).to_have_text(
        "$25.00 is on hold on your card; you will be charged when the merchant confirms your order."
    )
    expect(page.locator("#pay-button")).to_have_count(0)
    checked(page)
    held = reload(sandbox_app, order.id)
    intent = stripe_pi(localstripe_url, held.stripe_payment_intent_id)
    assert (held.state, held.amount_capturable) == ("authorized", 2500)
    assert (intent["status"], intent["amount"]) == ("requires_capture", 2500)

    # Staff capture part and refund part; the buyer's page says what that means to them.
    staff = signed_in(Role.STAFF, quick_hash=True)
    move_money(staff, f"/orders/{order.id}/capture", {"amount": "18.00"})
    move_money(
        staff, f"/orders/{order.id}/refund", {"amount": "5.00", "reason": "requested_by_customer"}
    )
    page.reload()
    expect(page.locator("#pay-status, #pay-message").first).to_have_text(
        "Paid $18.00 of $25.00; $5.00 refunded."
    )
    checked(page)

    # A failed verification with the bank: an instruction first, then what to do.
    other = make_order()
    page.goto(server + pay_link(sandbox_app, other.id))
    pay(page, "4000002500003155 · Visa, asks for 3-D Secure")
    verify = page.locator("#verify")
    expect(verify).to_be_visible()
    expect(page.locator(".flash-success")).to_have_count(0)  # not good news yet
    checked(page)
    verify.get_by_role("button", name="Fail authentication").click()
    expect(page.locator("#pay-message")).to_have_text(
        "Your bank could not verify this payment. Try again or use another card."
    )
    expect(page.locator("#pay-button")).to_be_visible()  # they may try again
    checked(page)
    assert reload(sandbox_app, other.id).state == "failed"
    context.close()
    assert problems.seen == []
