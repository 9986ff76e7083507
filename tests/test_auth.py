"""Signing in: passwords, throttling, cookies, safe redirects, signing out."""

import pytest
from sqlalchemy import func, select

from dashboard import create_app
from dashboard.extensions import db
from dashboard.models import LoginAttempt, Role
from dashboard.services import users
from dashboard.services.sign_in import IP_FAILURE_FACTOR
from tests.support.app import base_config
from tests.support.hashing import password_checks
from tests.support.web import PASSWORD, csrf_token, login, post_form


def test_sign_in_and_out(app, make_user):
    make_user(Role.STAFF)
    client = app.test_client()
    assert client.get("/orders").status_code == 302
    response = login(client, "STAFF@shop.example")  # emails are matched case-insensitively
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/orders").status_code == 200
    assert post_form(client, "/logout").status_code == 302
    assert client.get("/orders").status_code == 302


def test_pages_opened_signed_out_say_sign_in_once(app):
    """Each private page opened while signed out asks to sign in; the sign-in page then
    says so once, however many there were, and a client that never follows the redirects
    does not grow its session cookie with every page."""
    client = app.test_client()
    for path in ["/orders", "/events", "/customers", "/orders", "/disputes"]:
        assert client.get(path).status_code == 302
    cookie = client.get_cookie("session")
    assert cookie is not None
    for _ in range(50):
        client.get("/orders")
    assert len(client.get_cookie("session").value) == len(cookie.value)
    page = client.get("/login").get_data(as_text=True)
    assert page.count("Sign in to continue.") == 1
    assert "Sign in to continue." not in client.get("/login").get_data(as_text=True)


def test_wrong_password_says_so_and_is_recorded(app, make_user):
    make_user(Role.STAFF)
    client = app.test_client()
    response = login(client, "staff@shop.example", "wrong password!")
    assert "That email and password do not match an active account." in response.get_data(
        as_text=True
    )
    assert client.get("/orders").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LoginAttempt)) == 1


def test_password_is_stored_hashed(app, make_user):
    user = make_user(Role.STAFF)
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_deactivated_user_cannot_sign_in_and_is_signed_out(app, make_user, signed_in):
    client = signed_in(Role.SUPPORT)
    with app.app_context():
        users.set_active(users.find_by_email("support@shop.example"), False)
        db.session.commit()
    assert client.get("/orders").status_code == 302  # the open session no longer works
    assert login(app.test_client(), "support@shop.example").status_code == 200


def test_sign_in_is_throttled_after_repeated_failures(app, make_user):
    make_user(Role.STAFF)
    client = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, "staff@shop.example", "not the password").status_code == 200
    # Even the right password is refused while throttled: guessing gains nothing.
    response = login(client, "staff@shop.example")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.get_data(as_text=True)
    # Until the window that began with the first failure has passed.
    assert 0 < int(response.headers["Retry-After"]) <= app.config["LOGIN_FAILURE_WINDOW"]
    assert "Wait 15 minutes, then try again." in response.get_data(as_text=True)
    assert client.get("/orders").status_code == 302
    # Another account from elsewhere is unaffected.
    make_user(Role.SUPPORT)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.0.0.9"
    assert login(other, "support@shop.example").status_code == 302


def test_throttle_window_passes(app, make_user):
    app.config["LOGIN_FAILURE_WINDOW"] = 0
    make_user(Role.STAFF)
    client = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1):
        login(client, "staff@shop.example", "not the password")
    assert login(client, "staff@shop.example").status_code == 302


def test_one_address_guessing_many_accounts_is_throttled(app):
    client = app.test_client()
    limit = app.config["LOGIN_MAX_FAILURES"] * IP_FAILURE_FACTOR
    for n in range(limit):
        assert login(client, f"user{n}@shop.example", "guess").status_code == 200
    assert login(client, "someone-new@shop.example", "guess").status_code == 429


@pytest.mark.parametrize(
    ("target", "landing"),
    [
        ("/orders/new", "/orders/new"),
        ("https://evil.example/phish", "/"),
        ("//evil.example/phish", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_next_redirects_only_to_our_own_paths(app, make_user, target, landing):
    make_user(Role.STAFF)
    client = app.test_client()
    response = post_form(
        client,
        "/login",
        {"email": "staff@shop.example", "password": PASSWORD},
        query_string={"next": target},
    )
    assert response.headers["Location"] == landing


def test_session_cookie_is_httponly_and_lax(app, make_user):
    make_user(Role.STAFF)
    response = login(app.test_client(), "staff@shop.example")
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_over_https(database_url, tmp_path, make_user):
    app = create_app(
        {**base_config(database_url), "PUBLIC_BASE_URL": "https://pay.shop.example"},
        instance_path=str(tmp_path),
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_missing_csrf_token_is_a_400_and_changes_nothing(app, make_user):
    make_user(Role.STAFF)
    client = app.test_client()
    response = client.post("/login", data={"email": "staff@shop.example", "password": PASSWORD})
    assert response.status_code == 400
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert client.get("/orders").status_code == 302


def test_csrf_token_from_another_session_is_refused(app, make_user):
    make_user(Role.STAFF)
    token = csrf_token(app.test_client())
    response = app.test_client().post(
        "/login", data={"email": "staff@shop.example", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 400


def test_logout_needs_a_post_with_csrf(signed_in):
    client = signed_in(Role.STAFF)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/orders").status_code == 200


def test_unknown_and_deactivated_emails_do_the_work_of_a_wrong_password(app, make_user):
    """An answer that came quicker would tell which emails have an account. Nothing is
    timed: each case is shown to run one verification of a hash made like every user's
    (the same method and cost), deriving its key once (tests/support/hashing.py)."""
    staff = make_user(Role.STAFF)
    make_user(Role.SUPPORT)
    with app.app_context():
        users.set_active(users.find_by_email("support@shop.example"), False)
        db.session.commit()
    method = staff.password_hash.split("$", 1)[0]
    cases = {
        "wrong password": ("staff@shop.example", "not the password"),
        "unknown email": ("nobody@shop.example", PASSWORD),
        "deactivated user, right password": ("support@shop.example", PASSWORD),
    }
    checks = {}
    for case, (email, password) in cases.items():
        client = app.test_client()
        token = csrf_token(client)
        with password_checks() as seen:
            response = client.post(
                "/login", data={"email": email, "password": password, "csrf_token": token}
            )
        assert "do not match an active account" in response.get_data(as_text=True), case
        checks[case] = seen
    assert checks == {case: [(method, 1)] for case in cases}


def test_the_csrf_token_changes_at_sign_in_and_the_one_before_is_refused(app, make_user):
    """A token read (or planted) before sign-in is worth nothing after it."""
    make_user(Role.STAFF)
    client = app.test_client()
    before = csrf_token(client)
    signed = client.post(
        "/login", data={"email": "staff@shop.example", "password": PASSWORD, "csrf_token": before}
    )
    assert signed.status_code == 302
    after = csrf_token(client)
    assert after != before
    refused = client.post("/logout", data={"csrf_token": before})
    assert refused.status_code == 400
    assert "Nothing was changed" in refused.get_data(as_text=True)
    assert client.get("/orders").status_code == 200  # still signed in
    assert post_form(client, "/logout").status_code == 302  # the new token works
    assert client.get("/orders").status_code == 302
