"""A person at the dashboard: CSRF tokens, forms, sign-in, and a buyer's pay link."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

# The password of every user the make_user fixture creates.
PASSWORD = "correct horse battery"
# werkzeug's hash method with one round, for users of tests that are not about signing in.
QUICK_HASH = "pbkdf2:sha256:1"
# The header htmx sends with each of its requests.
HTMX = {"HX-Request": "true"}
# Markup, bidi override, zero-width and terminal escape: text that must show as text.
HOSTILE = "<script>alert(\"x\")</script><img src=x onerror='alert(1)'>\u202egnp.exe\u200b\x1b[31m"


def full_width(ascii_text: str) -> str:
    """The same letters in their full-width forms (U+FF01-U+FF5E): "X" is U+FF38, a
    look-alike of the letter it is made from."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in ascii_text)


_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_token_in(page: str) -> str:
    """The CSRF token an HTML page of ours carries, as a browser's script would read it."""
    match = _CSRF_META.search(page)
    assert match, "every HTML page carries the CSRF token"
    return match.group(1)


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    return csrf_token_in(client.get("/this-page-does-not-exist").get_data(as_text=True))


def post_form(client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client)}, **kw)


_CONFIRM_FORM = re.compile(
    r'<form method="post" action="([^"]+)" id="confirm-form"(.*?)</form>', re.S
)
_HIDDEN = re.compile(r"<input\b[^>]*>")
_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def confirmation_in(page: str) -> tuple[str, dict[str, str]] | None:
    """The confirmation form a money action's review shows (dialog or page): where it
    posts and its hidden fields; None when the page asks for no confirmation."""
    match = _CONFIRM_FORM.search(page)
    if match is None:
        return None
    fields = {}
    for tag in _HIDDEN.findall(match.group(2)):
        attributes = dict(_ATTRIBUTE.findall(tag))
        if attributes.get("type") == "hidden":
            fields[attributes["name"]] = html.unescape(attributes.get("value", ""))
    return html.unescape(match.group(1)), fields


def move_money(
    client: FlaskClient, path: str, data: dict[str, Any] | None = None, **kw: Any
) -> Any:
    """Staff ask for a capture, void or refund (`path` is its form's action) and confirm
    what the dashboard says it will do, as the confirmation's button does. A request
    refused before any confirmation is answered as it was."""
    asked = post_form(
        client, path, data, **{k: v for k, v in kw.items() if k != "follow_redirects"}
    )
    confirmation = confirmation_in(asked.get_data(as_text=True))
    if confirmation is None:
        return asked
    action, fields = confirmation
    return client.post(action, data=fields, **kw)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return post_form(client, "/login", {"email": email, "password": password})


def pay_link(app: Flask, order_id: int) -> str:
    from dashboard.services.pay_links import pay_links

    with app.test_request_context():
        return f"/pay/{pay_links().token_for(order_id)}"


def pay_with_test_card(app: Flask, order_id: int, card: str = "success") -> Any:
    """A buyer opens the pay link and pays with a sandbox test card; the answer is the page
    the form's 303 leads to, as a browser shows it."""
    buyer = app.test_client()
    path = pay_link(app, order_id) + "/sandbox-card"
    return post_form(buyer, path, {"card": card}, follow_redirects=True)
