"""Subscriptions in Debian's Chromium against the sandbox (a real localstripe and the
dashboard over real HTTP), at 1280 px and 390 px: staff create a plan and a subscribe link,
the buyer subscribes with a test card on our page, the renewal invoice is paid (localstripe
charges it; Stripe's invoice.paid is sent signed to the real endpoint), and staff cancel at
period end after confirming. Pages fit the window, axe-core finds nothing serious."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from playwright.sync_api import Browser, expect

from dashboard.models import Role, User
from tests.support.axe import axe_findings
from tests.support.browser import Problems, needs_chromium, screenshot_dir, sideways, sign_in
from tests.support.localstripe import localstripe
from tests.support.stripe import apply_stored, stripe_event, stripe_signature
from tests.support.subscriptions import as_stripe_sends, renew_at_localstripe
from tests.support.web import PASSWORD

pytestmark = needs_chromium


@pytest.mark.parametrize("width", [1280, 390])
def test_a_plan_a_subscriber_a_renewal_and_a_cancel(
    sandbox_app: Flask,
    server: str,
    browser: Browser,
    make_user: Callable[..., User],
    localstripe_url: str,
    tmp_path: Path,
    width: int,
) -> None:
    problems = Problems()
    shots = screenshot_dir(tmp_path)
    staff_context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    staff = problems.watch(staff_context)
    sign_in(staff, server, make_user(Role.STAFF, quick_hash=True).email, PASSWORD)

    # Staff define the plan.
    staff.goto(server + "/plans")
    staff.get_by_label("Plan name (the buyer sees it)").fill(f"Coffee club {width}")
    staff.get_by_label("Price each time (major units, e.g. 12.50)").fill("15.00")
    staff.get_by_label("Number of months or years between bills").fill("1")
    staff.get_by_role("button", name="Create the plan in Stripe").click()
    expect(staff.locator("#plan-price")).to_have_text("$15.00 every month")
    staff.wait_for_load_state()
    assert sideways(staff) == 0 and axe_findings(staff) == []

    # ... and a subscribe link for the buyer.
    buyer_email = f"ada{width}@shop.example"
    staff.get_by_label("Buyer email").fill(buyer_email)
    staff.get_by_role("button", name="Make the link").click()
    link = staff.locator("#subscribe-link").get_attribute("href")
    assert link and "/subscribe/" in link
    staff.wait_for_load_state()
    assert sideways(staff) == 0
    staff.screenshot(path=str(shots / f"plan-link-{width}.png"))

    # The buyer subscribes on our page with the sandbox's success card.
    buyer_context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    buyer = problems.watch(buyer_context)
    buyer.goto(server + urlsplit(link).path)  # the link names PUBLIC_BASE_URL's host
    expect(buyer.locator("#offer-price")).to_contain_text("$15.00 every month")
    buyer.wait_for_load_state()
    assert sideways(buyer) == 0 and axe_findings(buyer) == []
    buyer.get_by_role("button", name="Subscribe: $15.00 every month").click()
    expect(buyer.locator("#subscribe-status")).to_contain_text("You are subscribed.")
    buyer.screenshot(path=str(shots / f"subscribed-{width}.png"))

    # Staff find it on the Subscriptions page.
    staff.goto(server + "/subscriptions")
    staff.get_by_role("link", name=buyer_email).click()
    expect(staff.locator("#subscription-status")).to_have_text("Active")
    expect(staff.locator("#next-invoice")).to_contain_text("$15.00 on")
    sub_url = staff.url

    # The period ends: Stripe renews it, charges the card and tells us.
    subscription_id = staff.locator("p.muted code").first.inner_text()
    customer_id = staff.locator("p.muted code").nth(1).inner_text()
    renewal = renew_at_localstripe(localstripe_url, subscription_id, customer_id)
    assert renewal["status"] == "paid"
    body = json.dumps(
        stripe_event("invoice.paid", as_stripe_sends(renewal, billing_reason="subscription_cycle"))
    ).encode()
    answer = requests.post(
        server + "/webhooks/stripe",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": stripe_signature(body)},
        timeout=10,
    )
    assert answer.status_code == 200
    # Stored and answered; a worker's applier applies it next (this server runs none).
    apply_stored(sandbox_app)
    staff.goto(sub_url)
    expect(staff.locator(f'tr[data-invoice="{renewal["id"]}"]')).to_contain_text("Paid")
    expect(staff.locator("#subscription-timeline")).to_contain_text("Renewal paid: $15.00")
    staff.wait_for_load_state()
    assert sideways(staff) == 0 and axe_findings(staff) == []

    # Staff cancel at period end: said first, then confirmed.
    staff.get_by_role("link", name="Cancel at period end…").click()
    expect(staff.locator("#confirm-sentence")).to_contain_text("runs until")
    staff.wait_for_load_state()
    assert sideways(staff) == 0 and axe_findings(staff) == []
    staff.get_by_role("button", name="Cancel at period end").click()
    expect(staff.locator("#subscription-status")).to_have_text(
        "Active; ends at the end of the period"
    )
    expect(staff.locator("#next-invoice")).to_have_text("none")
    at_stripe = localstripe(localstripe_url, f"/v1/subscriptions/{subscription_id}")
    assert at_stripe["cancel_at_period_end"] is True
    staff.screenshot(path=str(shots / f"subscription-ending-{width}.png"))
    assert problems.seen == []
    buyer_context.close()
    staff_context.close()
