"""One address, one identity: look-alike spellings of an email (full-width letters, other
compatibility forms, case, spaces around it) are the same address everywhere one is stored
or compared: accounts, sign-in and its throttle, the command line, orders and their search."""

import re

import pytest
from sqlalchemy import select

from dashboard.domain.emails import normalize_email
from dashboard.extensions import db
from dashboard.models import Order, Role, User
from tests.support.web import PASSWORD, full_width, login, post_form

FULL_WIDTH_STAFF = f"{full_width('STAFF')}@shop.example"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        (f"{full_width('X')}@example.com", "x@example.com"),
        ("  Ana@Shop.Example\t", "ana@shop.example"),
        (f"x@{full_width('example')}.com", "x@example.com"),
        ("\u212a@kelvin.example", "k@kelvin.example"),  # KELVIN SIGN, not the letter K
        ("Ⅸ@roman.example", "ix@roman.example"),  # ROMAN NUMERAL NINE
        ("ﬁle@ligature.example", "file@ligature.example"),
        # Lower-cased, not case-folded: casefold would make this "strasse", another mailbox.
        ("Straße@Post.example", "straße@post.example"),
    ],
)
def test_look_alike_spellings_normalise_to_one_address(typed, stored):
    assert normalize_email(typed) == stored
    assert normalize_email(stored) == stored


def test_a_full_width_copy_of_an_account_is_refused_on_the_admin_page(app, signed_in):
    admin = signed_in(Role.ADMIN)
    response = post_form(
        admin,
        "/admin/users",
        {
            "email": f"{full_width('ADMIN')}@shop.example",
            "role": "staff",
            "password": "a long enough password",
        },
    )
    assert response.status_code == 422
    assert "A user with the email admin@shop.example already exists." in response.get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == ["admin@shop.example"]


def test_a_full_width_copy_of_an_account_is_refused_by_the_cli(app, make_user):
    make_user(Role.STAFF)
    result = app.test_cli_runner().invoke(
        args=["user", "create", FULL_WIDTH_STAFF, "--role", "admin", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 1
    assert "A user with the email staff@shop.example already exists." in result.output


def test_an_account_created_in_full_width_is_stored_plain(app):
    result = app.test_cli_runner().invoke(
        args=[
            "user",
            "create",
            f"{full_width('New')}@shop.example",
            "--role",
            "staff",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created new@shop.example (staff)." in result.output


def test_the_cli_finds_an_account_by_a_look_alike_spelling(app, make_user):
    make_user(Role.STAFF)
    result = app.test_cli_runner().invoke(args=["user", "set-role", FULL_WIDTH_STAFF, "support"])
    assert result.exit_code == 0, result.output
    assert "staff@shop.example is now support." in result.output


def test_sign_in_with_a_look_alike_spelling_is_the_same_account(app, make_user):
    make_user(Role.STAFF)
    client = app.test_client()
    assert login(client, FULL_WIDTH_STAFF).status_code == 302
    assert "staff@shop.example · staff" in client.get("/orders").get_data(as_text=True)


def test_look_alike_spellings_share_one_throttle(app, make_user):
    make_user(Role.STAFF)
    spellings = [
        "staff@shop.example",
        FULL_WIDTH_STAFF,
        " Staff@Shop.Example",
        f"{full_width('s')}taff@shop.example",
    ]
    client = app.test_client()
    for n in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, spellings[n % len(spellings)], "not the password").status_code == 200
    assert login(client, "staff@shop.example").status_code == 429


def test_an_address_longer_than_allowed_once_normalised_is_a_clear_422(app, make_user):
    """NFKC can lengthen an address: U+FDFA is 18 letters. The limit holds for what is stored."""
    make_user(Role.STAFF)
    long_one = "\ufdfa" * 15 + "@shop.example"
    assert len(long_one) < 254 < len(normalize_email(long_one))
    response = login(app.test_client(), long_one)
    assert response.status_code == 422
    assert "at most 254 characters once normalised" in response.get_data(as_text=True)


def numbers_on(page):
    return [int(n) for n in re.findall(r'href="/orders/(\d+)"', page)]


def test_buyer_emails_are_stored_and_searched_normalised(app, signed_in, make_order):
    staff = signed_in(Role.STAFF)
    response = post_form(
        staff,
        "/orders/new",
        {
            "buyer_name": "Wide Buyer",
            "buyer_email": f"{full_width('Wide')}@Example.com",
            "currency": "USD",
            "lines-0-description": "Widget",
            "lines-0-quantity": "1",
            "lines-0-unit_price": "5.00",
        },
    )
    assert response.status_code == 303
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert "wide@example.com" in page
    with app.app_context():
        (order,) = db.session.scalars(select(Order)).all()
        assert order.buyer_email == "wide@example.com"
    other = make_order(buyer_email="width@example.com")
    for query in ("wide@", full_width("WIDE"), "Wide@Example.com"):
        found = numbers_on(staff.get("/orders", query_string={"q": query}).get_data(as_text=True))
        assert found == [order.id], query
    found = numbers_on(
        staff.get("/orders", query_string={"q": full_width("wid")}).get_data(as_text=True)
    )
    assert sorted(found) == sorted([order.id, other.id])


def test_a_buyer_email_too_long_once_normalised_is_a_clear_422(app, signed_in):
    staff = signed_in(Role.STAFF)
    response = post_form(
        staff,
        "/orders/new",
        {
            "buyer_name": "Long Buyer",
            "buyer_email": "\ufdfa" * 15 + "@example.com",
            "currency": "USD",
            "lines-0-description": "Widget",
            "lines-0-unit_price": "5.00",
        },
    )
    assert response.status_code == 422
    assert "at most 254 characters once normalised" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(Order)).all() == []
