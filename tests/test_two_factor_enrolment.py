"""Setting up two-step sign-in from the account page: a QR code drawn on our own page and
the key as text, kept only once a code from it is typed; ten recovery codes shown once and
stored hashed; new codes replace the old; turning it off asks for the password or a code."""

import logging
import re
import time

import pytest
import segno
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import RecoveryCode, Role, TwoFactorCredential
from dashboard.services.two_factor import encryption
from dashboard.services.two_factor.encryption import Purpose
from tests.support.database import count
from tests.support.two_factor import (
    code_at,
    confirm_setup,
    enrolment_on,
    fresh_step,
    key_on,
    recovery_codes_on,
    sign_in_with_code,
    step_now,
    wrong_code,
)
from tests.support.web import PASSWORD, csrf_token_in, login, post_form


@pytest.fixture
def staff(app, make_user):
    make_user(Role.STAFF, quick_hash=True)
    client = app.test_client()
    assert login(client, "staff@shop.example").status_code == 302
    return client


def test_the_setup_page_draws_the_qr_code_itself_and_shows_the_key(app, staff):
    account = staff.get("/account").get_data(as_text=True)
    assert "Two-step sign-in" in account and 'href="/account/two-step"' in account
    response = staff.get("/account/two-step")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    svg = re.search(r'<div class="qr-box"><svg role="img"[^>]*>.*?</svg>', page, re.S)
    assert svg, "the QR code is inline SVG"
    assert "<title>QR code: Merchant dashboard</title>" in svg.group(0)
    assert "style=" not in svg.group(0)  # the CSP refuses inline styles
    # No image from elsewhere: nothing but our own static files is loaded.
    assert "<img" not in page
    assert re.findall(r'src="([^"]+)"', page) == [
        "/static/vendor/htmx-2.0.11.min.js",
        "/static/app.js",
    ]
    secret = key_on(page)
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    # Nothing is kept until a code is typed; the form's copy of the key is sealed.
    assert count(app, TwoFactorCredential) == 0
    assert secret not in enrolment_on(page)


def test_the_qr_code_is_the_otpauth_uri_of_the_key(app, staff):
    """The SVG drawn is exactly segno's drawing of the otpauth:// URI, issuer and account
    named, for the key shown as text."""
    page = staff.get("/account/two-step").get_data(as_text=True)
    secret = key_on(page)
    uri = (
        f"otpauth://totp/Merchant%20dashboard:staff%40shop.example?secret={secret}"
        "&issuer=Merchant%20dashboard"
    )
    drawn = segno.make(uri, error="m").svg_inline(
        scale=1, border=4, omitsize=True, svgclass="qr", lineclass=None
    )
    path = re.search(r'<path[^>]*d="([^"]+)"', drawn).group(1)
    assert f'd="{path}"' in page


def test_a_code_turns_it_on_and_the_recovery_codes_are_shown_once_and_stored_hashed(app, staff):
    step = fresh_step()
    page = staff.get("/account/two-step").get_data(as_text=True)
    secret = key_on(page)
    shown = confirm_setup(staff, "/account/two-step", page, code_at(secret, step))
    body = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    assert "This is the only time they are shown." in body
    assert "Each code works once." in body
    codes = recovery_codes_on(body)
    assert len(codes) == len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", code) for code in codes)
    with app.app_context():
        credential = db.session.scalar(select(TwoFactorCredential))
        assert secret not in credential.secret_ciphertext  # encrypted at rest
        hashes = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(hashes) == 10
    for code in codes:
        assert not any(code.replace("-", "") in stored or code in stored for stored in hashes)
    assert all(stored.startswith("scrypt:") for stored in hashes)
    account = staff.get("/account").get_data(as_text=True)
    assert "10 of 10 recovery codes left" in account
    assert not any(code in account for code in codes)  # never shown again
    # The page that set it up does not set it up twice.
    again = staff.get("/account/two-step")
    assert again.status_code == 303 and again.headers["Location"] == "/account"


def test_a_wrong_code_keeps_nothing_and_shows_the_same_key_again(app, staff):
    step = fresh_step()
    page = staff.get("/account/two-step").get_data(as_text=True)
    secret = key_on(page)
    for typed, message in (
        (wrong_code(secret, step), "That is not the code your app shows for this key."),
        ("12345", "Type the 6-digit code your app shows now."),
        ("abcde-fghjk", "Type the 6-digit code your app shows now."),
    ):
        refused = confirm_setup(staff, "/account/two-step", page, typed)
        assert refused.status_code == 422
        assert message in refused.get_data(as_text=True)
        assert key_on(refused.get_data(as_text=True)) == secret
    assert count(app, TwoFactorCredential) == 0
    assert count(app, RecoveryCode) == 0


