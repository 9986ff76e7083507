"""Time zones in a real browser (Debian's Chromium, tests/support/browser.py) set to Tokyo:
its zone reaches the server through static/app.js's cookie, times show in it with UTC on
hover, until the person chooses another zone on the account page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from playwright.sync_api import Browser, expect

from dashboard.models import Order, Role, User
from tests.support.browser import Problems, needs_chromium
from tests.support.web import PASSWORD

pytestmark = needs_chromium


def test_a_browser_in_tokyo_sees_tokyo_times_until_another_zone_is_chosen(
    server: str,
    browser: Browser,
    make_order: Callable[..., Order],
    make_user: Callable[..., User],
) -> None:
    order = make_order(created_at=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    user = make_user(Role.STAFF, quick_hash=True)
    problems = Problems()
    context = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="Asia/Tokyo")
    page = problems.watch(context)
    page.goto(server + "/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation(url=server + "/"):
        page.get_by_role("button", name="Sign in").click()
    cookies = {cookie["name"]: cookie["value"] for cookie in context.cookies()}
    assert cookies["browser_time_zone"] == "Asia/Tokyo"

    page.goto(f"{server}/orders/{order.id}")
    created = page.locator(".page-head time")
    expect(created).to_have_text("2026-07-01 21:00:00 JST")
    expect(created).to_have_attribute("title", "2026-07-01 12:00:00 UTC")  # shown on hover
    expect(created).to_have_attribute("datetime", "2026-07-01T12:00:00Z")

    page.goto(server + "/account")
    expect(page.locator("#time-zone-now")).to_contain_text("Asia/Tokyo, your browser's zone")
    page.get_by_label("Time zone").select_option("America/New_York")
    with page.expect_navigation(url="**/account#time-zone"):
        page.get_by_role("button", name="Save time zone").click()
    expect(page.get_by_role("status")).to_have_text("Times now show in America/New_York.")
    page.goto(f"{server}/orders/{order.id}")
    expect(created).to_have_text("2026-07-01 08:00:00 EDT")
    assert problems.seen == []
