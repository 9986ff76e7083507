"""Hostile query strings on every GET route of the URL map: never a 500, and a list page
answers as itself with a message, never as a bare error page.

The routes come from `app.url_map` (tests/support/routes.py, as the security tests walk
them) with real rows behind their path variables; the parameters are every one a view
reads, found in the views' source, and one no view reads. docs/bad-inputs.md lists what
each gets.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

import pytest

from dashboard.models import Role
from tests.support.routes import query_parameters, route_paths
from tests.support.web import HTMX, PASSWORD, login, post_form

# What the views read today; query_parameters() must find at least these (it reads the
# source, so a new parameter joins the fuzzing without being listed here).
KNOWN = {
    "q",
    "state",
    "created_from",
    "created_to",
    "older_than",
    "newer_than",
    "before",
    "type",
    "status",
    "next",
    "sort",
}
UNKNOWN = "utm_source"
# Sent percent-encoded as UTF-8, as a browser sends text.
TEXT = [
    "\U0010ffff",  # the last code point: nothing sorts after it
    "buyer\U0010ffff",
    "a\ud7ff",  # the next code point up is a surrogate
    "\x00",
    "a\x00b",
    "/orders\r\nSet-Cookie: hacked=1",
    "\r\n",
    "x" * 5000,
    "9" * 400,
    '"><script>alert(1)</script>',
    "' OR 1=1 --",
    "%",
    "_",
    "evt_",
    "pi_",
    "buyer@example.com",
    "-1",
    "²",
    "//evil.example",
    "\u202egnp.exe",
    "",
]
# Sent as raw bytes in the query string: not UTF-8 (a lone surrogate's encoding, a stray
# byte) and a lone surrogate written as percent escapes.
RAW = [b"\xed\xa0\x80", b"\xff\xfe", b"%ED%A0%80", b"%FF"]
LIST_PAGES = {
    "orders.index",
    "events.index",
    "orders.timeline",
    "customers.index",
}
# Pages that refuse a parameter they cannot use, as themselves with the reason: the lists,
# the order page (its timeline's `sort`), the subscription list (no htmx rows), the list
# behind Home's figures (a kind, a currency and two days, or the reason it cannot list), the
# holds behind Home's (a currency),
# the Disputes page, the exports, the slowest deliveries behind Home's lag (a page link whose
# event left the day), and a cancel page that does not say which cancel.
REFUSING_PAGES = LIST_PAGES | {
    "events.lag",
    "orders.detail",
    "subscriptions.index",
    "home.movement_list",
    "home.hold_list",
    "disputes.index",
    "exports.download",
    "subscriptions.cancel",
}
# Where each refusing page says why (a list's problem line unless named here): a cancel
# page without `when` (now or period_end) is the subscription's page saying to choose.
PROBLEM_ID = {"subscriptions.cancel": "subscription-problem"}
BARE_ERROR_PAGE = re.compile(r'<p class="muted">Error \d{3}</p>')


def requests_for(name: str):
    """(label, query_string or None, environ_overrides) for each hostile value of `name`."""
    for value in TEXT:
        yield f"{name}={value[:20]!r}", f"{name}={quote(value, safe='')}", {}
    for raw in RAW:
        query = (name.encode() + b"=" + raw).decode("latin-1")
        yield f"{name}=raw {raw!r}", None, {"QUERY_STRING": query}


def check(response, endpoint, where):
    status = response.status_code
    body = response.get_data(as_text=True)
    assert status < 500, f"{where}: {status}"
    assert "<script>alert(1)</script>" not in body, f"{where}: markup rendered live"
    location = urlsplit(response.headers.get("Location", ""))
    assert not (location.scheme or location.netloc), f"{where}: off the site"
    if status == 400:
        # Only these pages refuse a parameter, and they do it as themselves.
        assert endpoint in REFUSING_PAGES, f"{where}: 400"
        problem = PROBLEM_ID.get(endpoint, "list-problem")
        assert f'id="{problem}"' in body, f"{where}: no message on the page"
        assert not BARE_ERROR_PAGE.search(body), f"{where}: a bare error page"


def test_the_views_read_no_parameter_this_test_does_not_send():
    assert query_parameters() >= KNOWN


@pytest.mark.parametrize("role", [Role.STAFF, Role.SUPPORT, None], ids=["staff", "support", "anon"])
def test_hostile_query_strings_on_every_get_route_never_give_a_500(
    app, make_order, make_user, role
):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    _, _, routes = route_paths(app, make_order, make_user)
    make_order(buyer_email="buyer@example.com", stripe_payment_intent_id="pi_3Abc")
    client = app.test_client()
    if role is not None:
        make_user(role, email=f"{role.value}-fuzz@shop.example")
        assert login(client, f"{role.value}-fuzz@shop.example").status_code == 302
    names = sorted(query_parameters() | {UNKNOWN})
    gets = [(endpoint, path) for endpoint, method, path in routes if method == "GET"]
    assert {"orders.index", "events.index", "pay.done", "auth.login"} <= {e for e, _ in gets}
    for endpoint, path in gets:
        for name in names:
            for label, query, environ in requests_for(name):
                where = f"{role} GET {path}?{label}"
                response = client.get(path, query_string=query, environ_overrides=environ)
                check(response, endpoint, where)
                response.close()
                if endpoint in LIST_PAGES and role is not None:
                    partial = client.get(
                        path, query_string=query, environ_overrides=environ, headers=HTMX
                    )
                    assert partial.status_code == 200, f"htmx {where}: {partial.status_code}"
                    assert "<html" not in partial.get_data(as_text=True), f"htmx {where}"
    # Still signed in as before, and the order is untouched by any of it.
    if role is not None:
        assert client.get("/orders").status_code == 200


# -- the cases issue 12 names, one by one ------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["q=%F4%8F%BF%BF", "q=buyer%F4%8F%BF%BF", "q=a%ED%9F%BF"],
    ids=["U+10FFFF", "prefix then U+10FFFF", "U+D7FF"],
)
def test_order_search_at_the_end_of_unicode_shows_results(app, signed_in, make_order, query):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    # Named so that no word of the name starts like the search (U+10FFFF ends a word).
    make_order(buyer_email="buyer@example.com", buyer_name="Zed Quill")
    response = signed_in(Role.SUPPORT).get(f"/orders?{query}")
    assert response.status_code == 200
    assert "No orders match" in response.get_data(as_text=True)


def test_order_search_with_bytes_that_are_not_utf8_shows_them_back(app, signed_in):
    """A lone surrogate's UTF-8-like bytes (ED A0 80), sent raw: the search box shows them as
    the percent escapes a browser would have sent, and nothing matches."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = signed_in(Role.SUPPORT)
    response = client.get("/orders", environ_overrides={"QUERY_STRING": "q=\xed\xa0\x80x"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="q" value="%ED%A0%80x"' in page
    assert "No orders match “%ED%A0%80x”" in page


def test_an_email_prefix_ending_in_u10ffff_still_finds_its_order(app, signed_in, make_order):
    wanted = make_order(buyer_email="zed@example.com")
    make_order(buyer_email="ann@example.com")
    client = signed_in(Role.SUPPORT)
    page = client.get("/orders?q=zed%F4%8F%BF%BF").get_data(as_text=True)
    assert "No orders match" in page  # nothing starts with zed followed by U+10FFFF
    page = client.get("/orders?q=zed").get_data(as_text=True)
    assert f'href="/orders/{wanted.id}"' in page


@pytest.mark.parametrize(
    "target", ["/orders\r\nSet-Cookie: a=b", "/orders\nX: y", "/x\r", "/x\t/y", "/\u202e"]
)
def test_next_with_a_line_break_goes_to_the_orders(app, make_user, target):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    user = make_user(Role.STAFF, quick_hash=True)
    client = app.test_client()
    query = "next=" + quote(target, safe="")
    signing_in = post_form(client, f"/login?{query}", {"email": user.email, "password": PASSWORD})
    assert (signing_in.status_code, signing_in.headers["Location"]) == (302, "/")
    again = client.get(f"/login?{query}")  # already signed in
    assert (again.status_code, again.headers["Location"]) == (302, "/")
    assert again.headers.getlist("Set-Cookie") == []


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ("evt_", "evt_ is only the start of a Stripe id: paste the whole id"),
        ("pi_", "pi_ is only the start of a Stripe id"),
        ("a\x00b", "Search without the NUL character"),
        ("hello world", "Search by an event id"),
    ],
)
def test_an_event_search_it_cannot_run_shows_the_log_with_the_reason(signed_in, search, message):
    client = signed_in(Role.SUPPORT)
    response = client.get("/events", query_string={"q": search})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<h1>Stripe event log</h1>" in page  # the page itself: its tabs, filters, health
    assert 'id="webhook-health"' in page
    assert not BARE_ERROR_PAGE.search(page)
    problem = re.search(r'id="list-problem">(.*?)<a', page, re.S)
    assert problem and message in html.unescape(problem.group(1))
    assert f'name="q" value="{html.escape(search)}"' in page  # what was typed stays
    swapped = client.get("/events", query_string={"q": search}, headers=HTMX)
    assert swapped.status_code == 200  # htmx swaps it in over the rows it showed
    assert message in html.unescape(swapped.get_data(as_text=True))