def test_a_tampered_or_foreign_setup_form_is_refused(app, staff, make_user):
    step = fresh_step()
    page = staff.get("/account/two-step").get_data(as_text=True)
    secret, token = key_on(page), enrolment_on(page)
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    refused = staff.post(
        "/account/two-step",
        data={
            "csrf_token": csrf_token_in(page),
            "enrolment": tampered,
            "code": code_at(secret, step),
        },
    )
    assert refused.status_code == 422
    assert "This set-up form was not made for you here: start again." in refused.get_data(
        as_text=True
    )
    # Another user's set-up cannot be finished by this one, even with its right code.
    make_user(Role.SUPPORT, quick_hash=True)
    other = app.test_client()
    login(other, "support@shop.example")
    other_page = other.get("/account/two-step").get_data(as_text=True)
    stolen = staff.post(
        "/account/two-step",
        data={
            "csrf_token": csrf_token_in(page),
            "enrolment": enrolment_on(other_page),
            "code": code_at(key_on(other_page), step),
        },
    )
    assert stolen.status_code == 422
    assert count(app, TwoFactorCredential) == 0


def test_a_setup_page_older_than_15_minutes_is_refused(app, staff):
    step = fresh_step()
    page = staff.get("/account/two-step").get_data(as_text=True)
    secret = key_on(page)
    # The same form, as if its page had been opened 15 minutes and 5 seconds ago.
    with app.app_context():
        plain = encryption.unseal(Purpose.ENROLMENT, enrolment_on(page))
        old = encryption.seal(Purpose.ENROLMENT, plain, at=int(time.time()) - 15 * 60 - 5)
    refused = staff.post(
        "/account/two-step",
        data={"csrf_token": csrf_token_in(page), "enrolment": old, "code": code_at(secret, step)},
    )
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "This set-up page is more than 15 minutes old" in body
    assert key_on(body) != secret  # a new key to scan
    assert count(app, TwoFactorCredential) == 0


def test_new_recovery_codes_replace_the_old_and_need_the_password_or_a_code(app, enrolled):
    user = enrolled(Role.STAFF)
    client = app.test_client()
    signed = sign_in_with_code(client, user.email, code_at(user.secret, user.step + 1))
    assert signed.status_code == 302
    wrong = post_form(client, "/account/two-step/recovery-codes", {"secret": "not it at all"})
    assert wrong.status_code == 200
    assert "That is neither your password nor a current code from your app" in wrong.get_data(
        as_text=True
    )
    made = post_form(client, "/account/two-step/recovery-codes", {"secret": PASSWORD})
    assert made.status_code == 200
    new_codes = recovery_codes_on(made.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(user.recovery_codes)
    post_form(client, "/logout")
    # An old code no longer signs in; a new one does.
    old = sign_in_with_code(app.test_client(), user.email, user.recovery_codes[0])
    assert "That recovery code is not one of yours, or it was used already" in old.get_data(
        as_text=True
    )
    assert sign_in_with_code(app.test_client(), user.email, new_codes[0]).status_code == 302


def test_turning_it_off_needs_the_password_or_a_code_and_the_confirmation(app, enrolled):
    user = enrolled(Role.SUPPORT)
    client = app.test_client()
    assert sign_in_with_code(client, user.email, user.recovery_codes[0]).status_code == 302
    unconfirmed = post_form(client, "/account/two-step/off", {"secret": PASSWORD})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm." in unconfirmed.get_data(as_text=True)
    wrong = post_form(client, "/account/two-step/off", {"secret": "wrong!", "confirm": "y"})
    assert "That is neither your password nor a current code" in wrong.get_data(as_text=True)
    assert count(app, TwoFactorCredential) == 1
    # A current code from the app does it too.
    off = post_form(
        client,
        "/account/two-step/off",
        {"secret": code_at(user.secret, step_now()), "confirm": "y"},
    )
    assert off.status_code == 303
    assert "Two-step sign-in is off" in client.get("/account").get_data(as_text=True)
    assert count(app, TwoFactorCredential) == 0 and count(app, RecoveryCode) == 0
    post_form(client, "/logout")
    assert login(app.test_client(), user.email).status_code == 302  # the password alone


def test_wrong_passwords_to_change_it_are_throttled_like_sign_ins(app, enrolled):
    user = enrolled(Role.SUPPORT)
    client = app.test_client()
    assert sign_in_with_code(client, user.email, user.recovery_codes[0]).status_code == 302
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        answer = post_form(client, "/account/two-step/off", {"secret": "guess", "confirm": "y"})
        assert answer.status_code == 200
    throttled = post_form(client, "/account/two-step/off", {"secret": PASSWORD, "confirm": "y"})
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) > 0
    assert "Too many failed attempts. Wait 15 minutes, then try again." in throttled.get_data(
        as_text=True
    )
    assert count(app, TwoFactorCredential) == 1


def test_the_key_and_the_recovery_codes_are_never_logged(app, enrolled, caplog, capfd):
    with caplog.at_level(logging.DEBUG):
        user = enrolled(Role.STAFF)
        client = app.test_client()
        sign_in_with_code(client, user.email, user.recovery_codes[0])
        post_form(client, "/account/two-step/recovery-codes", {"secret": PASSWORD})
    out, err = capfd.readouterr()
    logged = "\n".join([caplog.text, out, err] + [repr(r.__dict__) for r in caplog.records])
    assert "two-step sign-in turned on" in logged  # the events are logged, their secrets not
    assert user.secret not in logged
    for code in user.recovery_codes:
        assert code not in logged and code.replace("-", "") not in logged
