"""Codes arriving together: the throttle's limit holds for codes as for passwords, and one
code signs in once, on SQLite and on PostgreSQL.

As in tests/test_sign_in_races.py: a served app (a thread per request, each with its own
database connection) and browsers with their own cookies and CSRF tokens, each past the
password and waiting for its code, all posting at the same instant.
"""

from __future__ import annotations

from collections import Counter
from functools import partial

from dashboard.models import Role, SignInSession
from tests.support.app import serve
from tests.support.concurrency import Browser, all_at_once
from tests.support.database import count
from tests.support.two_factor import code_at, fresh_step, wrong_code

PARALLEL = 30
WRONG = "That code is not right. Type the 6 digits your app shows now."
USED = "That code has been used already: wait for the next one in your app."


def waiting_for_codes(base: str, email: str, how_many: int) -> list[Browser]:
    """Browsers past the password (one after another: a right password gives its place
    back), each on its code page."""
    browsers = []
    for _ in range(how_many):
        browser = Browser(base)
        answer = browser.sign_in(email)
        assert answer.status_code == 303, answer.text
        browser.get("/login/code")
        browsers.append(browser)
    return browsers


def post_codes(browsers: list[Browser], code: str):
    try:
        return all_at_once([partial(b.post, "/login/code", {"code": code}) for b in browsers])
    finally:
        for browser in browsers:
            browser.close()


def test_thirty_wrong_codes_at_once_check_only_the_limit(app, enrolled):
    user = enrolled(Role.STAFF)
    limit = app.config["LOGIN_MAX_FAILURES"]
    with serve(app) as base:
        browsers = waiting_for_codes(base, user.email, PARALLEL)
        answers = post_codes(browsers, wrong_code(user.secret, fresh_step()))
        for answer in answers:
            assert answer.status_code in (200, 429), answer.text
            if answer.status_code == 200:
                assert WRONG in answer.text
            else:
                assert "Too many failed sign-ins" in answer.text
                assert int(answer.headers["Retry-After"]) > 0
        assert Counter(answer.status_code for answer in answers) == {
            200: limit,
            429: PARALLEL - limit,
        }
        # The limit is reached: the right code is refused too, and so is the password.
        late = Browser(base)
        assert late.sign_in(user.email).status_code == 429
        late.close()
    assert count(app, SignInSession) == 0


def test_one_right_code_sent_by_five_browsers_at_once_signs_in_one(app, enrolled):
    user = enrolled(Role.STAFF)
    with serve(app) as base:
        now = fresh_step()
        browsers = waiting_for_codes(base, user.email, 5)
        answers = post_codes(browsers, code_at(user.secret, now))
    assert sorted(answer.status_code for answer in answers) == [200, 200, 200, 200, 302]
    assert all(USED in answer.text for answer in answers if answer.status_code == 200)
    assert count(app, SignInSession) == 1
