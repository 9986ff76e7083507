"""Accessibility in a real browser (Debian's Chromium, tests/support/browser.py), at 1280 px
and 390 px: axe-core finds nothing serious or critical on Home, the order list, the order page (an
authorized order with its payment panel), the event log, the account page and the buyer's
pay page; and a staff member captures a hold with the keyboard alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from dashboard.models import Order, Role, User
from tests.support.axe import axe_findings
from tests.support.browser import Problems, needs_chromium, sign_in, tab_to, tab_to_field
from tests.support.database import reload
from tests.support.stripe import send_event, stripe_event, stripe_example
from tests.support.web import PASSWORD, pay_link

pytestmark = needs_chromium

WIDTHS = (1280, 390)


@pytest.mark.parametrize("width", WIDTHS)
def test_axe_finds_nothing_serious_on_the_main_pages(
    sandbox_app: Flask,
    server: str,
    browser: Browser,
    place_hold: Callable[[], Order],
    make_order: Callable[..., Order],
    make_user: Callable[..., User],
    width: int,
) -> None:
    held = place_hold()
    intent = {**stripe_example("payment_intent"), "metadata": {"order_id": "424242"}}
    event = stripe_event("payment_intent.requires_action", intent)  # unmatched: Reprocess
    assert send_event(sandbox_app.test_client(), event).status_code == 200
    unpaid = make_order()
    staff = make_user(Role.STAFF, quick_hash=True)
    # The CSP would refuse the injected axe-core; every other browser test keeps it.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    page.goto(server + pay_link(sandbox_app, unpaid.id))
    found["pay page"] = axe_findings(page)
    sign_in(page, server, staff.email, PASSWORD)
    for name, path in [
        ("home", "/"),
        ("order list", "/orders"),
        ("order page", f"/orders/{held.id}"),
        ("event log", "/events"),
        ("account", "/account"),
    ]:
        page.goto(server + path)
        menu = page.locator("header .menu > summary")
        if menu.is_visible():  # on a phone: check the menu's links too
            menu.click()
        found[name] = axe_findings(page)
    context.close()
    assert {name: lines for name, lines in found.items() if lines} == {}


@pytest.mark.parametrize("width", WIDTHS)
def test_a_hold_is_captured_with_the_keyboard_alone(
    sandbox_app: Flask,
    server: str,
    browser: Browser,
    place_hold: Callable[[], Order],
    make_user: Callable[..., User],
    width: int,
) -> None:
    held = place_hold()
    staff = make_user(Role.STAFF, quick_hash=True)
    problems = Problems()
    page = problems.watch(browser.new_context(viewport={"width": width, "height": 900}))
    page.goto(server + "/login")
    page.keyboard.type(staff.email)  # the email field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation(url=server + "/"):  # Home, the page after sign-in
        page.keyboard.press("Enter")
    page.goto(server + "/orders")
    tab_to(page, f"#{held.id}")  # the order in the capture queue
    with page.expect_navigation(url=f"**/orders/{held.id}"):
        page.keyboard.press("Enter")

    tab_to_field(page, "Amount to capture")
    page.keyboard.press("Control+A")
    page.keyboard.type("18.00")
    page.keyboard.press("Enter")
    # The confirmation opens as a modal dialog, with the focus in it: Escape cancels.
    dialog = page.locator("dialog#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#confirm-sentence")).to_have_text(
        "Capture $18.00 of the $25.00 hold. The other $7.00 is released to the buyer and"
        " cannot be captured later."
    )
    assert page.evaluate("document.activeElement.id") == "confirm-button"
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert reload(sandbox_app, held.id).amount_captured == 0  # nothing was sent

    tab_to_field(page, "Amount to capture")  # still 18.00, as typed
    page.keyboard.press("Enter")
    expect(page.locator("dialog#confirm-dialog")).to_be_visible()
    page.keyboard.press("Enter")  # on "Capture $18.00", where the focus is
    expect(page.locator("#panel-message")).to_have_text("Captured $18.00.")
    expect(page.locator("#amount-captured")).to_have_text("$18.00")
    assert reload(sandbox_app, held.id).amount_captured == 1800
    assert problems.seen == []
