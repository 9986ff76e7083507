"""Several captures in Debian's Chromium, at 1280 px and at 390 px, by keyboard alone: on a
hold whose card allows multicapture (Stripe's answers from the double at the SDK's HTTP
boundary, as production would get them), staff capture part, keep the rest held, then make
the final capture; each step is said in the confirmation dialog first, the page never
scrolls sideways and axe-core finds nothing serious."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, expect

from dashboard.models import Order, Role, User
from tests.support.axe import axe_findings
from tests.support.browser import (
    Problems,
    confirm_with_keyboard,
    needs_chromium,
    screenshot_dir,
    sideways,
    sign_in,
    type_into,
)
from tests.support.database import reload
from tests.support.holds import PI, grant
from tests.support.stripe import AMOUNT, FakeStripeHTTP
from tests.support.web import PASSWORD

pytestmark = needs_chromium


@pytest.mark.parametrize("width", [1280, 390])
def test_staff_capture_in_two_parts_by_keyboard(
    live_app: Flask,
    stripe_http: FakeStripeHTTP,
    server: str,
    browser: Browser,
    make_order: Callable[..., Order],
    make_user: Callable[..., User],
    signed_in: Callable[..., FlaskClient],
    tmp_path: Path,
    width: int,
) -> None:
    screenshots = screenshot_dir(tmp_path)
    order = make_order(
        state="authorized",
        stripe_payment_intent_id=PI,
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
    )
    grant(live_app, stripe_http, signed_in(Role.STAFF, quick_hash=True), order.id)
    staff = make_user(Role.STAFF, "keyboard@shop.example", quick_hash=True)
    problems = Problems()
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = problems.watch(context)
    sign_in(page, server, staff.email, PASSWORD)
    page.goto(f"{server}/orders/{order.id}")
    expect(page.locator("#grant-multicapture")).to_have_text("This card allows several captures.")
    assert sideways(page) == 0
    page.screenshot(path=str(screenshots / f"multicapture-panel-{width}.png"), full_page=True)

    # Part of the hold, the rest kept: Enter in the amount field asks; the dialog confirms.
    type_into(page, "Amount to capture now (the rest stays held)", "10.00")
    page.keyboard.press("Enter")
    confirm_with_keyboard(
        page,
        "Capture $10.00 of the $30.00 held now. The other $20.00 stays held for later "
        "captures, until the hold's deadline. 49 more captures are possible.",
    )
    expect(page.locator("#panel-message")).to_have_text(
        "Captured $10.00; $20.00 is still held for later captures."
    )
    expect(page.locator("#partly-captured")).to_contain_text("$20.00 still held")
    after = reload(live_app, order.id)
    assert (after.state, after.amount_captured, after.amount_capturable) == (
        "partly_captured",
        1000,
        2000,
    )
    assert sideways(page) == 0

    # The final capture of what is left.
    type_into(page, "Amount to capture", "20.00")
    page.keyboard.press("Enter")
    confirm_with_keyboard(
        page,
        "Capture the full $20.00 still held. This is the final capture: $10.00 was "
        "captured before.",
    )
    expect(page.locator("#panel-message")).to_have_text("Captured $30.00.")
    after = reload(live_app, order.id)
    assert (after.state, after.amount_captured, after.amount_capturable) == ("captured", 3000, 0)
    captures = stripe_http.calls_to("POST", f"/v1/payment_intents/{PI}/capture")
    assert [c.form.get("final_capture") for c in captures] == [["false"], None]
    assert sideways(page) == 0
    assert axe_findings(page) == []
    page.screenshot(path=str(screenshots / f"multicapture-done-{width}.png"), full_page=True)
    assert problems.seen == [], problems.seen
    context.close()
