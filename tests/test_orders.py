"""Creating, listing, searching and showing orders, through the real pages."""

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError, OperationalError

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
    assert found({"q": "pi_3"}) == [held.id]  # the start of a Stripe id finds it
    assert found({"q": "pi_3abc"}) == []  # Stripe ids are case-sensitive
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
LIST_QUERIES = (
    "first page",
    "by state",
    "by email",
    "deep page",
    "capture queue",
    "by name",
    "by name or email",
    "by stripe id",
    "created range",
)


@dataclass(frozen=True)
class IndexedPlan:
    """What a query's plan must be: every read of `orders` (its aliases, and on SQLite its
    name-search table; on PostgreSQL each index a bitmap is built from), in plan order;
    the index conditions PostgreSQL must show (SQLite writes them into the read); whether
    a sort may follow. A full walk of an index with a filter, another index, or a table
    scan is a different plan, and rejected."""

    reads: tuple[str, ...]
    conditions: tuple[str, ...] = ()
    may_sort: bool = False


# The created-date range: the first order created at or after each bound, off the
# (created_at, id) index, then the ids between them off the primary key, newest first.
SQLITE_FIRST_CREATED = "USING COVERING INDEX ix_orders_created_at_id (created_at>?)"
PG_FIRST_CREATED = "Index Only Scan using ix_orders_created_at_id on orders created"
SQLITE_EMAIL_RANGE = (
    "SEARCH orders USING INDEX ix_orders_buyer_email_id (buyer_email>? AND buyer_email<?)"
)
SQLITE_NAME_SEARCH = "SCAN orders_name_search VIRTUAL TABLE INDEX 0:M1"
PG_NAME_INDEX = "Bitmap Index Scan on ix_orders_buyer_name_words"
PG_NAME_CONDITION = "to_tsvector('order_names'::regconfig, (buyer_name)::text) @@"
PG_IDS_FOUND_FIRST = "Index Scan Backward using pk_orders on orders"
INDEXED_PLANS: dict[str, dict[str, IndexedPlan]] = {
    "sqlite": {
        # The rowid b-tree walked backwards and stopped at LIMIT: nothing to sort.
        "first page": IndexedPlan(("SCAN orders",)),
        "by state": IndexedPlan(("SEARCH orders USING INDEX ix_orders_state_id (state=?)",)),
        # An email prefix is a range on the email index; SQLite then sorts only its matches.
        "by email": IndexedPlan((SQLITE_EMAIL_RANGE,), may_sort=True),
        "deep page": IndexedPlan(("SEARCH orders USING INTEGER PRIMARY KEY (rowid<?)",)),
        # By deadline then id, read in the order of its index.
        "capture queue": IndexedPlan(
            ("SEARCH orders USING INDEX ix_orders_state_capture_before_id (state=?)",)
        ),
        # The FTS5 table's matches, their ids read back in order off the rowid b-tree.
        "by name": IndexedPlan(
            ("SEARCH orders USING INTEGER PRIMARY KEY (rowid=?)", SQLITE_NAME_SEARCH)
        ),
        # The ids either index holds, read back in order off the rowid b-tree.
        "by name or email": IndexedPlan(
            (
                "SEARCH orders USING INTEGER PRIMARY KEY (rowid=?)",
                "SEARCH by_email USING COVERING INDEX ix_orders_buyer_email_id "
                "(buyer_email>? AND buyer_email<?)",
                SQLITE_NAME_SEARCH,
            )
        ),
        "by stripe id": IndexedPlan(
            (
                "SEARCH orders USING INDEX ix_orders_stripe_payment_intent_id "
                "(stripe_payment_intent_id>? AND stripe_payment_intent_id<?)",
            ),
            may_sort=True,
        ),
        "created range": IndexedPlan(
            (
                "SEARCH orders USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
                f"SEARCH created {SQLITE_FIRST_CREATED}",
                f"SEARCH created {SQLITE_FIRST_CREATED}",
            )
        ),
    },
    "postgresql": {
        "first page": IndexedPlan(("Index Scan Backward using pk_orders on orders",)),
        "by state": IndexedPlan(
            ("Index Scan Backward using ix_orders_state_id on orders",), ("(state)::text =",)
        ),
        "by email": IndexedPlan(
            ("Index Scan using ix_orders_buyer_email_id on orders",),
            ("(buyer_email)::text >=",),
            may_sort=True,
        ),
        "deep page": IndexedPlan(("Index Scan Backward using pk_orders on orders",), ("(id <",)),
        "capture queue": IndexedPlan(
            ("Index Scan using ix_orders_state_capture_before_id on orders",),
            ("(state)::text =",),
        ),
        # The matching ids first (GIN is read through a bitmap), as an array the primary
        # key is then read by, newest first: nothing to sort.
        "by name": IndexedPlan(
            ("Bitmap Heap Scan on orders by_name", PG_NAME_INDEX, PG_IDS_FOUND_FIRST),
            (PG_NAME_CONDITION, "(id = ANY ($0))"),
        ),
        "by name or email": IndexedPlan(
            (
                "Index Only Scan using ix_orders_buyer_email_id on orders by_email",
                "Bitmap Heap Scan on orders by_name",
                PG_NAME_INDEX,
                PG_IDS_FOUND_FIRST,
            ),
            ("(buyer_email >= 'buyer'", PG_NAME_CONDITION, "(id = ANY ($0))"),
        ),
        "by stripe id": IndexedPlan(
            ("Index Scan using ix_orders_stripe_payment_intent_id on orders",),
            ("(stripe_payment_intent_id)::text >=",),
            may_sort=True,
        ),
        "created range": IndexedPlan(
            (
                PG_FIRST_CREATED,
                f"{PG_FIRST_CREATED}_1",  # EXPLAIN's name for the second subquery's alias
                "Index Scan Backward using pk_orders on orders",
            ),
            ("(created_at >=", "(id >= COALESCE(", "(id < COALESCE("),
        ),
    },
}
# A plan line that reads orders, one of its aliases, the name-search table, or an index.
PLAN_READ = re.compile(r"^(SCAN|SEARCH) |Scan.* on \w+( \w+)?$")


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

        def planner(**settings):
            for setting, on in settings.items():
                if postgres:
                    value = "on" if on else "off"
                    db.session.execute(db.text(f"SET LOCAL enable_{setting} = {value}"))

        event.listen(engine, "before_cursor_execute", explain)
        try:
            # On a near-empty table any plan is cheap; forbid the ones that would not
            # scale, so a Sort or Seq Scan left in the plan means no index can serve it.
            planner(seqscan=False, bitmapscan=False, sort=False)
            if postgres:
                # PostgreSQL plans by its statistics, and on a table of a few rows, or with
                # those an earlier test left (a table of open orders since emptied, say), any
                # plan will do. A shop's table instead, in this transaction: 3,000 orders in
                # the other states over four months, then read.
                db.session.execute(
                    db.text(
                        "INSERT INTO orders (buyer_name, buyer_email, currency, total_amount,"
                        " state, created_at) SELECT 'Shopper ' || g,"
                        " 'shopper' || g || '@shop.example', 'USD', 1000,"
                        " (ARRAY['captured', 'voided', 'refunded', 'failed', 'expired'])"
                        "[1 + g % 5],"
                        " now() - make_interval(hours => g) FROM generate_series(1, 3000) g"
                    )
                )
                db.session.execute(db.text("ANALYZE orders"))
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
            planner(sort=True)  # only its matches are to be sorted, as on SQLite
            list_orders(search="buyer@ex")
            planner(sort=False)
            list_orders(older_than=10**6)
            capture_queue(limit=CAPTURE_QUEUE_SIZE)  # above the first page
            planner(bitmapscan=True)  # a GIN index is read through a bitmap only
            list_orders(search="buyer nam")
            list_orders(search="buyer")
            planner(bitmapscan=False, sort=True)
            list_orders(search="pi_3")
            planner(sort=False)
            list_orders(
                created_from=datetime(2026, 12, 1, tzinfo=UTC),
                created_before=datetime(2026, 12, 8, tzinfo=UTC),
            )
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
    for query, expected in INDEXED_PLANS[dialect].items():
        lines = [_plan_line(row) for row in plans[query]]
        reads = [line for line in lines if PLAN_READ.search(line)]
        why = []
        if reads != list(expected.reads):
            why.append(f"reads orders by {reads}, not by {list(expected.reads)}")
        for condition in expected.conditions:
            if not any(line.startswith("Index Cond:") and condition in line for line in lines):
                why.append(f"has no index condition {condition!r}")
        if any(line.startswith("Filter:") for line in lines):
            why.append("filters rows the index let through")
        if not expected.may_sort and any(
            line.startswith(("Sort", "USE TEMP B-TREE")) for line in lines
        ):
            why.append("sorts")
        if why:
            problems[query] = "; ".join(why) + "\n    " + "\n    ".join(lines)
    return problems


