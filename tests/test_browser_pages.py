"""Every staff page and every buyer page in a real browser (Debian's Chromium, tests/support/
browser.py), at 1280 px and at 390 px, a phone's width: none scrolls sideways; on every
staff page the top bar's links, the account and Sign out are shown whole (on a phone behind
its Menu button) and reached with the Tab key; nothing breaks the CSP.

The pages are the lists below; a page added to the dashboard belongs in one of them.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from playwright.sync_api import Browser, Page, expect

from dashboard.extensions import db
from dashboard.models import Order, Role, TimelineKind, User
from dashboard.payments.charges import BalanceFacts
from dashboard.services import agents, card_setup, customers
from dashboard.services.payments import records
from tests.support.app import free_port
from tests.support.browser import (
    Problems,
    needs_chromium,
    sideways,
    tab_into_menu,
    tab_to,
)
from tests.support.catalog import make_agent, make_product
from tests.support.database import stored_events
from tests.support.pages import (
    LONG_BUYER,
    buyer_with_card_and_subscription,
    dispute_needing_response,
)
from tests.support.stripe import send_event, stripe_event, stripe_example
from tests.support.two_factor import Enrolled
from tests.support.web import PASSWORD, pay_link, post_form

pytestmark = needs_chromium

WIDTHS = (1280, 390)
LONG_EMAIL = "a-rather-long-address-for-a-narrow-screen@support.shop.example"

# Staff pages an admin opens (an admin sees every link of the top bar). `{held}` is an
# authorized order whose timeline has an entry of every kind, `{disputed}` an order with an
# open dispute, `{event}` a stored Stripe event, `{dispute}` a dispute needing a response by a
# deadline, `{subscription}` an active subscription of `{customer}`, who has a saved `{card}`.
SIGNED_IN_PAGES = {
    "home": "/",
    "captures behind a home figure": (
        "/movements?kind=capture&currency=USD&from=2026-11-01&to=2026-12-31"
    ),
    "open holds behind a home figure": "/holds?currency=USD",
    "open disputes behind a home figure": "/disputes?open=1&currency=USD",
    "fees and net behind a home figure": (
        "/movements?kind=settled&currency=USD&from=2026-11-01&to=2026-12-31"
    ),
    "payment attempts behind the authorization rate": (
        "/movements?kind=attempt&currency=USD&from=2026-11-01&to=2026-12-31"
    ),
    "order list": "/orders",
    "order page": "/orders/{held}",
    "order page, disputed": "/orders/{disputed}",
    "earlier timeline entries": "/orders/{held}/timeline",
    "new order": "/orders/new",
    "event log": "/events",
    "slowest deliveries behind a home figure": "/events/lag",
    "plans": "/plans",
    "subscriptions": "/subscriptions",
    "subscription page": "/subscriptions/{subscription}",
    "cancel a subscription now": "/subscriptions/{subscription}/cancel?when=now",
    "disputes": "/disputes",
    "dispute page": "/disputes/{dispute}",
    "exports": "/exports",
    "event page": "/events/{event}",
    "account": "/account",
    "two-step sign-in set-up": "/account/two-step",
    "users": "/admin/users",
    "products": "/products",
    "add a product": "/products/new",
    "edit a product": "/products/{product}/edit",
    "AI agents": "/admin/agents",
    "revoke an agent's key": "/admin/agents/{agent}/revoke",
    "agent deliveries": "/admin/agent-deliveries",
    "sandbox mail": "/sandbox/mail",
    "error page (no such order)": "/orders/999999",
    "customers": "/customers",
    "customer page": "/customers/{customer}",
    "remove a saved card": "/customers/{customer}/payment-methods/{card}/detach",
}
# What an admin's top bar links to.
TOP_BAR = [
    "Home",
    "Orders",
    "Customers",
    "Subscriptions",
    "Event log",
    "Disputes",
    "Exports",
    "New order",
    "Products",
    "Users",
    "AI agents",
    "Agent deliveries",
    "Sandbox mail",
]
# Before signing in; the code page and the recovery codes are reached by signing in.
SIGNED_OUT_PAGES = {
    "sign-in": "/login",
    "forgot your password": "/login/forgot",
    "reset link that does not work": "/login/reset/not-a-link",
    "error page (no such page)": "/no-such-page",
}
# A buyer's pages, as in production (Stripe's HTTP API is the double of tests/support/stripe.py).
BUYER_PAGES = {
    "pay page": "{link}",
    "card page": "{link}/card",
    "link not valid": "/pay/not-a-link",
    "error page (no such page)": "{link}/no-such-page",
    "save a card": "{save_card}",
    "subscribe": "{subscribe}",
    "billing": "{billing}",
}
# Stripe.js, which the card page loads from Stripe: an empty script here, offline.
STRIPE_JS = "https://js.stripe.com/**"


def fits(page: Page, width: int, where: str) -> None:
    assert sideways(page) == 0, f"{where} scrolls sideways at {width} px"


def top_bar_fits(page: Page, width: int, where: str, links: list[str]) -> None:
    """The top bar's links, the account and Sign out: shown whole inside the window."""
    menu = page.locator("header .menu > summary")
    if width < 640:
        expect(menu).to_be_visible()
        menu.click()
    else:
        expect(menu).to_be_hidden()
    bar = page.locator("header")
    for name in [*links, "Sign out"]:
        item = bar.get_by_role("link", name=name, exact=True).or_(
            bar.get_by_role("button", name=name, exact=True)
        )
        expect(item).to_be_visible()
        box = item.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (where, name, box)
    if width < 640:
        menu.click()  # closed again


