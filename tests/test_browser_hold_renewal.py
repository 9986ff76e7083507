"""A hold about to run out, from the alert to the money, in Debian's Chromium at 1280 px and
at 390 px, by keyboard alone.

The hold is 20 hours from its deadline and the buyer let the shop keep the card. The hourly
`flask stripe sweep-holds` queues the alert and `flask outbox relay` delivers it to the
sandbox's own SMTP server. Staff follow the email's link to the order, re-authorize with
the saved card (a new hold, off-session), then capture it in two parts (the new hold's card
allows several captures). Stripe's answers come from the double at the SDK's HTTP boundary,
as production would get them: localstripe has no multicapture and no card grants.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from dashboard.models import Order, Role, User, utcnow
from dashboard.services import sandbox_mail
from tests.support.axe import axe_findings
from tests.support.browser import (
    Problems,
    confirm_with_keyboard,
    needs_chromium,
    screenshot_dir,
    sideways,
    sign_in,
    tab_to,
    type_into,
)
from tests.support.database import reload
from tests.support.holds import card_features
from tests.support.stripe import AMOUNT, FakeStripeHTTP, intent, stripe_example
from tests.support.web import PASSWORD

pytestmark = needs_chromium

OLD = "pi_test_hold"


def grants_on_new_holds(stripe_http: FakeStripeHTTP) -> None:
    """The next hold the double authorizes reports multicapture on its charge (its captures
    keep what the charge was granted)."""
    details = stripe_example("charge")["payment_method_details"]
    details["card"].update(card_features())
    stripe_http.charge_fields = {"payment_method_details": details}


@pytest.mark.parametrize("width", [1280, 390])
def test_an_alerted_hold_is_re_authorized_and_captured_in_two_parts(
    live_app: Flask,
    stripe_http: FakeStripeHTTP,
    server: str,
    catcher: int,
    browser: Browser,
    make_order: Callable[..., Order],
    make_user: Callable[..., User],
    tmp_path: Path,
    width: int,
) -> None:
    live_app.config["PUBLIC_BASE_URL"] = server  # the email's links lead to this server
    staff = make_user(Role.STAFF, f"staff{width}@shop.example", quick_hash=True)
    order = make_order(
        state="authorized",
        stripe_payment_intent_id=OLD,
        amount_authorized=AMOUNT,
        amount_capturable=AMOUNT,
        capture_before=utcnow() + timedelta(hours=20),
        card_consent_at=utcnow() - timedelta(days=6),
        saved_payment_method_id="pm_saved_visa",
        stripe_customer_id="cus_saved",
    )
    stripe_http.intents[OLD] = intent(order.id, status="requires_capture", capturable=AMOUNT)
    grants_on_new_holds(stripe_http)

    # The hourly sweep and the relay: the alert reaches the sandbox's SMTP server.
    cli = live_app.test_cli_runner()
    swept = cli.invoke(args=["stripe", "sweep-holds", "--older-than", "0s"])
    assert "Alert emails queued for 1 hold(s) inside the alert window" in swept.output
    relayed = cli.invoke(args=["outbox", "relay", "--once"])
    assert "1 delivered" in relayed.output, relayed.output
    (alert,) = sandbox_mail.received(Path(live_app.instance_path))
    assert alert.to == staff.email
    assert alert.subject == f"Order #{order.id}: the hold of $30.00 runs out in 20 hours"
    link = re.search(rf"{re.escape(server)}/orders/\d+", alert.body)
    assert link, alert.body

    problems = Problems()
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = problems.watch(context)
    sign_in(page, server, staff.email, PASSWORD)
    page.goto(link.group(0))
    shots = screenshot_dir(tmp_path)

    # Re-authorize with the card the buyer let the shop keep.
    tab_to(page, "Re-authorize $30.00…", limit=80)
    assert sideways(page) == 0
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#confirm-dialog")
    expect(dialog.locator("#confirm-sentence")).to_contain_text(
        "Place a new hold of $30.00 on the card the buyer let the shop keep"
    )
    assert axe_findings(page) == []
    expect(dialog.locator("#confirm-button")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#panel-message")).to_contain_text("A new hold of $30.00 is in place.")
    renewed = reload(live_app, order.id)
    new = renewed.stripe_payment_intent_id
    assert renewed.state == "authorized" and new != OLD
    (create,) = stripe_http.calls_to("POST", "/v1/payment_intents")
    assert create.form["off_session"] == ["true"]
    assert create.form["payment_method"] == ["pm_saved_visa"]
    assert stripe_http.intents[OLD]["status"] == "canceled"  # the old hold released
    stripe_http.charge_fields = {}
    expect(page.locator("#grant-multicapture")).to_have_text("This card allows several captures.")
    page.screenshot(path=str(shots / f"renewed-hold-{width}.png"), full_page=True)

    # Two captures from the new hold: part now, the rest later.
    type_into(page, "Amount to capture now (the rest stays held)", "12.00")
    page.keyboard.press("Enter")
    confirm_with_keyboard(
        page,
        "Capture $12.00 of the $30.00 held now. The other $18.00 stays held for later "
        "captures, until the hold's deadline. 49 more captures are possible.",
    )
    expect(page.locator("#panel-message")).to_have_text(
        "Captured $12.00; $18.00 is still held for later captures."
    )
    type_into(page, "Amount to capture", "18.00")
    page.keyboard.press("Enter")
    confirm_with_keyboard(
        page,
        "Capture the full $18.00 still held. This is the final capture: $12.00 was "
        "captured before.",
    )
    expect(page.locator("#panel-message")).to_have_text("Captured $30.00.")
    done = reload(live_app, order.id)
    assert (done.state, done.amount_captured, done.amount_capturable) == ("captured", 3000, 0)
    captures = stripe_http.calls_to("POST", f"/v1/payment_intents/{new}/capture")
    assert [c.form.get("final_capture") for c in captures] == [["false"], None]
    assert stripe_http.calls_to("POST", f"/v1/payment_intents/{OLD}/capture") == []
    assert sideways(page) == 0
    page.screenshot(path=str(shots / f"renewed-hold-captured-{width}.png"), full_page=True)
    assert problems.seen == [], problems.seen
    context.close()