def test_list_queries_use_an_index(app, make_order):
    """The list's queries are index scans, not full-table scans, on either database: each
    reads the index meant for it (test_the_index_check_rejects_a_plan_without_its_index
    shows this check failing): the first page, a state, the start of an email, a deep page,
    the capture queue, the starts of a name's words (alone, or with the start of an email),
    the start of a Stripe id, and a created-date range."""
    make_order()
    rows = explain_list_queries(app)
    assert len(rows) == len(LIST_QUERIES)
    with app.app_context():
        dialect = db.engine.dialect.name
    assert plans_off_their_index(dialect, dict(zip(LIST_QUERIES, rows, strict=True))) == {}
    plans = dict(
        zip(LIST_QUERIES, (" ".join(str(row) for row in plan) for plan in rows), strict=True)
    )
    for plan in plans.values():
        assert "Seq Scan" not in plan, plan
    # Walking an index in id order and stopping at LIMIT: nothing to sort.
    for query in ("first page", "by state", "deep page", "created range", "capture queue"):
        assert "TEMP B-TREE" not in plans[query] and " Sort " not in plans[query], plans[query]
    assert "ix_orders_buyer_email_id" in plans["by email"], plans["by email"]
    assert "ix_orders_state_id" in plans["by state"], plans["by state"]
    assert "ix_orders_state_capture_before_id" in plans["capture queue"], plans["capture queue"]
    name_index = "orders_name_search" if dialect == "sqlite" else "ix_orders_buyer_name_words"
    for query in ("by name", "by name or email"):
        assert name_index in plans[query], plans[query]
    assert "ix_orders_created_at_id" in plans["created range"], plans["created range"]


