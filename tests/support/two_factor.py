"""Two-step sign-in as a person does it: the key read off the set-up page, the codes an
authenticator app would show (pyotp, the library, computing them), the recovery codes read
off the page that shows them once, and signing in with a code."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from typing import Any

import pyotp
from flask.testing import FlaskClient

from tests.support.web import PASSWORD, csrf_token_in, post_form

STEP_SECONDS = 30
_KEY = re.compile(r'<code id="two-step-key">([A-Z2-7 ]+)</code>')
_ENROLMENT = re.compile(r'name="enrolment" type="hidden" value="([^"]+)"')
_RECOVERY = re.compile(r'<ol class="recovery-codes"[^>]*>(.*?)</ol>', re.S)


@dataclass(frozen=True)
class Enrolled:
    """A user whose two-step sign-in was set up through the account page: its key, its
    recovery codes, and the time step whose code confirmed it (already used)."""

    email: str
    secret: str
    recovery_codes: list[str]
    step: int


def step_now() -> int:
    return int(time.time()) // STEP_SECONDS


def fresh_step(margin: int = 10) -> int:
    """The current time step, once at least `margin` seconds of it are left (waiting for
    the next one otherwise): a test can then name the steps before and after it and know
    the server's clock is still in it. A wait, not a timed assertion."""
    left = STEP_SECONDS - time.time() % STEP_SECONDS
    if left < margin:
        time.sleep(left + 0.05)
    return step_now()


def code_at(secret: str, step: int) -> str:
    """The code an authenticator app shows for `secret` during time step `step`."""
    return pyotp.TOTP(secret).generate_otp(step)


def wrong_code(secret: str, around: int) -> str:
    """Six digits that are the code of no step within two of `around`."""
    near = {code_at(secret, step) for step in range(around - 2, around + 3)}
    return next(code for code in (f"{n:06d}" for n in range(1000)) if code not in near)


def key_on(page: str) -> str:
    match = _KEY.search(page)
    assert match, "the set-up page shows the key as text"
    return match.group(1).replace(" ", "")


def enrolment_on(page: str) -> str:
    match = _ENROLMENT.search(page)
    assert match, "the set-up form carries its sealed key"
    return html.unescape(match.group(1))


def recovery_codes_on(page: str) -> list[str]:
    match = _RECOVERY.search(page)
    assert match, "the recovery codes are listed"
    return re.findall(r"<code>([a-z0-9-]+)</code>", match.group(1))


def confirm_setup(client: FlaskClient, path: str, page: str, code: str) -> Any:
    """Post the set-up form read from `page` with `code`."""
    return client.post(
        path,
        data={"csrf_token": csrf_token_in(page), "enrolment": enrolment_on(page), "code": code},
    )


def enrol(client: FlaskClient, email: str) -> Enrolled:
    """Set up two-step sign-in from the account page of a signed-in client, confirmed with
    the code of the step before now (accepted: the clock-drift allowance), so that the
    codes of now and of the next step are still unused."""
    step = fresh_step()
    page = client.get("/account/two-step").get_data(as_text=True)
    secret = key_on(page)
    shown = confirm_setup(client, "/account/two-step", page, code_at(secret, step - 1))
    assert shown.status_code == 200, shown.get_data(as_text=True)
    codes = recovery_codes_on(shown.get_data(as_text=True))
    assert len(codes) == 10
    return Enrolled(email=email, secret=secret, recovery_codes=codes, step=step - 1)


def sign_in_with_code(
    client: FlaskClient, email: str, code: str, *, password: str = PASSWORD, **form: str
) -> Any:
    """The password, then the code: the answer to the code step."""
    first = post_form(client, "/login", {"email": email, "password": password, **form})
    assert first.status_code == 303, first.get_data(as_text=True)
    assert first.headers["Location"].startswith("/login/code")
    return post_form(client, first.headers["Location"], {"code": code})
