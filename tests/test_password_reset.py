"""Password reset by email: the same answer for every address, a signed link that works
once and not for long, every session ended, throttled like signing in."""

from __future__ import annotations

import re
import time

from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import OutboxMessage, Role
from dashboard.services import users
from dashboard.services.pay_links import redact_pay_links
from dashboard.transactions import unit_of_work
from tests.support.database import count
from tests.support.two_factor import code_at, fresh_step
from tests.support.web import csrf_token_in, login, post_form

NEW_PASSWORD = "a brand new passphrase"
SENT = "If an account uses that address, we&#39;ve sent a link to it."
LINK = re.compile(r"http://dashboard\.test(/login/reset/[\w.\-]+)")


def ask(app, email, client=None):
    return post_form(client or app.test_client(), "/login/forgot", {"email": email})


def links_sent(app):
    """The reset links in the queued emails, oldest first."""
    with app.app_context():
        bodies = db.session.scalars(select(OutboxMessage.body).order_by(OutboxMessage.id)).all()
    return [LINK.search(body).group(1) for body in bodies]


def set_new(app, path, password=NEW_PASSWORD, confirm=None, client=None):
    data = {"password": password, "confirm": confirm or password}
    return post_form(client or app.test_client(), path, data)


def test_the_answer_is_the_same_for_every_address_and_only_an_account_gets_an_email(
    app, make_user, mail_server
):
    user = make_user(Role.STAFF, quick_hash=True)
    make_user(Role.SUPPORT, email="gone@shop.example", quick_hash=True)
    with app.app_context(), unit_of_work():
        users.set_active(users.find_by_email("gone@shop.example"), False)

    login_page = app.test_client().get("/login").get_data(as_text=True)
    assert 'href="/login/forgot"' in login_page and "Forgot your password?" in login_page
    answers = [
        ask(app, email) for email in (user.email, "nobody@shop.example", "gone@shop.example")
    ]
    pages = [answer.get_data(as_text=True) for answer in answers]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert all(SENT in page for page in pages)
    strip = [page.replace(csrf_token_in(page), "") for page in pages]
    assert strip[0] == strip[1] == strip[2]  # nothing but the CSRF token differs

    with app.app_context():
        (message,) = db.session.scalars(select(OutboxMessage)).all()
        assert message.recipient == user.email and message.kind == "password_reset"
    assert mail_server.received == []  # queued in the request, not sent from it
    assert app.test_cli_runner().invoke(args=["outbox", "relay", "--once"]).exit_code == 0
    (got,) = mail_server.received
    body = got.message.get_payload(decode=True).decode()
    assert got.recipients == [user.email]
    assert "within 30 minutes" in body and LINK.search(body).group(1) == links_sent(app)[0]


def test_a_link_works_once_and_ends_every_session(app, make_user):
    user = make_user(Role.STAFF, quick_hash=True)
    signed_in = app.test_client()
    assert login(signed_in, user.email).status_code == 302
    ask(app, user.email)
    (path,) = links_sent(app)

    page = app.test_client().get(path)
    assert page.status_code == 200 and "Choose a new password" in page.get_data(as_text=True)
    done = set_new(app, path)
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert signed_in.get("/orders").status_code == 302  # that browser was signed out
    assert login(app.test_client(), user.email).status_code == 200  # the old password: no
    assert login(app.test_client(), user.email, NEW_PASSWORD).status_code == 302

    again = app.test_client().get(path)
    assert again.status_code == 404
    assert "does not work any more" in again.get_data(as_text=True)
    assert set_new(app, path, "yet another passphrase").status_code == 404
    assert login(app.test_client(), user.email, NEW_PASSWORD).status_code == 302


def test_an_expired_link_and_one_made_before_a_password_change_do_not_work(app, make_user):
    user = make_user(Role.STAFF, quick_hash=True)
    ask(app, user.email)
    ask(app, user.email)  # asked twice within a second: the same link, one email
    (first,) = links_sent(app)
    with app.app_context(), unit_of_work():
        users.set_password(db.session.merge(user), "changed by an admin meanwhile")
    assert app.test_client().get(first).status_code == 404
    assert set_new(app, first).status_code == 404

    ask(app, user.email)
    second = links_sent(app)[1]
    app.config["PASSWORD_RESET_MAX_AGE"] = 0
    time.sleep(1.1)
    assert app.test_client().get(second).status_code == 404
    assert set_new(app, second).status_code == 404
    assert login(app.test_client(), user.email, "changed by an admin meanwhile").status_code == 302


def test_a_weak_or_mismatched_password_is_a_422_and_the_link_still_works(app, make_user):
    user = make_user(Role.STAFF, quick_hash=True)
    ask(app, user.email)
    (path,) = links_sent(app)
    short = set_new(app, path, "short")
    assert short.status_code == 422
    assert "at least 12 characters" in short.get_data(as_text=True)
    differ = set_new(app, path, NEW_PASSWORD, "another passphrase!")
    assert differ.status_code == 422
    assert "The two passwords are not the same." in differ.get_data(as_text=True)
    assert set_new(app, path).status_code == 303


def test_asking_is_throttled_apart_from_signing_in(app, make_user):
    user = make_user(Role.STAFF, quick_hash=True)
    client = app.test_client()
    answers = [ask(app, user.email, client) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert "Too many tries" in answers[5].get_data(as_text=True)
    assert int(answers[5].headers["Retry-After"]) > 0
    # One email per distinct link: asks within the same second make the same one.
    assert 1 <= count(app, OutboxMessage) <= 5
    assert login(app.test_client(), user.email).status_code == 302  # sign-in unaffected


def test_broken_links_count_like_failed_sign_ins(app, make_user):
    make_user(Role.STAFF, quick_hash=True)
    client = app.test_client()
    tampered = [set_new(app, f"/login/reset/forged.{i}", client=client) for i in range(6)]
    assert [a.status_code for a in tampered] == [404] * 5 + [429]
    assert "Retry-After" in tampered[5].headers


def test_hostile_addresses_get_a_422_and_queue_nothing(app, make_user):
    make_user(Role.STAFF, quick_hash=True)
    for email in ("staff@shop.example\r\nBcc: x@evil.example", "a\x00b@shop.example", "x" * 300):
        assert ask(app, email).status_code == 422
    assert count(app, OutboxMessage) == 0


def test_a_reset_links_token_never_reaches_the_logs():
    path = "/login/reset/eyJ1c2VyIjoxfQ.ZzZz.abc-def_1"
    assert redact_pay_links(f"GET {path} HTTP/1.1") == "GET /login/reset/<redacted> HTTP/1.1"


def test_a_sign_in_waiting_for_its_code_with_the_old_password_ends(app, enrolled):
    """Someone who knew the old password and reached the code step cannot finish there."""
    user = enrolled(Role.STAFF)
    thief = app.test_client()
    waiting = login(thief, user.email)
    assert waiting.status_code == 303 and waiting.headers["Location"].startswith("/login/code")
    ask(app, user.email)
    (path,) = links_sent(app)
    assert set_new(app, path).status_code == 303
    code = code_at(user.secret, fresh_step())
    finished = post_form(thief, "/login/code", {"code": code})
    assert finished.status_code == 303 and finished.headers["Location"].startswith("/login")
    assert thief.get("/orders").status_code == 302  # not signed in
