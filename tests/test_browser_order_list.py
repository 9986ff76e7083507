"""The order list in a real browser (Debian's Chromium, tests/support/browser.py), at
1280 px and 390 px: the money columns and the filters never make the page scroll
sideways, a name typed in the search box narrows the rows as it is typed (htmx), the
created-date inputs filter, and "Clear search" brings every order back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from dashboard.domain.orders import LineDraft
from dashboard.models import Role
from tests.support.browser import Problems, needs_chromium, screenshot_dir, sideways
from tests.support.web import PASSWORD

pytestmark = needs_chromium


@pytest.mark.parametrize("width", (1280, 390))
def test_search_by_name_filter_by_day_and_clear_without_sideways_scrolling(
    make_order, make_user, server, browser, width, tmp_path: Path
):
    big = [LineDraft("Analytical engine", 9, 9_999_999)]  # $899,999.91: wide money cells
    ada = make_order(
        buyer_name="Ada Lovelace",
        lines=big,
        amount_captured=89_999_991,
        amount_refunded=1_234_567,
        created_at=datetime(2026, 12, 2, 10, tzinfo=UTC),
    )
    other = make_order(
        buyer_name="Émile Zola",
        buyer_email="a-rather-long-address-for-a-narrow-screen@a-buyer.example",
        created_at=datetime(2026, 12, 4, 10, tzinfo=UTC),
    )
    user = make_user(Role.SUPPORT, quick_hash=True)
    problems = Problems()
    page = problems.watch(browser.new_context(viewport={"width": width, "height": 900}))
    page.goto(server + "/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation(url=server + "/"):
        page.keyboard.press("Enter")
    page.goto(server + "/orders")
    rows = page.locator("#order-rows tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("columnheader", name="Remaining")).to_be_visible()
    assert sideways(page) == 0  # the table scrolls in its own box, if at all
    page.screenshot(path=str(screenshot_dir(tmp_path) / f"order-list-{width}.png"))

    page.get_by_label("Search orders").press_sequentially("lov ad", delay=20)
    expect(rows).to_have_count(1)  # swapped in by htmx as it was typed
    expect(rows.first).to_contain_text(ada.number)
    assert "q=lov%20ad" in page.url  # and kept in the address, to share or reload

    page.get_by_label("Search orders").fill("")
    page.get_by_label("Created from").fill("2026-12-03")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(other.number)
    page.get_by_label("Created to").fill("2026-12-03")
    expect(page.locator("#no-match")).to_contain_text(
        "No orders match created 2026-12-03 to 2026-12-03."
    )
    assert sideways(page) == 0
    with page.expect_navigation(url="**/orders"):
        page.get_by_role("link", name="Clear search").click()
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Created from")).to_have_value("")
    assert problems.seen == []