def not_found_loads(problems: Problems) -> list[str]:
    """What the browser reported, less its note of an error page's own status."""
    return [seen for seen in problems.seen if "status of 404" not in seen]


def settled_capture(app: Flask, order: Order) -> None:
    """A capture Stripe settled, with its fee and net: a row on the lists behind Home's
    captured, fees and net."""
    with app.app_context():
        captured = db.session.get(Order, order.id)
        assert captured is not None
        captured.stripe_charge_id = f"ch_settled_{order.id}"
        captured.stripe_payment_intent_id = f"pi_settled_{order.id}"
        captured.amount_authorized = captured.amount_captured = 123456
        captured.state = "captured"
        records.note_movements(captured)
        records.keep_balance(
            captured,
            BalanceFacts(id="txn_settled", amount=123456, currency="USD", net=119851, fee=3605),
        )
        db.session.commit()


def test_every_staff_page_fits_a_phone_and_a_desktop(
    sandbox_app: Flask,
    server: str,
    browser: Browser,
    place_hold: Callable[[], Order],
    make_order: Callable[..., Order],
    make_user: Callable[..., User],
    enrolled: Callable[..., Enrolled],
) -> None:
    held = place_hold()
    stripe = sandbox_app.test_client()
    for metadata in ({"order_id": str(held.id)}, {"order_id": "424242"}):  # a webhook, unmatched
        intent = {**stripe_example("payment_intent"), "metadata": metadata}
        assert (
            send_event(stripe, stripe_event("payment_intent.requires_action", intent)).status_code
            == 200
        )
    dispute = stripe_example("dispute")
    disputed = make_order(buyer_email=LONG_BUYER, stripe_charge_id=dispute["charge"])
    assert send_event(stripe, stripe_event("charge.dispute.created", dispute)).status_code == 200
    ids = {
        "held": held.id,
        "disputed": disputed.id,
        "event": stored_events(sandbox_app)[-1].id,
        "product": make_product(sandbox_app),
        "agent": make_agent(sandbox_app),
    }
    with sandbox_app.app_context():  # an agent whose webhook URL answers nothing
        agent = agents.register(
            "A shopping agent with a long name", f"http://127.0.0.1:{free_port()}/x"
        )
        db.session.commit()
        agent_id = agent.agent.id
    make_order(agent_id=agent_id, state="authorized")
    settled_capture(sandbox_app, make_order(buyer_email=LONG_BUYER))
    sandbox_app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
    seeded = buyer_with_card_and_subscription(sandbox_app)
    ids.update(customer=seeded.customer, card=seeded.card, subscription=seeded.subscription)
    ids["dispute"] = dispute_needing_response(sandbox_app, make_order)[0]
    make_user(Role.ADMIN, LONG_EMAIL, quick_hash=True)
    two_step = {width: enrolled(Role.STAFF, f"staff{width}@shop.example") for width in WIDTHS}
    problems = Problems()
    heights: dict[int, int] = {}

    for width in WIDTHS:
        page = problems.watch(browser.new_context(viewport={"width": width, "height": 844}))
        for name, path in SIGNED_OUT_PAGES.items():
            page.goto(server + path)
            fits(page, width, name)

        # The code page, then, signed in with a recovery code, the new recovery codes.
        user = two_step[width]
        page.goto(server + "/login")
        page.get_by_label("Email").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation(url="**/login/code"):
            page.get_by_role("button", name="Sign in").click()
        fits(page, width, "two-step sign-in code")
        page.get_by_label("Code").fill(user.recovery_codes[0])
        with page.expect_navigation(url=server + "/"):
            page.get_by_role("button", name="Sign in").click()
        page.goto(server + "/account")
        new_codes = page.locator("form", has_text="Make new recovery codes")
        new_codes.get_by_label("Your password, or a code from your app").fill(PASSWORD)
        new_codes.get_by_role("button", name="Make new recovery codes").click()
        expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
        fits(page, width, "recovery codes")
        top_bar_fits(page, width, "recovery codes", ["Home", "Orders", "Event log", "New order"])
        page.context.clear_cookies()

        page.goto(server + "/login")
        page.get_by_label("Email").fill(LONG_EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        with page.expect_navigation(url=server + "/"):
            page.get_by_role("button", name="Sign in").click()
        for name, path in SIGNED_IN_PAGES.items():
            page.goto(server + path.format(**ids))
            fits(page, width, name)
            top_bar_fits(page, width, name, TOP_BAR)
        # A dispute's Submit asks first, on a page of its own.
        page.goto(server + f"/disputes/{ids['dispute']}")
        page.get_by_label("Product or service description").fill(
            "A blue mug, shipped and signed for"
        )
        with page.expect_navigation():
            page.get_by_role("button", name="Submit to the bank…").click()
        expect(page.get_by_text("It cannot be changed afterwards")).to_be_visible()
        fits(page, width, "submit a dispute's evidence: the confirmation")
        top_bar_fits(page, width, "submit a dispute's evidence", TOP_BAR)
        # The order page's timeline has an entry of every kind, stacked on a phone; each is
        # one line, and its facts fit too once opened.
        page.goto(server + f"/orders/{held.id}")
        heights[width] = page.evaluate("document.documentElement.scrollHeight")
        page.evaluate("document.querySelectorAll('#timeline details').forEach(d => d.open = true)")
        fits(page, width, "order page, every timeline entry open")
        kinds = page.locator("#timeline .entry .kind").all_inner_texts()
        assert set(kinds) == {kind.value.replace("_", " ") for kind in TimelineKind}
        # By keyboard: the account link and Sign out, through the Menu on a phone.
        tab_into_menu(page)
        tab_to(page, f"{LONG_EMAIL} · admin")
        tab_to(page, "Sign out")
        with page.expect_navigation(url="**/login"):
            page.keyboard.press("Enter")
        page.context.close()

    # A phone shows the same order page in a column, not many screens of it per desktop one.
    assert heights[390] < 2 * heights[1280], heights
    assert not_found_loads(problems) == []


def test_every_buyer_page_fits_a_phone_and_a_desktop(
    live_app: Flask, server: str, browser: Browser, make_order: Callable[..., Order]
) -> None:
    live_app.config["DEFAULT_PAYMENT_METHOD"] = "payment_page"
    order = make_order(buyer_email=LONG_BUYER)
    link = pay_link(live_app, order.id)
    assert post_form(live_app.test_client(), f"{link}/card").status_code == 303  # the intent
    with live_app.test_request_context():
        buyer = customers.find_or_create(LONG_BUYER)
        db.session.commit()
        save_card = "/save-card/" + card_setup.token_for(buyer.id, "browser")
    seeded = buyer_with_card_and_subscription(live_app)
    problems = Problems()
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 844})
        context.route(STRIPE_JS, lambda route: route.fulfill(content_type="text/javascript"))
        page = problems.watch(context)
        for name, path in BUYER_PAGES.items():
            page.goto(
                server
                + path.format(
                    link=link,
                    save_card=save_card,
                    subscribe=seeded.subscribe_path,
                    billing=seeded.billing_path,
                )
            )
            fits(page, width, name)
            expect(page.locator("header")).to_have_text("Secure payment")  # no staff links
        context.close()
    assert not_found_loads(problems) == []
