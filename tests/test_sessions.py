"""Sessions end on the server: signing out ends that session for every copy of its cookie;
a remember-me token is new at each sign-in, lasts REMEMBER_ME_MAX_AGE and dies at sign-out;
a new password, a new role or a deactivation ends all of that user's sessions; and the
account page signs out everywhere."""

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from flask_login.utils import encode_cookie
from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models import Role, SignInSession, User
from tests.support.web import PASSWORD, login, post_form

REMEMBER = "remember_token"


def copy_of(app, client, *, only=None):
    """Another browser holding copies of the client's cookies (or of the ones named)."""
    other = app.test_client()
    for name in only or ("session", REMEMBER):
        cookie = client.get_cookie(name)
        if cookie is not None:
            other.set_cookie(name, cookie.value)
    return other


def signed_in_as(app, email, *, remember=False, password=PASSWORD):
    client = app.test_client()
    data = {"email": email, "password": password, **({"remember": "y"} if remember else {})}
    assert post_form(client, "/login", data).status_code == 302
    return client


def is_signed_in(client) -> bool:
    return client.get("/orders").status_code == 200


def test_sign_out_ends_the_session_for_every_copy_of_its_cookie(app, make_user):
    make_user(Role.STAFF)
    browser = signed_in_as(app, "staff@shop.example")
    copy = copy_of(app, browser)
    assert is_signed_in(copy)
    assert post_form(browser, "/logout").status_code == 302
    assert not is_signed_in(browser)
    assert not is_signed_in(copy)
    # Another sign-in is a session of its own: signing out of one leaves the other.
    first, second = signed_in_as(app, "staff@shop.example"), signed_in_as(app, "staff@shop.example")
    post_form(first, "/logout")
    assert is_signed_in(second)


def test_the_remember_me_token_is_new_at_each_sign_in(app, make_user):
    make_user(Role.STAFF)
    first = signed_in_as(app, "staff@shop.example", remember=True).get_cookie(REMEMBER)
    second = signed_in_as(app, "staff@shop.example", remember=True).get_cookie(REMEMBER)
    assert first.value != second.value


def test_the_remember_me_cookie_lasts_the_setting_not_a_year(app, make_user):
    make_user(Role.STAFF)
    client = app.test_client()
    response = post_form(
        client, "/login", {"email": "staff@shop.example", "password": PASSWORD, "remember": "y"}
    )
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(REMEMBER)]
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    days = (expires - datetime.now(UTC)) / timedelta(days=1)
    assert app.config["REMEMBER_ME_MAX_AGE"] == 30 * 24 * 3600
    assert 29.9 < days <= 30
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_remember_me_brings_a_browser_back_until_sign_out(app, make_user):
    make_user(Role.STAFF)
    browser = signed_in_as(app, "staff@shop.example", remember=True)
    # The browser was closed: its session cookie is gone, the remember-me cookie stays.
    reopened = copy_of(app, browser, only=[REMEMBER])
    assert is_signed_in(reopened)
    assert is_signed_in(reopened)  # and stays so: not only for the first page
    post_form(browser, "/logout")
    assert browser.get_cookie(REMEMBER) is None
    assert not is_signed_in(reopened)
    assert not is_signed_in(copy_of(app, browser, only=[REMEMBER]))
    # A copy of the cookie taken before the sign-out is dead too.
    assert not is_signed_in(copy_of(app, reopened, only=[REMEMBER]))


