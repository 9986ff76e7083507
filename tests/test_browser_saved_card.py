"""The pay page's "keep this card on file" box in Debian's Chromium at 1280 px and 390 px,
with the keyboard alone: reached with Tab, its focus visible, unticked until Space ticks
it, then the payment made with Enter keeps the card for the buyer's Stripe Customer; and
staff re-authorizing the lapsed hold with it from the order page, keyboard only. The pages
fit the window and axe-core finds nothing serious."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy import update

from dashboard.extensions import db
from dashboard.models import Order, Role, User
from dashboard.services.saved_cards import CONSENT_TEXT
from tests.support.axe import axe_findings
from tests.support.browser import (
    Problems,
    needs_chromium,
    screenshot_dir,
    sideways,
    sign_in,
    tab_to,
    tab_to_field,
)
from tests.support.database import reload
from tests.support.localstripe import localstripe, stripe_pi
from tests.support.web import PASSWORD, pay_link, post_form

pytestmark = needs_chromium


@pytest.mark.parametrize("width", [1280, 390])
def test_the_buyer_ticks_the_box_with_the_keyboard_and_the_card_is_kept(
    sandbox_app: Flask,
    server: str,
    browser: Browser,
    make_order: Callable[..., Order],
    localstripe_url: str,
    tmp_path: Path,
    width: int,
) -> None:
    problems = Problems()
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = problems.watch(context)
    order = make_order(buyer_email=f"keyboard{width}@example.com")
    page.goto(server + pay_link(sandbox_app, order.id))

    box = page.locator("#keep-card")
    expect(box).not_to_be_checked()
    tab_to_field(page, CONSENT_TEXT)
    outline = box.evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline not in ("", "none"), "the focused box shows no focus"
    page.keyboard.press("Space")
    expect(box).to_be_checked()
    assert sideways(page) == 0
    assert axe_findings(page) == []
    page.screenshot(path=str(screenshot_dir(tmp_path) / f"pay-keep-card-{width}.png"))

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "pay-button"
    page.keyboard.press("Enter")
    expect(page.locator("#pay-message")).to_have_text(
        "$25.00 is on hold on your card; you will be charged when the merchant confirms your order."
    )
    kept = reload(sandbox_app, order.id)
    assert kept.card_consent_at is not None and kept.saved_payment_method_id
    intent = stripe_pi(localstripe_url, kept.stripe_payment_intent_id or "")
    assert intent["customer"] == kept.stripe_customer_id
    assert problems.seen == []
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_staff_reauthorize_a_lapsed_hold_with_the_keyboard(
    sandbox_app: Flask,
    server: str,
    browser: Browser,
    make_order: Callable[..., Order],
    make_user: Callable[..., User],
    localstripe_url: str,
    tmp_path: Path,
    width: int,
) -> None:
    """The panel offers the new hold in plain words; Enter asks, the dialog says what will
    happen, Enter confirms; the new hold is in place."""
    order = make_order(buyer_email=f"lapsed{width}@example.com")
    buyer = sandbox_app.test_client()
    post_form(
        buyer,
        pay_link(sandbox_app, order.id) + "/sandbox-card",
        {"card": "success", "keep_card": "y"},
    )
    held = reload(sandbox_app, order.id)
    localstripe(localstripe_url, f"/v1/payment_intents/{held.stripe_payment_intent_id}/cancel", {})
    with sandbox_app.app_context():
        db.session.execute(
            update(Order).where(Order.id == order.id).values(state="expired", amount_capturable=0)
        )
        db.session.commit()

    problems = Problems()
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = problems.watch(context)
    sign_in(page, server, make_user(Role.STAFF, quick_hash=True).email, PASSWORD)
    page.goto(f"{server}/orders/{order.id}")
    expect(page.locator("#renewal")).to_contain_text("The hold lapsed before it was captured.")
    tab_to(page, "Re-authorize $25.00…", limit=80)
    assert sideways(page) == 0
    page.screenshot(path=str(screenshot_dir(tmp_path) / f"order-reauthorize-{width}.png"))
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#confirm-sentence")).to_contain_text(
        "Place a new hold of $25.00 on the card the buyer let the shop keep"
    )
    assert axe_findings(page) == []
    page.screenshot(path=str(screenshot_dir(tmp_path) / f"order-reauthorize-dialog-{width}.png"))
    expect(dialog.locator("#confirm-button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#panel-message")).to_contain_text("A new hold of $25.00 is in place.")
    renewed = reload(sandbox_app, order.id)
    assert renewed.state == "authorized" and renewed.stripe_payment_intent_id != (
        held.stripe_payment_intent_id
    )
    assert problems.seen == []
    context.close()
