"""What admins and operators do about two-step sign-in: the admin page's "Require two-step
sign-in for staff and admins": stored, confirmed, logged; it sends those without one to set
it up before any page, and leaves support alone."""

import logging

import pytest
from sqlalchemy import select

from dashboard.extensions import db
from dashboard.models import (
    PendingSignIn,
    Role,
    Setting,
    SignInSession,
    TwoFactorCredential,
)
from tests.support.database import count
from tests.support.two_factor import (
    code_at,
    confirm_setup,
    fresh_step,
    key_on,
    recovery_codes_on,
    sign_in_with_code,
)
from tests.support.web import PASSWORD, login, post_form

REQUIRE = "/admin/two-step-requirement"


def is_signed_in(client) -> bool:
    return client.get("/orders").status_code == 200


@pytest.fixture
def admin(app, enrolled):
    """An admin with two-step sign-in, signed in."""
    user = enrolled(Role.ADMIN)
    client = app.test_client()
    assert sign_in_with_code(client, user.email, user.recovery_codes[0]).status_code == 302
    return client


def require(client, on=True, **data):
    return post_form(client, REQUIRE, {"required": "on" if on else "off", "confirm": "y", **data})


def test_the_setting_needs_a_confirmation_is_stored_and_logged(app, admin, caplog):
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "Require two-step sign-in for staff and admins" in page
    assert "Support accounts only read orders; they are never required to use it" in page
    unconfirmed = post_form(admin, REQUIRE, {"required": "on"})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm." in unconfirmed.get_data(as_text=True)
    assert count(app, Setting) == 0
    nonsense = post_form(admin, REQUIRE, {"required": "maybe", "confirm": "y"})
    assert nonsense.status_code == 422 and "Choose on or off." in nonsense.get_data(as_text=True)
    with caplog.at_level(logging.INFO, logger="dashboard.audit"):
        answer = require(admin)
    assert answer.status_code == 303
    flashed = admin.get("/admin/users").get_data(as_text=True)
    assert "Two-step sign-in is now required for staff and admins." in flashed
    assert "Stop requiring two-step sign-in" in flashed
    with app.app_context():
        setting = db.session.get(Setting, "require_two_factor_for_staff")
        assert setting.value == "on" and setting.changed_by_id is not None
    (record,) = [r for r in caplog.records if r.name == "dashboard.audit"]
    assert "two-step sign-in required for staff and admins" in record.getMessage()
    assert record.required is True
    assert require(admin, on=False).status_code == 303
    with app.app_context():
        assert db.session.get(Setting, "require_two_factor_for_staff").value == "off"


def test_an_admin_without_it_cannot_require_it(app, signed_in):
    client = signed_in(Role.ADMIN, quick_hash=True)
    answer = require(client)
    assert answer.status_code == 422
    assert "Turn on two-step sign-in for your own account first" in answer.get_data(as_text=True)
    assert count(app, Setting) == 0


def test_requiring_it_signs_out_staff_without_it_and_no_one_else(app, admin, make_user):
    make_user(Role.STAFF, quick_hash=True)
    make_user(Role.SUPPORT, quick_hash=True)
    staff, support = app.test_client(), app.test_client()
    login(staff, "staff@shop.example")
    login(support, "support@shop.example")
    require(admin)
    assert not is_signed_in(staff)
    assert is_signed_in(support)
    assert is_signed_in(admin)


def test_staff_without_it_set_it_up_at_sign_in_before_any_page(app, admin, make_user, make_order):
    require(admin)
    make_user(Role.STAFF, quick_hash=True)
    order = make_order()
    client = app.test_client()
    first = post_form(
        client, "/login", {"email": "staff@shop.example", "password": PASSWORD, "remember": "y"}
    )
    assert first.status_code == 303 and first.headers["Location"] == "/login/two-step-setup"
    page = client.get("/login/two-step-setup").get_data(as_text=True)
    assert "Staff and admins must use two-step sign-in here" in page
    assert "no other page opens until it is done" in page
    assert count(app, SignInSession) == 1  # the admin's own
    for path in ("/orders", f"/orders/{order.id}", "/account", "/account/two-step", "/events"):
        answer = client.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), path
    # The code page is not a way around it either.
    assert client.get("/login/code").headers["Location"] == "/login"
    page = client.get("/login/two-step-setup").get_data(as_text=True)
    step = fresh_step()
    shown = confirm_setup(client, "/login/two-step-setup", page, code_at(key_on(page), step))
    assert shown.status_code == 200
    assert len(recovery_codes_on(shown.get_data(as_text=True))) == 10
    assert is_signed_in(client)
    with app.app_context():  # "Keep me signed in" carried through the set-up
        assert db.session.scalar(select(SignInSession).where(SignInSession.remember.is_(True)))
    assert count(app, PendingSignIn) == 0
    # From now on the code is asked for.
    assert (
        sign_in_with_code(
            app.test_client(), "staff@shop.example", code_at(key_on(page), step + 1)
        ).status_code
        == 302
    )


def test_the_setup_step_at_sign_in_expires(app, admin, make_user):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    require(admin)
    make_user(Role.STAFF, quick_hash=True)
    client = app.test_client()
    login(client, "staff@shop.example")
    page = client.get("/login/two-step-setup").get_data(as_text=True)
    with app.app_context():
        db.session.execute(
            update(PendingSignIn).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.session.commit()
    answer = confirm_setup(
        client, "/login/two-step-setup", page, code_at(key_on(page), fresh_step())
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/login"
    assert count(app, TwoFactorCredential) == 1  # only the admin's
    assert not is_signed_in(client)


def test_support_is_not_required(app, admin, make_user):
    require(admin)
    make_user(Role.SUPPORT, quick_hash=True)
    client = app.test_client()
    answer = login(client, "support@shop.example")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_it_cannot_be_turned_off_while_required(app, admin):
    require(admin)
    account = admin.get("/account").get_data(as_text=True)
    assert "it cannot be turned off" in account
    assert "Turn off two-step sign-in</button>" not in account
    answer = post_form(admin, "/account/two-step/off", {"secret": PASSWORD, "confirm": "y"})
    assert answer.status_code == 403
    assert "required for staff and admins: it cannot be turned off." in answer.get_data(
        as_text=True
    )
    assert count(app, TwoFactorCredential) == 1


def test_the_users_page_shows_who_has_it(app, admin, make_user):
    make_user(Role.STAFF, quick_hash=True)
    page = admin.get("/admin/users").get_data(as_text=True)
    assert page.count("two-step on") == 1 and page.count("two-step off") == 1
