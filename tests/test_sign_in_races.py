"""Sign-in attempts arriving together: the throttle's limit holds under concurrency, on
SQLite and on PostgreSQL.

Everything is real: a served app (a thread per request, each with its own database
connection), and thirty browsers, each with its own session and CSRF token, posting at the
same instant. What they can see is what counts: a checked password is answered "do not
match" (200), a refused attempt 429.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

from dashboard.models import Role
from dashboard.services.sign_in import IP_FAILURE_FACTOR
from tests.support.app import serve
from tests.support.concurrency import Browser, all_at_once
from tests.support.web import PASSWORD

PARALLEL = 30
NO_MATCH = "That email and password do not match an active account."


def attempt(browser: Browser, email: str, password: str):
    return browser.post("/login", {"email": email, "password": password})


def at_once(base: str, emails: list[str], password: str):
    browsers = [Browser(base) for _ in emails]
    try:
        for browser in browsers:
            browser.get("/login")
        return all_at_once(
            [
                partial(attempt, b, email, password)
                for b, email in zip(browsers, emails, strict=True)
            ]
        )
    finally:
        for browser in browsers:
            browser.close()


def outcome(answers) -> Counter:
    for answer in answers:
        assert answer.status_code in (200, 429), answer.text
        if answer.status_code == 200:
            assert NO_MATCH in answer.text
        else:
            assert "Too many failed sign-ins" in answer.text
            assert int(answer.headers["Retry-After"]) > 0
    return Counter(answer.status_code for answer in answers)


def test_thirty_wrong_passwords_for_one_email_at_once_check_only_the_limit(app, make_user):
    make_user(Role.STAFF)
    limit = app.config["LOGIN_MAX_FAILURES"]
    with serve(app) as base:
        answers = at_once(base, ["staff@shop.example"] * PARALLEL, "not the password")
        assert outcome(answers) == {200: limit, 429: PARALLEL - limit}
        # The limit is reached: the right password is refused too, for the window.
        late = Browser(base)
        assert late.sign_in("staff@shop.example", PASSWORD).status_code == 429
        late.close()


def test_thirty_guesses_from_one_address_at_once_check_only_its_limit(app):
    """Thirty unknown emails from one address (all of these come from 127.0.0.1)."""
    limit = app.config["LOGIN_MAX_FAILURES"] * IP_FAILURE_FACTOR
    with serve(app) as base:
        answers = at_once(base, [f"guess{n}@shop.example" for n in range(PARALLEL)], "guess")
    assert outcome(answers) == {200: limit, 429: PARALLEL - limit}
