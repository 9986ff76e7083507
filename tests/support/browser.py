"""Debian's Chromium driven by Playwright: where it is, how it starts, what counts as a
problem on a page (JavaScript errors, console errors, CSP violations), and the checks every
page gets (no sideways scrolling, reached by the Tab key)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    expect,
    sync_playwright,
)

from tests.support.axe import axe_findings

CHROMIUM = Path("/usr/bin/chromium")
# The mark of every browser test module: without Debian's Chromium it skips, saying why.
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (`make chromium` installs it as root)",
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Chromium also logs CSP violations to the console; this makes sure each one is reported,
# whatever the wording.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
    console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright until the block ends."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshot_dir(tmp_path: Path) -> Path:
    """Where a test saves its screenshots: the folder SCREENSHOT_DIR names (`make
    screenshots` names docs/screenshots), else the test's own temporary folder, so that a
    test run writes no tracked file."""
    named = os.environ.get("SCREENSHOT_DIR")
    if not named:
        return tmp_path
    folder = Path(named)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Problems:
    """JavaScript errors, console errors and CSP violations of the pages watched."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, context: BrowserContext) -> Page:
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        page = context.new_page()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"pageerror: {error}"))
        page.set_default_timeout(10_000)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        if url.endswith("/favicon.ico") and message.text.startswith("Failed to load resource"):
            return  # Chromium asks for one on its own; the dashboard has none.
        if message.type == "error" or "Content Security Policy" in message.text:
            self.seen.append(f"console {message.type}: {message.text} ({url})")


def sideways(page: Page) -> int:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def tab_to(page: Page, name: str, limit: int = 40) -> None:
    """Press Tab until the focused element's text is `name` (past the skip link and the top
    menu's links first)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.innerText").strip() == name:
            return
    raise AssertionError(f"{name!r} is not reached with the Tab key")


def tab_into_menu(page: Page) -> None:
    """On a phone the top bar's links and account are behind its Menu button: Tab to it and
    open it with Enter (the next Tab reaches the first link). Wider, they are in the bar."""
    if page.locator("header .menu > summary").is_visible():
        tab_to(page, "Menu")
        page.keyboard.press("Enter")


def tab_to_field(page: Page, label: str, limit: int = 60) -> None:
    """Press Tab until the form field labelled `label` has the focus."""
    field = page.get_by_label(label, exact=True)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if field.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"the field {label!r} is not reached with the Tab key")


def sign_in(page: Page, server: str, email: str, password: str) -> None:
    """Sign in through the real form and wait for Home, the page it leads to."""
    page.goto(server + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation(url=server + "/"):
        page.get_by_role("button", name="Sign in").click()


def confirm_with_keyboard(page: Page, says: str) -> None:
    """The money dialog is open: it says `says`, fits, axe-core finds nothing serious; Enter
    on its button confirms."""
    dialog = page.locator("dialog#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#confirm-sentence")).to_have_text(says)
    assert sideways(page) == 0
    assert axe_findings(page) == []
    if page.evaluate("document.activeElement.id") != "confirm-button":
        tab_to(page, dialog.locator("#confirm-button").inner_text().strip())
    page.keyboard.press("Enter")


def type_into(page: Page, label: str, text: str) -> None:
    """Tab to the field labelled `label` and type `text` over what it holds."""
    tab_to_field(page, label)
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
