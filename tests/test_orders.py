"""Creating, listing, searching and showing orders, through the real pages."""

import re
import sqlite3

import psycopg
import pytest
from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from dashboard.domain.orders import LineDraft, OrderState
from dashboard.extensions import db
from dashboard.models import Order, OrderLine, Role, TimelineEntry
from tests.support.database import count
from tests.support.web import HTMX, post_form


def order_form(**overrides):
    data = {
        "buyer_name": "Ada Lovelace",
        "buyer_email": "Ada@Example.com",
        "currency": "USD",
        "lines-0-description": "Analytical engine",
        "lines-0-quantity": "2",
        "lines-0-unit_price": "12.50",
    }
    data.update(overrides)
    return data


def test_staff_creates_an_order_and_sees_it(app, signed_in):
    client = signed_in(Role.STAFF)
    response = post_form(
        client,
        "/orders/new",
        order_form(**{"lines-1-description": "Cards", "lines-1-unit_price": "0.45"}),
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ada Lovelace" in page
    assert "ada@example.com" in page  # emails are stored lower-case
    assert 'id="order-total">$25.45<' in page
    assert "Order created by staff@shop.example for $25.45" in page
    with app.app_context():
        order = db.session.scalar(select(Order))
        assert (order.total_amount, order.currency, order.state) == (2545, "USD", "open")
        assert [(line.quantity, line.unit_amount, line.amount) for line in order.lines] == [
            (2, 1250, 2500),
            (1, 45, 45),
        ]
        assert order.created_by.email == "staff@shop.example"


@pytest.mark.parametrize(
    ("currency", "price", "minor", "shown"),
    [("JPY", "1000", 1000, "¥1,000"), ("KWD", "1.005", 1005, "KWD 1.005")],
)
def test_prices_convert_by_the_currency_exponent(app, signed_in, currency, price, minor, shown):
    client = signed_in(Role.STAFF)
    data = order_form(currency=currency, **{"lines-0-quantity": "1", "lines-0-unit_price": price})
    response = post_form(client, "/orders/new", data, follow_redirects=True)
    assert f'id="order-total">{shown}<' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(Order.total_amount)) == minor


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"currency": "JPY", "lines-0-unit_price": "10.5"}, "JPY has no minor unit"),
        ({"lines-0-unit_price": "12.505"}, "at most 2 decimal places"),
        ({"lines-0-unit_price": "abc"}, "digits with a dot"),
        ({"lines-0-unit_price": "0"}, "more than zero"),
        ({"lines-0-quantity": "0"}, "A whole number from 1"),
        ({"lines-0-quantity": "²"}, "A whole number from 1"),
        ({"lines-0-quantity": "99999999999999999999"}, "A whole number from 1"),
        ({"lines-0-description": ""}, "Describe what is sold"),
        (
            {"lines-0-description": "", "lines-0-quantity": "", "lines-0-unit_price": ""},
            "Add at least one line",
        ),
        ({"buyer_email": "not-an-email"}, "Invalid email address"),
        ({"buyer_name": ""}, "This field is required"),
        ({"currency": "XXX"}, "Not a valid choice"),
        ({"lines-0-quantity": "10000", "lines-0-unit_price": "99999.99"}, "largest amount"),
    ],
)
def test_bad_order_input_rerenders_with_a_message_and_writes_nothing(
    app, signed_in, overrides, message
):
    client = signed_in(Role.STAFF)
    response = post_form(client, "/orders/new", order_form(**overrides))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'value="Ada Lovelace"' in page or overrides.get("buyer_name") == ""
    assert count(app, Order) == 0
    assert count(app, OrderLine) == 0
    assert count(app, TimelineEntry) == 0


def test_add_line_keeps_what_was_typed_and_writes_nothing(app, signed_in):
    client = signed_in(Role.STAFF)
    response = post_form(client, "/orders/new", {**order_form(), "add_line": "Add a line"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="lines-1-description"' in page
    assert 'value="Analytical engine"' in page
    assert count(app, Order) == 0


def test_blank_extra_lines_are_dropped(app, signed_in):
    client = signed_in(Role.STAFF)
    data = order_form(
        **{"lines-1-description": "", "lines-1-quantity": "", "lines-1-unit_price": ""}
    )
    assert post_form(client, "/orders/new", data).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OrderLine)) == 1


def test_database_refuses_a_non_positive_total(app, make_order):
    order = make_order()
    with app.app_context():
        with pytest.raises(IntegrityError):
            db.session.execute(
                insert(Order).values(
                    buyer_name="x",
                    buyer_email="x@example.com",
                    currency="USD",
                    total_amount=0,
                    state="open",
                    created_at=order.created_at,
                )
            )
        db.session.rollback()


