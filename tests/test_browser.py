"""End to end in a real browser: a buyer pays a pay link, staff capture part and refund part.

Debian's Chromium (/usr/bin/chromium, which `make chromium` installs) driven by Playwright
against the real app served over HTTP on 127.0.0.1 and pointed at localstripe. The server
runs in a thread of this process (not pytest-flask's forked `live_server`), so it shares
the test's app, configuration and database engine, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser, Page, expect

from dashboard.domain.orders import LineDraft
from dashboard.models import Order, Role, User
from tests.support.browser import Problems, needs_chromium, screenshot_dir
from tests.support.database import reload, requests_of
from tests.support.web import PASSWORD, pay_link

pytestmark = needs_chromium


def money_cell(page: Page, name: str) -> str:
    return page.locator(f"#amount-{name}").inner_text().strip()


def test_buyer_pays_then_staff_capture_part_and_refund_part(
    sandbox_app: Flask,
    server: str,
    browser: Browser,
    make_order: Callable[..., Order],
    make_user: Callable[..., User],
    tmp_path: Path,
) -> None:
    screenshots = screenshot_dir(tmp_path)  # docs/screenshots only through `make screenshots`
    problems = Problems()
    order = make_order(lines=[LineDraft("Widget", 2, 1250), LineDraft("Gift wrap", 1, 500)])
    staff_user = make_user(Role.STAFF)

    # -- The buyer: the pay link, the sandbox's test cards, the success card ------------------
    buyer_context = browser.new_context(viewport={"width": 1000, "height": 900})
    buyer = problems.watch(buyer_context)
    buyer.goto(server + pay_link(sandbox_app, order.id))
    expect(buyer.locator("h1")).to_have_text(f"Order {order.number}")
    expect(buyer.locator(".lines tfoot")).to_contain_text("$30.00")
    expect(buyer.locator("#checkout-unavailable")).to_contain_text("Stripe Checkout: unavailable.")
    expect(buyer.locator("#checkout-unavailable")).to_contain_text("has no Checkout Sessions")
    expect(buyer.locator("legend")).to_have_text("Sandbox test cards")
    for number, label in [
        ("4242424242424242", "Visa, authorizes"),
        ("4000000000000341", "Visa, declined by the bank"),
        ("4000002500003155", "Visa, asks for 3-D Secure"),
    ]:
        expect(buyer.get_by_label(f"{number} · {label}")).to_be_visible()
    success = buyer.get_by_label("4242424242424242 · Visa, authorizes")
    expect(success).to_be_checked()  # the default, as the form says
    buyer.screenshot(path=str(screenshots / "pay-page.png"), full_page=True)

    success.check()
    buyer.locator("#pay-button").click()
    expect(buyer.locator("#pay-message")).to_contain_text("$30.00 is on hold on your card")
    expect(buyer.locator("#pay-button")).to_have_count(0)  # no second payment
    held = reload(sandbox_app, order.id)
    assert (held.state, held.amount_authorized, held.amount_capturable) == (
        "authorized",
        3000,
        3000,
    )
    buyer_context.close()

    # -- Staff: the real sign-in form, then the order page ------------------------------------
    staff_context = browser.new_context(viewport={"width": 1280, "height": 1000})
    staff = problems.watch(staff_context)
    staff.goto(server + "/login")
    staff.get_by_label("Email").fill(staff_user.email)
    staff.get_by_label("Password").fill(PASSWORD)
    staff.get_by_role("button", name="Sign in").click()
    expect(staff.locator(".who")).to_contain_text(f"{staff_user.email} · staff")
    staff.goto(f"{server}/orders/{order.id}")
    badge = staff.locator("#order-state .badge")
    expect(badge).to_have_text("authorized")
    expect(badge).to_have_class("badge state-authorized")
    assert money_cell(staff, "capturable") == "$30.00"
    assert money_cell(staff, "captured") == "$0.00"

    # Anything that reloads the page loses these; htmx swaps leave them.
    staff.evaluate(
        """() => {
            window.__sameDocument = "still here";
            window.__swapped = [];
            document.body.addEventListener("htmx:afterSwap", (event) => {
                window.__swapped.push(event.target.id);
            });
        }"""
    )

    def act(form: str, button: str, says: str, message: str) -> None:
        """Submit one panel form through htmx, read what the confirmation dialog says will
        happen, confirm it, and wait for the panel the confirmation sends back."""
        with staff.expect_response(lambda r: r.request.method == "POST") as asked:
            staff.locator(f"{form} button", has_text=button).first.click()
        assert (asked.value.request.headers.get("hx-request"), asked.value.status) == (
            "true",
            200,
        )
        dialog = staff.locator("dialog#confirm-dialog")
        expect(dialog).to_be_visible()  # a modal: nothing behind it can be clicked
        expect(dialog.locator("#confirm-sentence")).to_have_text(says)
        old_panel = staff.locator("#payment-panel").element_handle()
        with staff.expect_response(lambda r: r.request.method == "POST") as answer:
            dialog.locator("#confirm-button").click()
        response = answer.value
        # An htmx request answered with a fragment, not a form post answered with a redirect.
        assert (response.request.headers.get("hx-request"), response.status) == ("true", 200)
        expect(staff.locator("#panel-message")).to_have_text(message)
        assert old_panel.evaluate("panel => panel.isConnected") is False  # replaced in place
        assert staff.evaluate("window.__sameDocument") == "still here"  # no page load

    # Capture part of the hold: the rest is released.
    staff.locator("#capture-form").get_by_label("Amount to capture").fill("18.00")
    act(
        "#capture-form",
        "Capture",
        "Capture $18.00 of the $30.00 hold. The other $12.00 is released to the buyer and"
        " cannot be captured later.",
        "Captured $18.00.",
    )
    assert money_cell(staff, "captured") == "$18.00"
    assert money_cell(staff, "capturable") == "$0.00"
    assert money_cell(staff, "refunded") == "$0.00"
    assert money_cell(staff, "remaining") == "$18.00"
    expect(badge).to_have_text("captured")
    expect(badge).to_have_class("badge state-captured")
    timeline = staff.locator("#timeline")
    expect(timeline).to_contain_text(
        f"{staff_user.email} asked to capture $18.00 (releasing the other $12.00)"
    )
    expect(timeline).to_contain_text("Stripe capture: succeeded")
    expect(staff.locator("#capture-form")).to_have_count(0)

    # Refund part of what was captured.
    refund_form = staff.locator("#refund-form")
    refund_form.get_by_label("Amount to refund").fill("5.00")
    refund_form.get_by_label("Reason").select_option("requested_by_customer")
    act(
        "#refund-form",
        "Refund",
        "Refund $5.00 to Visa •••• 4242. Reason: Requested by the customer. $13.00 will remain"
        " refundable.",
        "Refunded $5.00.",
    )
    assert money_cell(staff, "captured") == "$18.00"
    assert money_cell(staff, "refunded") == "$5.00"
    assert money_cell(staff, "remaining") == "$13.00"
    assert money_cell(staff, "capturable") == "$0.00"
    expect(badge).to_have_text("partially refunded")
    expect(badge).to_have_class("badge state-partially_refunded")
    expect(timeline).to_contain_text(
        f"{staff_user.email} asked to refund $5.00 (Requested by the customer)"
    )
    expect(timeline).to_contain_text("Stripe refund: succeeded")
    # Each confirmation and each action swapped the panel; each action also swapped, out of
    # band, the timeline and the state badge.
    swapped = staff.evaluate("window.__swapped")
    assert swapped.count("payment-panel") == 4, swapped
    assert swapped.count("timeline-wrap") == 2, swapped
    assert swapped.count("order-state") == 2, swapped
    staff.screenshot(path=str(screenshots / "capture-panel.png"), full_page=True)
    staff_context.close()

    # -- The database agrees with the screen ---------------------------------------------------
    final = reload(sandbox_app, order.id)
    assert (final.state, final.amount_captured, final.amount_refunded) == (
        "partially_refunded",
        1800,
        500,
    )
    assert (final.amount_capturable, final.amount_refundable) == (0, 1300)

    assert problems.seen == []


def test_reloading_the_pay_page_after_a_decline_sends_no_second_attempt(
    sandbox_app: Flask, server: str, browser: Browser, make_order: Callable[..., Order]
) -> None:
    """The card form posts, then lands on the pay page (a GET): a reload re-sends nothing."""
    problems = Problems()
    order = make_order()
    buyer = problems.watch(browser.new_context(viewport={"width": 390, "height": 844}))
    link = server + pay_link(sandbox_app, order.id)
    buyer.goto(link)
    buyer.get_by_label("4000000000000341 · Visa, declined by the bank").check()
    with buyer.expect_navigation():
        buyer.locator("#pay-button").press("Enter")  # by keyboard
    assert buyer.url == link
    expect(buyer.locator("#pay-message")).to_contain_text("Your card was declined.")
    for _ in range(2):
        buyer.reload()
        expect(buyer.locator(".flash-error")).to_contain_text(
            "Your card was declined. Try another card or contact your bank."
        )
    assert len(requests_of(sandbox_app, order.id, "create_payment_intent")) == 1
    assert buyer.evaluate("document.documentElement.scrollWidth") <= 390
    assert problems.seen == []


def test_enter_in_the_order_form_creates_the_order(
    sandbox_app: Flask, server: str, browser: Browser, make_user: Callable[..., User]
) -> None:
    """Enter submits with the form's first submit button: "Create order", not "Add a line"."""
    problems = Problems()
    staff_user = make_user(Role.STAFF)
    staff = problems.watch(browser.new_context(viewport={"width": 1280, "height": 900}))
    staff.goto(server + "/login")
    staff.get_by_label("Email").fill(staff_user.email)
    staff.get_by_label("Password").fill(PASSWORD)
    with staff.expect_navigation():
        staff.get_by_label("Password").press("Enter")
    staff.goto(server + "/orders/new")
    staff.get_by_label("Buyer name").fill("Ada Lovelace")
    staff.get_by_label("Buyer email").fill("ada@example.com")
    staff.get_by_label("Description").fill("Analytical engine")
    staff.get_by_label("Unit price").fill("12.50")
    with staff.expect_navigation():
        staff.get_by_label("Unit price").press("Enter")
    expect(staff.locator("#order-total")).to_have_text("$12.50")
    assert problems.seen == []
