"""Signing in with two-step sign-in: after the password, a code page and no session until
the code; each code accepted once, the steps beside now too; wrong codes counted with wrong
passwords; recovery codes once each; the waiting step expires and cannot be gone around."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from dashboard.extensions import db
from dashboard.models import PendingSignIn, RecoveryCode, Role, SignInSession
from tests.support.database import count
from tests.support.two_factor import code_at, fresh_step, sign_in_with_code, wrong_code
from tests.support.web import PASSWORD, csrf_token, login, post_form

WRONG = "That code is not right. Type the 6 digits your app shows now."
USED = "That code has been used already: wait for the next one in your app."


def is_signed_in(client) -> bool:
    return client.get("/orders").status_code == 200


def password_step(client, email, **form):
    answer = post_form(client, "/login", {"email": email, "password": PASSWORD, **form})
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return answer.headers["Location"]


def test_the_password_alone_opens_no_session_and_no_page(app, enrolled, make_order):
    user = enrolled(Role.STAFF)
    order = make_order()
    client = app.test_client()
    code_page = password_step(client, user.email)
    assert code_page == "/login/code"
    page = client.get(code_page).get_data(as_text=True)
    assert "Two-step sign-in" in page and 'autocomplete="one-time-code"' in page
    assert count(app, SignInSession) == 0
    # Going anywhere else instead of typing the code: the sign-in page, not the dashboard.
    for path in ("/orders", f"/orders/{order.id}", "/account", "/events", "/admin/users"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    refused = post_form(client, f"/orders/{order.id}/capture", {"amount": "1.00"})
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/login")
    assert count(app, SignInSession) == 0


def test_the_code_opens_the_session_and_keep_me_signed_in_carries_through(app, enrolled):
    user = enrolled(Role.STAFF)
    client = app.test_client()
    code_page = password_step(client, user.email, remember="y")
    answer = post_form(client, code_page, {"code": code_at(user.secret, user.step + 1)})
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert is_signed_in(client)
    assert client.get_cookie("remember_token") is not None
    with app.app_context():
        (row,) = db.session.scalars(select(SignInSession)).all()
        assert row.remember is True
        assert row.expires_at - row.created_at == timedelta(
            seconds=app.config["REMEMBER_ME_MAX_AGE"]
        )
    assert count(app, PendingSignIn) == 0  # the waiting step is used up


def test_next_survives_the_code_step(app, enrolled):
    user = enrolled(Role.STAFF)
    client = app.test_client()
    first = post_form(client, "/login?next=%2Fevents", {"email": user.email, "password": PASSWORD})
    assert first.headers["Location"] == "/login/code?next=/events"
    answer = post_form(client, first.headers["Location"], {"code": user.recovery_codes[0]})
    assert answer.headers["Location"] == "/events"


def test_a_code_used_once_is_refused_the_second_time(app, enrolled):
    user = enrolled(Role.STAFF)
    code = code_at(user.secret, user.step + 1)
    assert sign_in_with_code(app.test_client(), user.email, code).status_code == 302
    replay = app.test_client()
    answer = sign_in_with_code(replay, user.email, code)
    assert answer.status_code == 200
    assert USED in answer.get_data(as_text=True)
    assert not is_signed_in(replay)
    # The code that turned it on is used too.
    answer = sign_in_with_code(app.test_client(), user.email, code_at(user.secret, user.step))
    assert USED in answer.get_data(as_text=True)


def test_codes_of_the_steps_beside_now_are_accepted_and_two_away_are_not(app, enrolled):
    user = enrolled(Role.STAFF)  # confirmed with the code of the step before now
    now = user.step + 1
    assert (
        sign_in_with_code(app.test_client(), user.email, code_at(user.secret, now + 1)).status_code
        == 302
    )
    user = enrolled(Role.SUPPORT)
    now = fresh_step()
    for step in (now - 2, now + 2):
        answer = sign_in_with_code(app.test_client(), user.email, code_at(user.secret, step))
        assert WRONG in answer.get_data(as_text=True), step
    assert (
        sign_in_with_code(app.test_client(), user.email, code_at(user.secret, now)).status_code
        == 302
    )


def test_wrong_codes_count_with_wrong_passwords_under_one_limit(app, enrolled):
    user = enrolled(Role.STAFF)
    limit = app.config["LOGIN_MAX_FAILURES"]
    client = app.test_client()
    for _ in range(2):
        assert login(client, user.email, "not the password").status_code == 200
    code_page = password_step(client, user.email)
    wrong = wrong_code(user.secret, fresh_step())
    for _ in range(limit - 2):
        answer = post_form(client, code_page, {"code": wrong})
        assert answer.status_code == 200 and WRONG in answer.get_data(as_text=True)
    # The limit is reached: the right code, a recovery code and the password are all refused.
    for typed in (code_at(user.secret, user.step + 1), user.recovery_codes[0]):
        throttled = post_form(client, code_page, {"code": typed})
        assert throttled.status_code == 429
        assert 0 < int(throttled.headers["Retry-After"]) <= app.config["LOGIN_FAILURE_WINDOW"]
        assert "Too many failed sign-ins. Wait 15 minutes, then try again." in (
            throttled.get_data(as_text=True)
        )
    assert login(app.test_client(), user.email).status_code == 429
    assert not is_signed_in(client)
    with app.app_context():
        assert db.session.scalar(select(RecoveryCode.used_at).limit(1)) is None  # not spent


def test_wrong_recovery_codes_count_as_failures_too(app, enrolled):
    """A million recovery codes cannot be tried either: each wrong one is a failure."""
    user = enrolled(Role.STAFF)
    limit = app.config["LOGIN_MAX_FAILURES"]
    client = app.test_client()
    code_page = password_step(client, user.email)
    for n in range(limit):
        guess = f"aaaaa-bbbb{'23456789'[n]}"  # shaped as one: 10 letters of its alphabet
        assert guess not in user.recovery_codes
        answer = post_form(client, code_page, {"code": guess})
        assert answer.status_code == 200
        assert "That recovery code is not one of yours" in answer.get_data(as_text=True)
    throttled = post_form(client, code_page, {"code": user.recovery_codes[0]})
    assert throttled.status_code == 429
    assert not is_signed_in(client)


def test_a_right_code_gives_its_place_back(app, enrolled):
    """A correct code, like a correct password, is not a failure: signing in many times
    with codes never reaches the limit."""
    user = enrolled(Role.STAFF)
    for code in user.recovery_codes[: app.config["LOGIN_MAX_FAILURES"] + 1]:
        assert sign_in_with_code(app.test_client(), user.email, code).status_code == 302


def test_a_recovery_code_works_once(app, enrolled):
    user = enrolled(Role.STAFF)
    code = user.recovery_codes[3]
    first = app.test_client()
    answer = sign_in_with_code(first, user.email, code.upper().replace("-", " "))
    assert answer.status_code == 302
    assert "You signed in with a recovery code; 9 left." in first.get("/orders").get_data(
        as_text=True
    )
    again = sign_in_with_code(app.test_client(), user.email, code)
    assert again.status_code == 200
    assert "That recovery code is not one of yours, or it was used already: each works once." in (
        again.get_data(as_text=True)
    )


def test_malformed_codes_get_a_clear_422_and_cost_nothing(app, enrolled):
    user = enrolled(Role.STAFF)
    client = app.test_client()
    code_page = password_step(client, user.email)
    for typed in ("", "12345", "1234567", "abcdef", "12 34 5x", "<script>", "\x00" * 6, "9" * 2000):
        answer = post_form(client, code_page, {"code": typed})
        assert answer.status_code == 422, typed
        body = answer.get_data(as_text=True)
        assert "<script>" not in body
        assert (
            "Type the 6-digit code your app shows, or one of your recovery codes" in body
            or "This field is required." in body
            or "Field cannot be longer than 64 characters." in body
        ), typed
    # None of them counted: the whole limit is still there for typos of real codes.
    wrong = wrong_code(user.secret, fresh_step())
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert post_form(client, code_page, {"code": wrong}).status_code == 200
    assert post_form(client, code_page, {"code": user.recovery_codes[0]}).status_code == 302


def test_full_width_digits_are_the_digits(app, enrolled):
    user = enrolled(Role.STAFF)
    code = code_at(user.secret, user.step + 1)
    wide = "".join(chr(ord(digit) + 0xFEE0) for digit in code)
    assert sign_in_with_code(app.test_client(), user.email, wide).status_code == 302


def test_the_waiting_step_expires(app, enrolled):
    user = enrolled(Role.STAFF)
    client = app.test_client()
    code_page = password_step(client, user.email)
    with app.app_context():
        db.session.execute(
            update(PendingSignIn).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    answer = post_form(client, code_page, {"code": user.recovery_codes[0]})
    assert answer.status_code == 303 and answer.headers["Location"] == "/login"
    page = client.get("/login").get_data(as_text=True)
    assert "That sign-in has expired or was finished already: sign in again" in page
    assert not is_signed_in(client)
    with app.app_context():  # the recovery code was not spent on an expired step
        assert db.session.scalar(select(RecoveryCode.used_at).limit(1)) is None
    assert app.config["SIGN_IN_STEP_MAX_AGE"] == 300


def test_the_code_page_without_a_password_first_sends_to_sign_in(app, enrolled):
    user = enrolled(Role.STAFF)
    stranger = app.test_client()
    assert stranger.get("/login/code").headers["Location"] == "/login"
    answer = post_form(stranger, "/login/code", {"code": user.recovery_codes[0]})
    assert answer.status_code == 303 and answer.headers["Location"] == "/login"
    assert not is_signed_in(stranger)


def test_a_copy_of_the_waiting_cookie_cannot_finish_twice(app, enrolled):
    user = enrolled(Role.STAFF)
    client = app.test_client()
    code_page = password_step(client, user.email)
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    assert post_form(client, code_page, {"code": user.recovery_codes[0]}).status_code == 302
    answer = post_form(copy, code_page, {"code": user.recovery_codes[1]})
    assert answer.status_code == 303 and answer.headers["Location"] == "/login"
    assert not is_signed_in(copy)


def test_a_user_deactivated_while_waiting_cannot_finish(app, enrolled):
    from dashboard.services import users

    user = enrolled(Role.STAFF)
    client = app.test_client()
    code_page = password_step(client, user.email)
    with app.app_context():
        users.set_active(users.find_by_email(user.email), False)
        db.session.commit()
    answer = post_form(client, code_page, {"code": user.recovery_codes[0]})
    assert answer.headers["Location"] == "/login"
    assert not is_signed_in(client)


def test_the_csrf_token_is_new_after_the_code(app, enrolled):
    user = enrolled(Role.STAFF)
    client = app.test_client()
    code_page = password_step(client, user.email)
    before = csrf_token(client)
    post_form(client, code_page, {"code": user.recovery_codes[0]})
    stale = client.post("/logout", data={"csrf_token": before})
    assert stale.status_code == 400
    assert is_signed_in(client)