def test_unknown_order_is_a_404_page(signed_in):
    response = signed_in(Role.SUPPORT).get("/orders/999999")
    assert response.status_code == 404
    assert "There is no order #999999." in response.get_data(as_text=True)


def numbers_on(page):
    return [int(n) for n in re.findall(r'href="/orders/(\d+)"', page)]


def test_list_is_newest_first_and_pages_by_keyset(app, signed_in, make_order):
    app.config["ORDERS_PER_PAGE"] = 5
    ids = [make_order(buyer_email=f"b{i}@example.com").id for i in range(12)]
    client = signed_in(Role.SUPPORT)
    first = client.get("/orders").get_data(as_text=True)
    assert numbers_on(first) == ids[::-1][:5]
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert numbers_on(second) == ids[::-1][5:10]
    third_link = re.search(r'href="([^"]+)" rel="next"', second).group(1).replace("&amp;", "&")
    third = client.get(third_link).get_data(as_text=True)
    assert numbers_on(third) == ids[::-1][10:]
    assert 'rel="next"' not in third
    newer = re.search(r'href="([^"]+)" rel="prev"', third).group(1).replace("&amp;", "&")
    assert numbers_on(client.get(newer).get_data(as_text=True)) == ids[::-1][5:10]


def test_filter_by_state_and_search(app, signed_in, make_order):
    open_order = make_order(buyer_email="alice@example.com")
    held = make_order(
        buyer_email="bob@example.com",
        state=OrderState.AUTHORIZED.value,
        stripe_payment_intent_id="pi_3Abc",
        stripe_checkout_session_id="cs_test_9",
        stripe_charge_id="ch_1",
    )
    client = signed_in(Role.SUPPORT)

    def found(query):
        return numbers_on(client.get("/orders", query_string=query).get_data(as_text=True))

    assert found({"state": "authorized"}) == [held.id]
    assert found({"state": "open"}) == [open_order.id]
    assert found({"q": "ALI"}) == [open_order.id]
    assert found({"q": "bob@example.com"}) == [held.id]
    assert found({"q": f"#{held.id}"}) == [held.id]
    assert found({"q": str(open_order.id)}) == [open_order.id]
    assert found({"q": "pi_3Abc"}) == [held.id]
    assert found({"q": "cs_test_9"}) == [held.id]
    assert found({"q": "ch_1"}) == [held.id]
    assert found({"q": "pi_3"}) == []  # Stripe ids match whole, never by prefix
    assert found({"q": "alice", "state": "authorized"}) == []
    assert found({"q": "99999999999999"}) == []


def lines(count):
    return {
        field: value
        for index in range(count)
        for field, value in (
            (f"lines-{index}-description", f"Part {index + 1}"),
            (f"lines-{index}-quantity", "1"),
            (f"lines-{index}-unit_price", "1.00"),
        )
    }


def test_more_lines_than_an_order_takes_are_shown_back_with_a_message(app, signed_in):
    """Issue 12, item 17: lines past 50 were dropped without a word."""
    client = signed_in(Role.STAFF)
    response = post_form(client, "/orders/new", {**order_form(), **lines(57)})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "An order takes at most 50 lines; this one has 57. Remove 7, or split it" in page
    assert 'value="Part 57"' in page  # every line typed is still there to edit
    assert count(app, Order) == 0


def test_fifty_lines_make_an_order_of_fifty_lines(app, signed_in):
    client = signed_in(Role.STAFF)
    response = post_form(client, "/orders/new", {**order_form(), **lines(50)})
    assert response.status_code == 303
    assert count(app, OrderLine) == 50


