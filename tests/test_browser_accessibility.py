"""Accessibility in a real browser (Debian's Chromium, tests/support/browser.py), at 1280 px
and 390 px: axe-core finds nothing serious or critical on Home, the order list, the order page (an
authorized order with its payment panel), the event log, the account page and the buyer's
pay page; nor on the pages that came later (the list behind a Home figure, products, AI
agents, customers, plans, subscriptions, disputes with a dispute's Submit confirmation,
exports, and the buyer's save-a-card and subscribe pages); and a staff member captures a
hold with the keyboard alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from playwright.sync_api import Browser, expect

from dashboard.models import Order, Role, User
from dashboard.services import card_setup
from tests.support.axe import axe_findings
from tests.support.browser import Problems, needs_chromium, sign_in, tab_to, tab_to_field
from tests.support.catalog import make_agent, make_product
from tests.support.database import reload
from tests.support.pages import buyer_with_card_and_subscription, dispute_needing_response
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
def test_axe_finds_nothing_serious_on_the_later_pages(
    sandbox_app: Flask,
    server: str,
    browser: Browser,
    make_order: Callable[..., Order],
    make_user: Callable[..., User],
    width: int,
) -> None:
    seeded = buyer_with_card_and_subscription(sandbox_app)
    dispute_id, _ = dispute_needing_response(sandbox_app, make_order)
    product, agent = make_product(sandbox_app), make_agent(sandbox_app)
    with sandbox_app.test_request_context():
        save_card = "/save-card/" + card_setup.token_for(seeded.customer, "axe")
    admin = make_user(Role.ADMIN, quick_hash=True)  # an admin sees every page
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    page = context.new_page()
    found: dict[str, list[str]] = {}
    for name, path in [("save a card", save_card), ("subscribe", seeded.subscribe_path)]:
        page.goto(server + path)
        found[name] = axe_findings(page)
    sign_in(page, server, admin.email, PASSWORD)
    for name, path in [
        ("captures behind a home figure", "/movements?kind=capture&currency=USD"),
        ("open holds behind a home figure", "/holds?currency=USD"),
        ("slowest deliveries behind a home figure", "/events/lag"),
        (
            "fees and net behind a home figure",
            "/movements?kind=settled&currency=USD&from=2026-11-01&to=2026-12-31",
        ),
        (
            "declines behind a home figure",
            "/movements?kind=decline&currency=USD&from=2026-11-01&to=2026-12-31"
            "&reason=insufficient_funds",
        ),
        ("products", "/products"),
        ("edit a product", f"/products/{product}/edit"),
        ("AI agents", "/admin/agents"),
        ("revoke an agent's key", f"/admin/agents/{agent}/revoke"),
        ("agent deliveries", "/admin/agent-deliveries"),
        ("customers", "/customers"),
        ("customer page", f"/customers/{seeded.customer}"),
        ("plans", "/plans"),
        ("subscriptions", "/subscriptions"),
        ("subscription page", f"/subscriptions/{seeded.subscription}"),
        ("disputes", "/disputes"),
        ("dispute page", f"/disputes/{dispute_id}"),
        ("exports", "/exports"),
    ]:
        page.goto(server + path)
        menu = page.locator("header .menu > summary")
        if menu.is_visible():  # on a phone: check the menu's links too
            menu.click()
        found[name] = axe_findings(page)
    page.goto(server + f"/disputes/{dispute_id}")
    page.get_by_label("Product or service description").fill("A blue mug")
    with page.expect_navigation():
        page.get_by_role("button", name="Submit to the bank…").click()
    found["submit a dispute's evidence: the confirmation"] = axe_findings(page)
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
    # The email field has the focus (its autofocus, applied once the page has rendered: on
    # a busy machine typing at once could start before that).
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(staff.email)
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
