"""Staff see times in their own time zone: the one chosen on the account page, else their
browser's (the cookie static/app.js writes), else UTC; every time is a <time> holding it in
UTC, shown on hover. A zone not on the list, in the form or the cookie, is refused cleanly."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from dashboard.models import Role, User
from tests.support.database import count
from tests.support.web import HOSTILE, login, post_form

CREATED = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
UTC_TITLE = 'datetime="2026-07-01T12:00:00Z" title="2026-07-01 12:00:00 UTC"'
UNKNOWN = "Choose a time zone from the list."
COOKIE = "browser_time_zone"


def staff_client(app, make_user, role: Role = Role.STAFF) -> FlaskClient:
    user = make_user(role, quick_hash=True)
    client = app.test_client()
    assert login(client, user.email).status_code == 302
    return client


def choose(client: FlaskClient, zone: str):
    return post_form(client, "/account/time-zone", {"time_zone": zone})


def created_time(page: str) -> str:
    """The order's creation time as the order page shows it, with its <time> element."""
    match = re.search(r"created (<time [^>]*>[^<]*</time>)", page)
    assert match, "the order page says when the order was created"
    return match.group(1)


def stored_zone(app, email: str) -> str | None:
    from dashboard.extensions import db

    with app.app_context():
        user = db.session.query(User).filter_by(email=email).one()
        return user.time_zone


def test_the_same_order_shows_each_viewer_their_own_time_and_the_same_utc(
    app, make_user, make_order
):
    order = make_order(created_at=CREATED)
    paris, new_york = staff_client(app, make_user), staff_client(app, make_user, Role.SUPPORT)
    answer = choose(paris, "Europe/Paris")
    assert (answer.status_code, answer.headers["Location"]) == (303, "/account#time-zone")
    assert "Times now show in Europe/Paris." in paris.get("/account").get_data(as_text=True)
    assert choose(new_york, "America/New_York").status_code == 303

    seen_in_paris = created_time(paris.get(f"/orders/{order.id}").get_data(as_text=True))
    seen_in_new_york = created_time(new_york.get(f"/orders/{order.id}").get_data(as_text=True))
    assert seen_in_paris == f"<time {UTC_TITLE}>2026-07-01 14:00:00 CEST</time>"
    assert seen_in_new_york == f"<time {UTC_TITLE}>2026-07-01 08:00:00 EDT</time>"
    # The order list too.
    assert f"<time {UTC_TITLE}>2026-07-01 14:00:00 CEST</time>" in paris.get("/orders").get_data(
        as_text=True
    )


def test_the_browsers_zone_counts_until_one_is_chosen(app, make_user, make_order):
    order = make_order(created_at=CREATED)
    client = staff_client(app, make_user)
    client.set_cookie(COOKIE, "Asia/Tokyo")
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert created_time(page) == f"<time {UTC_TITLE}>2026-07-01 21:00:00 JST</time>"
    account = client.get("/account").get_data(as_text=True)
    assert "show in <strong>Asia/Tokyo</strong>, your browser's zone." in account
    assert '<option selected value="">Use my browser&#39;s time zone</option>' in account

    assert choose(client, "Europe/Paris").status_code == 303  # the choice wins over the browser
    assert "14:00:00 CEST" in created_time(client.get(f"/orders/{order.id}").get_data(True))
    assert choose(client, "").status_code == 303  # back to the browser's
    assert stored_zone(app, "staff@shop.example") is None
    assert "21:00:00 JST" in created_time(client.get(f"/orders/{order.id}").get_data(True))


def test_without_a_choice_or_a_browser_zone_times_are_in_utc(app, make_user, make_order):
    order = make_order(created_at=CREATED)
    client = staff_client(app, make_user)
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    assert created_time(page) == f"<time {UTC_TITLE}>2026-07-01 12:00:00 UTC</time>"
    account = client.get("/account").get_data(as_text=True)
    assert "you have chosen none, and your browser has not said which zone it is in" in account


@pytest.mark.parametrize(
    "junk",
    [
        "Mars/Olympus_Mons",
        "europe/paris",  # the right name in the wrong case
        "Europe%2FParis",  # escaped as a cookie often is; static/app.js never writes it so
        "../../../../etc/passwd",
        "/usr/share/zoneinfo/Europe/Paris",
        "localtime",
        "Factory",
        "x" * 4000,
        '"<script>alert(1)</script>"',
    ],
)
def test_a_junk_browser_zone_is_ignored(app, make_user, make_order, junk):
    order = make_order(created_at=CREATED)
    client = staff_client(app, make_user)
    client.set_cookie(COOKIE, junk)
    answer = client.get(f"/orders/{order.id}")
    assert answer.status_code == 200
    assert created_time(answer.get_data(as_text=True)).endswith(">2026-07-01 12:00:00 UTC</time>")
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize(
    "junk",
    [
        "Mars/Olympus_Mons",
        "US/Eastern",  # zoneinfo knows it, the list does not offer it
        "Etc/GMT+5",
        "../../../../etc/passwd",
        "Europe/Paris\n",
        "x" * 200_000,  # far past any zone, within a form's 256 KB (more: 413, test_disputes)
        HOSTILE,
        None,  # the field left out of the form
    ],
)
def test_a_zone_not_on_the_list_is_refused_and_nothing_is_saved(app, make_user, junk):
    client = staff_client(app, make_user)
    assert choose(client, "Europe/Paris").status_code == 303
    data = {} if junk is None else {"time_zone": junk}
    refused = post_form(client, "/account/time-zone", data)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.search(rf'<small class="error" id="[\w-]+-error">{re.escape(UNKNOWN)}</small>', page)
    assert "<script>" not in page
    assert stored_zone(app, "staff@shop.example") == "Europe/Paris"
    assert count(app, User) == 1


def test_the_hold_deadline_is_a_date_in_the_viewers_zone_and_a_countdown(
    app, make_user, make_order
):
    deadline = datetime(2031, 1, 15, 23, 30, tzinfo=UTC)
    order = make_order(
        state="authorized",
        amount_authorized=2500,
        amount_capturable=2500,
        capture_before=deadline,
    )
    client = staff_client(app, make_user)
    assert choose(client, "Asia/Tokyo").status_code == 303
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    deadline_text = re.sub(r"\s+", " ", page[page.index("Hold expires") :][:400])
    assert (
        '<time datetime="2031-01-15T23:30:00Z" title="2031-01-15 23:30:00 UTC">'
        "2031-01-16 08:30:00 JST</time>" in deadline_text
    )
    assert re.search(r'data-countdown="[^"]+">\d+ d \d+ h left<', deadline_text)