def test_tokens_are_stored_hashed_and_sessions_expire(app, make_user):
    make_user(Role.STAFF)
    browser = signed_in_as(app, "staff@shop.example", remember=True)
    remember_cookie = browser.get_cookie(REMEMBER).value
    token = remember_cookie.split("|")[0]
    with app.app_context():
        (row,) = db.session.scalars(select(SignInSession)).all()
        stored = [str(getattr(row, column.key)) for column in SignInSession.__table__.columns]
        assert not any(token in value for value in stored)
        assert row.remember is True
        assert row.expires_at - row.created_at == timedelta(days=30)
        db.session.execute(
            update(SignInSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    assert not is_signed_in(browser)
    assert not is_signed_in(copy_of(app, browser, only=[REMEMBER]))


def test_a_session_without_remember_me_lasts_session_max_age(app, make_user):
    make_user(Role.STAFF)
    signed_in_as(app, "staff@shop.example")
    with app.app_context():
        (row,) = db.session.scalars(select(SignInSession)).all()
        assert row.remember is False
        assert row.expires_at - row.created_at == timedelta(seconds=app.config["SESSION_MAX_AGE"])
    assert app.config["SESSION_MAX_AGE"] == 12 * 3600


def test_a_new_role_ends_the_users_sessions_and_no_one_elses(app, make_user, signed_in):
    admin = signed_in(Role.ADMIN)
    staff_user = make_user(Role.STAFF)
    staff = signed_in_as(app, "staff@shop.example", remember=True)
    page = post_form(
        admin, f"/admin/users/{staff_user.id}/role", {"role": "support"}, follow_redirects=True
    )
    assert "staff@shop.example is now support." in page.get_data(as_text=True)
    assert not is_signed_in(staff)
    assert not is_signed_in(copy_of(app, staff, only=[REMEMBER]))
    assert is_signed_in(admin)
    assert "staff@shop.example · support" in (
        signed_in_as(app, "staff@shop.example").get("/orders").get_data(as_text=True)
    )


def test_deactivating_ends_the_sessions_and_reactivating_does_not_revive_them(
    app, make_user, signed_in
):
    admin = signed_in(Role.ADMIN)
    support_user = make_user(Role.SUPPORT)
    support = signed_in_as(app, "support@shop.example", remember=True)
    post_form(admin, f"/admin/users/{support_user.id}/deactivate")
    post_form(admin, f"/admin/users/{support_user.id}/reactivate")
    assert not is_signed_in(support)
    assert not is_signed_in(copy_of(app, support, only=[REMEMBER]))
    assert is_signed_in(signed_in_as(app, "support@shop.example"))


def test_the_cli_ends_sessions_when_it_changes_a_role_or_a_password(app, make_user):
    make_user(Role.STAFF)
    cli = app.test_cli_runner()
    before = signed_in_as(app, "staff@shop.example", remember=True)
    assert cli.invoke(args=["user", "set-role", "staff@shop.example", "support"]).exit_code == 0
    assert not is_signed_in(before)

    before = signed_in_as(app, "staff@shop.example", remember=True)
    new_password = "a brand new passphrase"
    result = cli.invoke(
        args=["user", "set-password", "staff@shop.example", "--password-stdin"],
        input=new_password + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "New password set for staff@shop.example; its sessions are ended." in result.output
    assert new_password not in result.output
    assert not is_signed_in(before)
    assert not is_signed_in(copy_of(app, before, only=[REMEMBER]))
    assert login(app.test_client(), "staff@shop.example").status_code == 200
    assert login(app.test_client(), "staff@shop.example", new_password).status_code == 302


def test_set_password_refuses_a_short_one_and_an_unknown_user(app, make_user):
    make_user(Role.STAFF)
    cli = app.test_cli_runner()
    before = signed_in_as(app, "staff@shop.example")
    short = cli.invoke(
        args=["user", "set-password", "staff@shop.example", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1
    assert "at least 12 characters" in short.output
    assert is_signed_in(before)
    ghost = cli.invoke(
        args=["user", "set-password", "ghost@shop.example", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert ghost.exit_code == 1
    assert "There is no user ghost@shop.example." in ghost.output


def test_the_account_page_lists_the_sessions_and_signs_out_everywhere(app, make_user):
    make_user(Role.SUPPORT)
    make_user(Role.STAFF)
    laptop = signed_in_as(app, "support@shop.example", remember=True)
    phone = signed_in_as(app, "support@shop.example")
    colleague = signed_in_as(app, "staff@shop.example")
    page = laptop.get("/account").get_data(as_text=True)
    assert "support@shop.example" in page
    assert "2 open sessions" in page
    assert page.count(">this browser<") == 1
    assert "Sign out everywhere" in page
    assert "every browser and device" in page  # the confirmation says what it does

    # A post without its token changes nothing.
    assert laptop.post("/account/sign-out-everywhere").status_code == 400
    assert is_signed_in(phone)

    answer = post_form(laptop, "/account/sign-out-everywhere")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/login"
    assert "You are signed out on every browser and device." in laptop.get("/login").get_data(
        as_text=True
    )
    assert not is_signed_in(laptop)
    assert not is_signed_in(phone)
    assert not is_signed_in(copy_of(app, laptop, only=[REMEMBER]))
    assert is_signed_in(colleague)
    with app.app_context():
        support = db.session.scalar(select(User).where(User.email == "support@shop.example"))
        assert (
            db.session.scalars(
                select(SignInSession).where(SignInSession.user_id == support.id)
            ).all()
            == []
        )


def test_every_role_reaches_its_account_page_from_the_top_bar(app, signed_in):
    for role in Role:
        client = signed_in(role)
        assert 'href="/account"' in client.get("/orders").get_data(as_text=True)
        assert client.get("/account").status_code == 200
    assert app.test_client().get("/account").headers["Location"].startswith("/login")


def test_a_remember_me_cookie_of_a_user_id_no_longer_signs_in(app, make_user):
    """What the dashboard wrote before sessions were kept (the user's id, signed, for a
    year): not a session's token, so it stopped working with this change."""
    user = make_user(Role.STAFF)
    with app.test_request_context():
        old_cookie = encode_cookie(str(user.id))
    client = app.test_client()
    client.set_cookie(REMEMBER, old_cookie)
    assert not is_signed_in(client)