def test_add_a_line_at_fifty_lines_says_there_is_no_room_and_creates_nothing(app, signed_in):
    client = signed_in(Role.STAFF)
    full = {**order_form(), **lines(50)}
    response = post_form(client, "/orders/new", {**full, "add_line": "Add a line"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "An order takes at most 50 lines: there is no room for another." in page
    assert 'name="add_line"' not in page  # the button is gone, and says why
    assert 'id="no-room"' in page
    assert count(app, Order) == 0


def test_a_line_index_that_is_not_a_number_is_ignored_not_a_500(app, signed_in):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = signed_in(Role.STAFF)
    hostile = {"lines-²-description": "x", "lines-\u0661-quantity": "1"}
    response = post_form(client, "/orders/new", {**order_form(), **hostile})
    assert response.status_code == 303
    with app.app_context():
        assert [line.description for line in db.session.scalars(select(OrderLine))] == [
            "Analytical engine"
        ]


@pytest.mark.parametrize(
    "query", [{"state": "bogus"}, {"older_than": "abc"}, {"newer_than": "²"}, {"older_than": "-1"}]
)
def test_bad_list_parameters_get_a_clear_400(signed_in, query):
    response = signed_in(Role.SUPPORT).get("/orders", query_string=query)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "<h1>Orders</h1>" in page and 'id="list-problem"' in page  # the list, saying why


def test_htmx_gets_only_the_rows(signed_in, make_order):
    make_order()
    response = signed_in(Role.SUPPORT).get("/orders?q=buyer", headers=HTMX)
    page = response.get_data(as_text=True)
    assert "<table" in page
    assert "<html" not in page


def test_list_query_count_does_not_grow_with_rows(app, signed_in, make_order):
    client = signed_in(Role.SUPPORT)
    make_order()

    def statements_for_list():
        seen = []
        with app.app_context():
            engine = db.engine

        def record(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", record)
        try:
            assert client.get("/orders").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return len(seen)

    with_one = statements_for_list()
    for i in range(20):
        make_order(buyer_email=f"n{i}@example.com")
    assert statements_for_list() == with_one


# -- the list's queries and the indexes that serve them -------------------------------------

# The queries explain_list_queries runs, in its order.
LIST_QUERIES = ("first page", "by state", "by email", "deep page", "capture queue")

# Per database and query: the one scan of `orders` its plan must make, the index condition
# PostgreSQL must show under it (SQLite writes the condition into the scan line), and
# whether a sort may follow. A full walk of an index with a filter, another index, or a
# table scan is a different plan, and rejected.
INDEXED_PLANS: dict[str, dict[str, tuple[str, str | None, bool]]] = {
    "sqlite": {
        # The rowid b-tree walked backwards and stopped at LIMIT: nothing to sort.
        "first page": ("SCAN orders", None, False),
        "by state": ("SEARCH orders USING INDEX ix_orders_state_id (state=?)", None, False),
        # An email prefix is a range on the email index; SQLite then sorts only its matches.
        "by email": (
            "SEARCH orders USING INDEX ix_orders_buyer_email_id (buyer_email>? AND buyer_email<?)",
            None,
            True,
        ),
        "deep page": ("SEARCH orders USING INTEGER PRIMARY KEY (rowid<?)", None, False),
        # By deadline then id, read in the order of its index.
        "capture queue": (
            "SEARCH orders USING INDEX ix_orders_state_capture_before_id (state=?)",
            None,
            False,
        ),
    },
    "postgresql": {
        "first page": ("Index Scan Backward using pk_orders on orders", None, False),
        "by state": (
            "Index Scan Backward using ix_orders_state_id on orders",
            "(state)::text =",
            False,
        ),
        "by email": (
            "Index Scan using ix_orders_buyer_email_id on orders",
            "(buyer_email)::text >=",
            True,
        ),
        "deep page": ("Index Scan Backward using pk_orders on orders", "(id <", False),
        "capture queue": (
            "Index Scan using ix_orders_state_capture_before_id on orders",
            "(state)::text =",
            False,
        ),
    },
}


def _in_transaction(dbapi_connection):
    if isinstance(dbapi_connection, sqlite3.Connection):
        return dbapi_connection.in_transaction
    return dbapi_connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE


def explain_list_queries(app, *, drop=()):
    """The database's own plan (EXPLAIN rows) of each query the order list's services run
    (LIST_QUERIES, while they run those), in one transaction that is rolled back. The
    indexes named in `drop` are dropped first, inside it: DDL is transactional on both
    databases."""
    from dashboard.services.orders import CAPTURE_QUEUE_SIZE, capture_queue, list_orders

    with app.app_context():
        engine = db.engine
        postgres = engine.dialect.name == "postgresql"
        plans = []

        def explain(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and "FROM orders" in statement:
                prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
                raw = conn.connection.dbapi_connection.cursor()
                raw.execute(prefix + statement, parameters)
                plans.append(raw.fetchall())
                raw.close()

        def planner(setting, value):
            if postgres:
                db.session.execute(db.text(f"SET LOCAL {setting} = {value}"))

        event.listen(engine, "before_cursor_execute", explain)
        try:
            # On a near-empty table any plan is cheap; forbid the ones that would not
            # scale, so a Sort or Seq Scan left in the plan means no index can serve it.
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                planner(setting, "off")
            if drop:
                if not postgres:
                    # pysqlite begins no transaction before DDL: the DROP would be committed.
                    db.session.execute(db.text("BEGIN"))
                dbapi_connection = db.session.connection().connection.dbapi_connection
                assert _in_transaction(dbapi_connection), "a DROP now would outlive the test"
                for index in drop:
                    db.session.execute(db.text(f"DROP INDEX {index}"))
            list_orders(per_page=50)
            list_orders(state=OrderState.OPEN)
            planner("enable_sort", "on")  # only its matches are to be sorted, as on SQLite
            list_orders(search="buyer")
            planner("enable_sort", "off")
            list_orders(older_than=10**6)
            capture_queue(limit=CAPTURE_QUEUE_SIZE)  # above the first page
        finally:
            event.remove(engine, "before_cursor_execute", explain)
            db.session.rollback()
    return plans


def _plan_line(row):
    """One line of a plan: SQLite's detail column, or PostgreSQL's node without its costs."""
    line = str(row[-1]).strip().removeprefix("->").strip()
    return re.sub(r"\s+\(cost=[^)]*\)$", "", line)


def plans_off_their_index(dialect, plans):
    """The queries whose plan is not the read of its index that INDEXED_PLANS names, each
    with why and the plan."""
    problems = {}
    for query, (scan, condition, may_sort) in INDEXED_PLANS[dialect].items():
        lines = [_plan_line(row) for row in plans[query]]
        scans = [line for line in lines if line.startswith(("SCAN orders", "SEARCH orders"))]
        scans = scans or [line for line in lines if line.endswith(" on orders")]
        why = []
        if scans != [scan]:
            why.append(f"reads orders by {scans}, not by {scan!r}")
        if condition and not any(
            line.startswith("Index Cond:") and condition in line for line in lines
        ):
            why.append(f"has no index condition {condition!r}")
        if any(line.startswith("Filter:") for line in lines):
            why.append("filters rows the index let through")
        if not may_sort and any(line.startswith(("Sort", "USE TEMP B-TREE")) for line in lines):
            why.append("sorts")
        if why:
            problems[query] = "; ".join(why) + "\n    " + "\n    ".join(lines)
    return problems


def test_list_queries_use_an_index(app, make_order):
    """The list's queries are index scans, not full-table scans, on either database: each
    reads the index meant for it (test_the_index_check_rejects_a_plan_without_its_index
    shows this check failing)."""
    make_order()
    rows = explain_list_queries(app)
    assert len(rows) == 5
    with app.app_context():
        dialect = db.engine.dialect.name
    assert plans_off_their_index(dialect, dict(zip(LIST_QUERIES, rows, strict=True))) == {}
    plans = [" ".join(str(row) for row in plan) for plan in rows]
    first, by_state, by_email, deep, queue = plans
    for plan in plans:
        assert "Seq Scan" not in plan, plan
    # Walking an index in id order and stopping at LIMIT: nothing to sort.
    for plan in (first, by_state, deep):
        assert "TEMP B-TREE" not in plan and " Sort " not in plan, plan
    # An email prefix is a range on the email index (SQLite then sorts only its matches).
    assert "ix_orders_buyer_email_id" in by_email, by_email
    assert "ix_orders_state_id" in by_state, by_state
    # The capture queue, by deadline then id, read in the order of its index.
    assert "TEMP B-TREE" not in queue and " Sort " not in queue, queue
    assert "ix_orders_state_capture_before_id" in queue, queue


@pytest.mark.parametrize(
    ("index", "query"),
    [("ix_orders_state_id", "by state"), ("ix_orders_buyer_email_id", "by email")],
)
def test_the_index_check_rejects_a_plan_without_its_index(app, make_order, index, query):
    """Without the index, the query it serves gets another plan and the check says so, for
    that query alone. The index is dropped in a transaction that is rolled back."""
    make_order()
    rows = dict(zip(LIST_QUERIES, explain_list_queries(app, drop=[index]), strict=True))
    with app.app_context():
        dialect = db.engine.dialect.name
        still_there = {found["name"] for found in inspect(db.engine).get_indexes("orders")}

    problems = plans_off_their_index(dialect, rows)
    assert list(problems) == [query], problems
    assert index not in str(rows[query])  # the plan read orders some other way
    assert index in still_there  # the rollback brought it back


def test_detail_shows_lines_total_state_and_timeline(signed_in, make_order):
    order = make_order(currency="KWD", lines=[LineDraft("Binding", 3, 1005)])
    page = signed_in(Role.SUPPORT).get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Binding" in page
    assert "KWD 1.005" in page and "KWD 3.015" in page
    assert "state-open" in page
    assert "Order created by the system for KWD 3.015" in page