@pytest.mark.parametrize(
    ("index", "queries"),
    [
        ("ix_orders_state_id", ["by state"]),
        ("ix_orders_buyer_email_id", ["by email", "by name or email"]),
        ("ix_orders_stripe_payment_intent_id", ["by stripe id"]),
        ("ix_orders_created_at_id", ["created range"]),
        ("ix_orders_buyer_name_words", ["by name", "by name or email"]),
    ],
)
def test_the_index_check_rejects_a_plan_without_its_index(app, make_order, index, queries):
    """Without the index, the queries it serves get another plan and the check says so, for
    those queries alone. The index is dropped in a transaction that is rolled back.
    (SQLite's name index is a table the query names: without it the search cannot run at
    all, test_sqlite_name_search_reads_its_table_or_nothing.)"""
    make_order()
    with app.app_context():
        dialect = db.engine.dialect.name
    if index == "ix_orders_buyer_name_words" and dialect != "postgresql":
        pytest.skip("PostgreSQL's name index; SQLite's is a table")
    rows = dict(zip(LIST_QUERIES, explain_list_queries(app, drop=[index]), strict=True))
    with app.app_context():
        still_there = {found["name"] for found in inspect(db.engine).get_indexes("orders")}

    problems = plans_off_their_index(dialect, rows)
    assert list(problems) == queries, problems
    for query in queries:
        assert index not in str(rows[query])  # the plan read orders some other way
    assert index in still_there  # the rollback brought it back


def test_sqlite_name_search_reads_its_table_or_nothing(app, make_order):
    """SQLite's name index is the FTS5 table the search names: without it the search has
    no plan at all, rather than one reading every name. Dropped in a transaction that is
    rolled back."""
    from dashboard.services.orders import list_orders

    order = make_order()
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's name index (PostgreSQL's: the test above)")
        db.session.execute(db.text("BEGIN"))
        db.session.execute(db.text("DROP TABLE orders_name_search"))
        with pytest.raises(OperationalError, match="no such table: orders_name_search"):
            list_orders(search="buyer nam")
        db.session.rollback()
        assert [found.id for found in list_orders(search="buyer nam").rows] == [order.id]


def test_detail_shows_lines_total_state_and_timeline(signed_in, make_order):
    order = make_order(currency="KWD", lines=[LineDraft("Binding", 3, 1005)])
    page = signed_in(Role.SUPPORT).get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Binding" in page
    assert "KWD 1.005" in page and "KWD 3.015" in page
    assert "state-open" in page
    assert "Order created by the system for KWD 3.015" in page
