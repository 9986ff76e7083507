"""The order list as a clerk uses it (issue 13, item 7): the money columns, the search by
buyer name and by the start of a Stripe id, the created-date range, and what an empty
result offers. The indexes behind each are held by tests/test_orders.py."""

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, update

from dashboard.domain.orders import LineDraft, OrderState
from dashboard.extensions import db
from dashboard.models import Order, Role
from tests.support.web import HTMX, full_width, post_form


def numbers_on(page):
    return [int(n) for n in re.findall(r'href="/orders/(\d+)"', page)]


@pytest.fixture
def clerk(signed_in):
    return signed_in(Role.SUPPORT, quick_hash=True)


def found_by(client, **query):
    response = client.get("/orders", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return numbers_on(response.get_data(as_text=True))


# -- columns ---------------------------------------------------------------------------------


def test_the_list_shows_captured_refunded_and_remaining_beside_the_total(clerk, make_order):
    usd = make_order(amount_captured=2000, amount_refunded=750)  # of $25.00
    yen = make_order(currency="JPY", lines=[LineDraft("Tea", 1, 1200)], amount_captured=1200)
    page = clerk.get("/orders").get_data(as_text=True)
    headers = re.findall(r"<th( class=\"num\")?>([^<]+)</th>", page.split("</thead>")[0])
    assert [name for _, name in headers][:6] == [
        "Order",
        "Buyer",
        "Total",
        "Captured",
        "Refunded",
        "Remaining",
    ]
    assert [bool(num) for num, _ in headers][2:6] == [True] * 4  # right-aligned

    def money_cells(order):
        row = re.search(rf'href="/orders/{order.id}".*?</tr>', page, re.S).group(0)
        return re.findall(r'<td class="num">([^<]+)</td>', row)

    assert money_cells(usd) == ["$25.00", "$20.00", "$7.50", "$12.50"]
    assert money_cells(yen) == ["¥1,200", "¥1,200", "¥0", "¥1,200"]


# -- buyer name ------------------------------------------------------------------------------


@pytest.fixture
def buyers(make_order):
    """Four orders, oldest first, each by another buyer."""
    return {
        name: make_order(buyer_name=name, buyer_email=email).id
        for name, email in (
            ("Ada Lovelace", "countess@example.com"),
            ("Émile Zola", "ez@example.com"),
            ("Grace O'Brien-Hopper", "grace@example.com"),
            ("Adam Smith", "adam@example.com"),
        )
    }


@pytest.mark.parametrize(
    ("search", "names"),
    [
        ("ada lov", ["Ada Lovelace"]),  # the start of each word
        ("LOV ada", ["Ada Lovelace"]),  # in any order, in any case
        ("ada lovelace", ["Ada Lovelace"]),
        ("emile", ["Émile Zola"]),  # accents ignored
        ("ÉMI zol", ["Émile Zola"]),
        ("zola", ["Émile Zola"]),
        ("brien", ["Grace O'Brien-Hopper"]),  # a word after an apostrophe or a hyphen
        ("hop gra", ["Grace O'Brien-Hopper"]),
        ("o'brien", ["Grace O'Brien-Hopper"]),
        ("ada", ["Adam Smith", "Ada Lovelace"]),  # newest first
        (full_width("ADA") + " lov", ["Ada Lovelace"]),  # typed full-width
        ("da", []),  # the start of a word, not anywhere in it
        ("ada lovelace smith", []),  # every word must be found
        ("lovelace-ada", ["Ada Lovelace"]),  # a hyphen separates words typed too
    ],
)
def test_a_buyer_name_is_found_by_the_start_of_its_words(clerk, buyers, search, names):
    assert found_by(clerk, q=search) == [buyers[name] for name in names]


def test_one_word_finds_names_and_emails_that_start_with_it(clerk, buyers, make_order):
    by_email = make_order(buyer_name="Zed Quill", buyer_email="lovebird@example.com").id
    assert found_by(clerk, q="lov") == [by_email, buyers["Ada Lovelace"]]
    assert found_by(clerk, q="countess") == [buyers["Ada Lovelace"]]  # her email
    assert found_by(clerk, q="lov@") == []  # with an @, an email only
    assert found_by(clerk, q="lovebird@") == [by_email]
    assert found_by(clerk, q="lov ada") == [buyers["Ada Lovelace"]]  # words: names only
    dotted = make_order(buyer_email="j.p.de.la.m.x.y.z.w@example.com").id
    assert found_by(clerk, q="j.p.de.la.m.x.y.z") == [dotted]  # more words than a name's


def test_a_renamed_or_deleted_order_is_found_by_what_it_is_now(app, clerk, buyers):
    """The name index follows the table: a new name is found, the old one no longer."""
    ada = buyers["Ada Lovelace"]
    with app.app_context():
        db.session.execute(update(Order).where(Order.id == ada).values(buyer_name="Augusta King"))
        db.session.execute(delete(Order).where(Order.id == buyers["Adam Smith"]))
        db.session.commit()
    assert found_by(clerk, q="augusta kin") == [ada]
    assert found_by(clerk, q="lovelace") == []
    assert found_by(clerk, q="ada") == []
    assert found_by(clerk, q="smith") == []


def test_a_name_search_pages_and_combines_with_state_and_dates(app, clerk, make_order):
    app.config["ORDERS_PER_PAGE"] = 2
    ids = [
        make_order(
            buyer_name=f"Ada Buyer{n}",
            state=OrderState.CAPTURED.value if n % 2 else OrderState.OPEN.value,
            created_at=datetime(2026, 12, 1 + n, 12, tzinfo=UTC),
        ).id
        for n in range(6)
    ]
    make_order(buyer_name="Someone Else")
    first = clerk.get("/orders", query_string={"q": "ada buy"}).get_data(as_text=True)
    assert numbers_on(first) == ids[::-1][:2]
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "q=ada+buy" in older
    assert numbers_on(clerk.get(older).get_data(as_text=True)) == ids[::-1][2:4]
    assert found_by(clerk, q="ada", state="captured") == [ids[5], ids[3]]
    assert found_by(
        clerk, q="ada buy", state="captured", created_from="2026-12-02", created_to="2026-12-04"
    ) == [ids[3], ids[1]]


# -- the start of a Stripe id ----------------------------------------------------------------


def test_the_start_of_a_stripe_id_finds_its_orders(clerk, make_order):
    first = make_order(
        stripe_payment_intent_id="pi_3MtwBwLkdIwHu7ix28a3tqPa",
        stripe_checkout_session_id="cs_test_a1B2c3",
        stripe_charge_id="ch_3MtwBwLkdIwHu7ix0snN0B15",
    ).id
    second = make_order(
        stripe_payment_intent_id="pi_3MtwBwLkdIwHu7ix1xYz",
        stripe_charge_id="py_1NaBcD",
    ).id
    make_order(stripe_payment_intent_id="pi_3Nq")
    assert found_by(clerk, q="pi_3MtwBwLkdIwHu7ix") == [second, first]
    assert found_by(clerk, q="pi_3MtwBwLkdIwHu7ix2") == [first]
    assert found_by(clerk, q="pi_3MtwBwLkdIwHu7ix28a3tqPa") == [first]  # a whole id too
    assert found_by(clerk, q="pi_3mtw") == []  # Stripe ids are case-sensitive
    assert found_by(clerk, q="cs_test_a") == [first]
    assert found_by(clerk, q="ch_3Mtw") == [first]
    assert found_by(clerk, q="py_1N") == [second]
    assert found_by(clerk, q="pi_3MtwBwLkdIwHu7ix", state="open") == [second, first]
    assert found_by(clerk, q="pi_3MtwBwLkdIwHu7ix", state="captured") == []


# -- created-date range ----------------------------------------------------------------------


@pytest.fixture
def by_day(make_order):
    """Orders created, in order, at the edges of 1 to 5 December 2026 (UTC)."""
    moments = {
        "1 Dec, last second": datetime(2026, 12, 1, 23, 59, 59, 999999, tzinfo=UTC),
        "2 Dec, first instant": datetime(2026, 12, 2, tzinfo=UTC),
        "3 Dec, noon": datetime(2026, 12, 3, 12, tzinfo=UTC),
        "5 Dec, first instant": datetime(2026, 12, 5, tzinfo=UTC),
    }
    return {label: make_order(created_at=moment).id for label, moment in moments.items()}


@pytest.mark.parametrize(
    ("days", "labels"),
    [
        (
            {"created_from": "2026-12-02"},
            ["5 Dec, first instant", "3 Dec, noon", "2 Dec, first instant"],
        ),
        ({"created_to": "2026-12-02"}, ["2 Dec, first instant", "1 Dec, last second"]),
        ({"created_from": "2026-12-02", "created_to": "2026-12-02"}, ["2 Dec, first instant"]),
        ({"created_from": "2026-12-01", "created_to": "2026-12-05"}, None),  # all four
        ({"created_from": "2026-12-04", "created_to": "2026-12-04"}, []),
        ({"created_from": "2027-01-01"}, []),
        ({"created_to": "2026-11-30"}, []),
        ({"created_from": "0001-01-01", "created_to": "9999-12-31"}, None),  # the calendar's ends
        ({"created_from": "", "created_to": " "}, None),  # left blank: no bound
    ],
)
def test_the_created_range_takes_whole_days_in_utc(clerk, by_day, days, labels):
    everything = list(by_day.values())[::-1]
    expected = everything if labels is None else [by_day[label] for label in labels]
    assert found_by(clerk, **days) == expected


def test_a_created_range_pages_by_keyset_and_keeps_its_days(app, clerk, make_order):
    app.config["ORDERS_PER_PAGE"] = 2
    ids = [make_order(created_at=datetime(2026, 12, day, 9, tzinfo=UTC)).id for day in range(1, 8)]
    query = {"created_from": "2026-12-02", "created_to": "2026-12-06"}
    first = clerk.get("/orders", query_string=query).get_data(as_text=True)
    assert numbers_on(first) == [ids[5], ids[4]]
    assert 'name="created_from" value="2026-12-02"' in first  # shown back in the form
    assert "Capture queue" not in first  # the queue heads the unfiltered list only
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert "created_from=2026-12-02" in older and "created_to=2026-12-06" in older
    second = clerk.get(older).get_data(as_text=True)
    assert numbers_on(second) == [ids[3], ids[2]]
    last = re.search(r'href="([^"]+)" rel="next"', second).group(1).replace("&amp;", "&")
    assert numbers_on(clerk.get(last).get_data(as_text=True)) == [ids[1]]


def test_a_created_day_is_the_day_in_the_viewers_time_zone(app, clerk, make_order):
    """16:00 UTC on 1 March is already 2 March in Tokyo: a clerk there finds it on the 2nd."""
    early = make_order(created_at=datetime(2026, 3, 1, 9, tzinfo=UTC)).id
    late = make_order(created_at=datetime(2026, 3, 1, 16, tzinfo=UTC)).id
    day = {"created_from": "2026-03-01", "created_to": "2026-03-01"}
    assert found_by(clerk, **day) == [late, early]  # in UTC, both are on the 1st
    assert post_form(clerk, "/account/time-zone", {"time_zone": "Asia/Tokyo"}).status_code < 400
    assert found_by(clerk, **day) == [early]
    assert found_by(clerk, created_from="2026-03-02", created_to="2026-03-02") == [late]


# -- an empty result, and what cannot be searched --------------------------------------------


def test_an_empty_result_says_what_found_nothing_and_offers_to_clear_it(clerk, make_order):
    make_order(buyer_name="Ada Lovelace")
    for headers in ({}, HTMX):
        response = clerk.get(
            "/orders",
            query_string={"q": "zed", "state": "open", "created_from": "2026-01-01"},
            headers=headers,
        )
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert numbers_on(page) == []
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
        assert "No orders match “zed” in state open created from 2026-01-01. Clear search" in text
        assert re.search(r'<a href="/orders">Clear search</a>', page)
    only_dates = clerk.get("/orders?created_from=2026-12-02&created_to=2026-12-03")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", only_dates.get_data(as_text=True)))
    assert "No orders match created 2026-12-02 to 2026-12-03. Clear search" in text


def test_an_empty_list_without_a_filter_offers_nothing_to_clear(clerk):
    page = clerk.get("/orders").get_data(as_text=True)
    assert "No orders to show." in page
    assert "Clear search" not in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"created_from": "2026-13-01"}, "The “created from” day is not a date"),
        ({"created_to": "yesterday"}, "The “created to” day is not a date"),
        ({"created_from": "2026-2-30"}, "write it as YYYY-MM-DD"),
        ({"created_from": "2026-02-30"}, "The “created from” day is not a date"),
        ({"created_from": "20261201"}, "The “created from” day is not a date"),
        ({"created_from": "2026-12-01T00:00"}, "The “created from” day is not a date"),
        ({"created_to": full_width("2026") + "-12-01"}, "The “created to” day is not a date"),
        (
            {"created_from": "2026-12-09", "created_to": "2026-12-01"},
            "The “created from” day (2026-12-09) is after the “created to” day (2026-12-01)",
        ),
        ({"q": "a b c d e f g h i"}, "A search takes at most 8 words of a name; this one has 9."),
    ],
)
def test_a_range_or_search_it_cannot_use_shows_the_list_with_the_reason(clerk, query, message):
    response = clerk.get("/orders", query_string=query)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<h1>Orders</h1>" in page and 'id="list-problem"' in page
    assert message in page
    for name, value in query.items():  # the filters as typed, to correct
        assert f'name="{name}" value="{value}"' in page
    partial = clerk.get("/orders", query_string=query, headers=HTMX)
    assert partial.status_code == 200  # htmx swaps no 4xx in
    assert message in partial.get_data(as_text=True)
