"""The sandbox's SMTP server (aiosmtpd, keeping what it receives in a Maildir) and its mail
page: the emails the dashboard sent, in plain words, there only in the sandbox."""

from __future__ import annotations

import re
from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser

from dashboard.models import Role
from tests.support.browser import Problems, needs_chromium, sideways, tab_into_menu, tab_to
from tests.support.web import PASSWORD, post_form

LONG_EMAIL = "a-rather-long-address-for-a-narrow-screen@support.shop.example"


def send_reset_email(app: Flask, email: str) -> None:
    """A reset link asked for, and the relay's pass that sends it."""
    answer = post_form(app.test_client(), "/login/forgot", {"email": email})
    assert answer.status_code == 200
    result = app.test_cli_runner().invoke(args=["outbox", "relay", "--once"])
    assert "1 delivered" in result.output, result.output


def test_the_page_shows_what_the_sandbox_received(sandbox_app, catcher, make_user):
    user = make_user(Role.STAFF, quick_hash=True)
    client = sandbox_app.test_client()
    assert post_form(client, "/login", {"email": user.email, "password": PASSWORD}).status_code
    empty = client.get("/sandbox/mail").get_data(as_text=True)
    assert "No emails yet." in empty
    assert 'href="/sandbox/mail"' in empty  # in the menu

    send_reset_email(sandbox_app, user.email)
    page = client.get("/sandbox/mail")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Reset your password for the merchant dashboard" in text
    assert f"<dd>{user.email}</dd>" in text
    assert "within 30 minutes" in text
    link = re.search(r'<a href="(http://dashboard\.test/login/reset/[^"]+)"', text)
    assert link, "the link in the email is a link on the page"
    files = list((Path(sandbox_app.instance_path) / "sandbox-mail" / "new").iterdir())
    assert len(files) == 1  # kept on disk, one file per email


def test_outside_the_sandbox_there_is_no_mail_page(app, signed_in):
    client = signed_in(Role.ADMIN, quick_hash=True)
    assert client.get("/sandbox/mail").status_code == 404
    assert 'href="/sandbox/mail"' not in client.get("/orders").get_data(as_text=True)


@needs_chromium
def test_the_mail_page_fits_a_phone_and_works_by_keyboard(
    sandbox_app: Flask, catcher: int, server: str, browser: Browser, make_user
) -> None:
    user = make_user(Role.STAFF, LONG_EMAIL, quick_hash=True)
    sandbox_app.config["PUBLIC_BASE_URL"] = server  # the link in the email leads here
    send_reset_email(sandbox_app, user.email)
    problems = Problems()
    page = problems.watch(browser.new_context(viewport={"width": 390, "height": 844}))
    page.goto(server + "/login")
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation(url=server + "/"):
        page.keyboard.press("Enter")

    tab_into_menu(page)
    tab_to(page, "Sandbox mail")
    with page.expect_navigation(url="**/sandbox/mail"):
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="Reset your password for the merchant dashboard")
    assert sideways(page) == 0, "the mail page scrolls sideways at 390 px"
    link = page.locator("pre.mail-body a[href*='/login/reset/']")
    link_text = link.inner_text()
    tab_to(page, link_text, limit=40)
    page.context.clear_cookies()  # the link is for someone signed out
    with page.expect_navigation(url="**/login/reset/**"):
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="Choose a new password").is_visible()
    assert sideways(page) == 0
    assert problems.seen == []
