"""Two-step sign-in in a real browser (Debian's Chromium, tests/support/browser.py), by
keyboard alone, at 1280 px and 390 px: set it up from the account page (the QR code drawn
on the page, the key as text, a code to confirm, the recovery codes shown), then sign in
with the password and a code. No page scrolls sideways; nothing breaks the CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from dashboard.models import Role
from tests.support.browser import (
    Problems,
    needs_chromium,
    sideways,
    tab_into_menu,
    tab_to,
)
from tests.support.two_factor import code_at, fresh_step, step_now
from tests.support.web import PASSWORD

pytestmark = needs_chromium

LONG_EMAIL = "a-rather-long-address-for-a-narrow-screen@support.shop.example"


@pytest.mark.parametrize("width", (1280, 390))
def test_set_up_and_sign_in_with_a_code_by_keyboard(
    app, make_user, server, browser, width, tmp_path
):
    make_user(Role.STAFF, LONG_EMAIL, quick_hash=True)
    problems = Problems()
    page = problems.watch(browser.new_context(viewport={"width": width, "height": 900}))

    def sign_in(remember: bool) -> None:
        page.goto(server + "/login")
        expect(page.get_by_label("Email")).to_be_focused()
        page.keyboard.type(LONG_EMAIL)
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Tab")
        if remember:
            page.keyboard.press("Space")
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Sign in")).to_be_focused()
        page.keyboard.press("Enter")

    sign_in(remember=False)
    page.wait_for_url(server + "/")
    tab_into_menu(page)  # on a phone, the Menu button
    tab_to(page, f"{LONG_EMAIL} · staff")
    with page.expect_navigation(url="**/account"):
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
    tab_to(page, "Set up two-step sign-in")
    with page.expect_navigation(url="**/account/two-step"):
        page.keyboard.press("Enter")

    qr = page.get_by_role("img", name="QR code: Merchant dashboard")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box is not None and 150 <= box["width"] <= 240  # large enough to scan
    assert page.locator("img").count() == 0  # no image fetched from anywhere
    assert sideways(page) == 0
    page.screenshot(path=str(tmp_path / f"setup-{width}.png"), full_page=True)
    secret = page.locator("#two-step-key").inner_text().replace(" ", "")
    enrolled_at = fresh_step()
    tab_to(page, "")  # the first control without text of its own: the code field
    expect(page.get_by_label("Code from your app")).to_be_focused()
    page.keyboard.type(code_at(secret, step_now()))
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    codes = page.get_by_role("list", name="Recovery codes").get_by_role("listitem")
    expect(codes).to_have_count(10)
    expect(page.get_by_text("This is the only time they are shown.")).to_be_visible()
    assert sideways(page) == 0
    page.screenshot(path=str(tmp_path / f"recovery-codes-{width}.png"), full_page=True)
    tab_to(page, "I have kept them: continue")
    with page.expect_navigation(url="**/account"):
        page.keyboard.press("Enter")
    expect(page.get_by_text("10 of 10 recovery codes left")).to_be_visible()
    assert sideways(page) == 0
    page.screenshot(path=str(tmp_path / f"account-{width}.png"), full_page=True)
    tab_into_menu(page)
    tab_to(page, "Sign out")
    with page.expect_navigation(url="**/login"):
        page.keyboard.press("Enter")

    sign_in(remember=True)
    page.wait_for_url("**/login/code")
    expect(page.get_by_label("Code")).to_be_focused()  # the field has autofocus
    assert sideways(page) == 0
    page.screenshot(path=str(tmp_path / f"code-{width}.png"), full_page=True)
    page.keyboard.type("000000" if code_at(secret, enrolled_at + 1) != "000000" else "111111")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text(
        "That code is not right. Type the 6 digits your app shows now."
    )
    assert sideways(page) == 0
    # The field is focused again, holding the wrong code: replace it with the right one.
    expect(page.get_by_label("Code")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type(code_at(secret, enrolled_at + 1))
    with page.expect_navigation(url=server + "/"):
        page.keyboard.press("Enter")
    cookies = {cookie["name"] for cookie in page.context.cookies()}
    assert "remember_token" in cookies  # "Keep me signed in" carried through the code step
    # Chromium logs the 422 of a refused form as a failed load; nothing else may appear.
    assert [seen for seen in problems.seen if "status of 422" not in seen] == []
