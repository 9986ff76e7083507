"""The sign-in and account pages in a real browser (Debian's Chromium, tests/support/
browser.py), at 1280 px and 390 px, by keyboard alone: no page scrolls sideways, and
signing in, then out everywhere, needs no mouse."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from dashboard.models import Role
from tests.support.browser import (
    Problems,
    needs_chromium,
    sideways,
    tab_into_menu,
    tab_to,
)
from tests.support.web import PASSWORD

pytestmark = needs_chromium

WIDTHS = (1280, 390)
LONG_EMAIL = "a-rather-long-address-for-a-narrow-screen@support.shop.example"


def sign_in_by_keyboard(page: Page, server: str, email: str) -> None:
    page.goto(server + "/login")
    expect(page.get_by_label("Email")).to_be_focused()  # the field has autofocus
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Keep me signed in on this device")).to_be_focused()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    with page.expect_navigation(url=server + "/"):
        page.keyboard.press("Enter")


@pytest.mark.parametrize("width", WIDTHS)
def test_sign_in_and_sign_out_everywhere_by_keyboard(app, make_user, server, browser, width):
    make_user(Role.SUPPORT, LONG_EMAIL, quick_hash=True)
    problems = Problems()
    elsewhere = problems.watch(browser.new_context(viewport={"width": 1280, "height": 900}))
    sign_in_by_keyboard(elsewhere, server, LONG_EMAIL)

    page = problems.watch(browser.new_context(viewport={"width": width, "height": 900}))
    page.goto(server + "/login")
    assert sideways(page) == 0
    page.get_by_label("Email").fill(LONG_EMAIL)
    page.get_by_label("Password").fill("not the password")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("alert")).to_have_text(
        "That email and password do not match an active account."
    )
    assert sideways(page) == 0

    sign_in_by_keyboard(page, server, LONG_EMAIL)
    tab_into_menu(page)  # on a phone, the Menu button
    tab_to(page, f"{LONG_EMAIL} · support")  # the top bar's way to the account page
    with page.expect_navigation(url="**/account"):
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="2 open sessions")).to_be_visible()
    expect(page.get_by_text("this browser")).to_have_count(1)
    assert sideways(page) == 0
    tab_to(page, "Sign out everywhere")
    with page.expect_navigation(url="**/login"):
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "You are signed out on every browser and device."
    )
    elsewhere.goto(server + "/orders")
    expect(elsewhere).to_have_url(f"{server}/login?next=%2Forders")
    assert problems.seen == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_users_page_fits_the_screen_and_works_by_keyboard(
    app, make_user, server, browser, width
):
    make_user(Role.ADMIN, quick_hash=True)
    make_user(Role.STAFF, LONG_EMAIL, quick_hash=True)
    problems = Problems()
    page = problems.watch(browser.new_context(viewport={"width": width, "height": 900}))
    sign_in_by_keyboard(page, server, "admin@shop.example")
    page.goto(server + "/admin/users")
    assert sideways(page) == 0
    role = page.get_by_label(f"Role of {LONG_EMAIL}")
    role.focus()
    page.keyboard.press("ArrowDown")  # staff → support
    expect(role).to_have_value("support")
    page.keyboard.press("Tab")
    row = page.locator("tr", has=role)
    expect(row.get_by_role("button", name="Change role")).to_be_focused()
    with page.expect_navigation(url="**/admin/users"):
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(f"{LONG_EMAIL} is now support.")
    assert sideways(page) == 0

    page.get_by_label("Email").fill(LONG_EMAIL.upper())
    page.get_by_label("Password").fill("a long enough password")
    with page.expect_navigation():
        page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("alert")).to_have_text(
        f"A user with the email {LONG_EMAIL} already exists."
    )
    assert sideways(page) == 0
    # Chromium logs the 422 answer (the form's refusal, as intended) as a failed load.
    assert [seen for seen in problems.seen if "status of 422" not in seen] == []
