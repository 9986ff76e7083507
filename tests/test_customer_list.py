"""The Customers page: newest first, keyset pages, search by the start of an email or a
name's words; and each of its queries served by an index (the database's own plan), so it
stays fast at a million customers (bench/customer_list.py measures it)."""

from __future__ import annotations

import re

from sqlalchemy import event

from dashboard.extensions import db
from dashboard.models import Role
from dashboard.services import customers
from dashboard.services.customer_list import list_customers
from tests.support.web import full_width


def add_customers(app, people: list[tuple[str, str]]) -> None:
    with app.test_request_context():
        for email, name in people:
            customers.find_or_create(email, name)
        db.session.commit()


def test_search_by_email_prefix_or_name_words_and_page_through(app, signed_in):
    add_customers(
        app,
        [
            ("ada@example.com", "Ada Lovelace"),
            ("emile@example.com", "Émile Zola"),
            ("adam@example.com", "Adam Smith"),
            *[(f"n{i:02d}@example.com", f"Number {i}") for i in range(7)],
        ],
    )
    app.config["ORDERS_PER_PAGE"] = 4
    client = signed_in(Role.SUPPORT)

    def emails(query: str) -> list[str]:
        page = client.get(f"/customers?{query}").get_data(as_text=True)
        return re.findall(r"<td[^>]*>([^<]+@example\.com)</td>", page)

    assert emails("q=ada") == ["adam@example.com", "ada@example.com"]
    assert emails("q=lov") == ["ada@example.com"]
    assert emails("q=emi") == ["emile@example.com"]  # accents ignored
    assert emails("q=zola+emile") == ["emile@example.com"]
    assert emails(f"q={full_width('ADA')}@") == ["ada@example.com"]
    assert emails("q=adam@") == ["adam@example.com"]
    first = client.get("/customers").get_data(as_text=True)
    assert emails("") == [f"n{i:02d}@example.com" for i in (6, 5, 4, 3)]
    older = re.search(r'href="/customers\?older_than=(\d+)"', first)
    assert older
    assert emails(f"older_than={older.group(1)}") == [
        f"n{i:02d}@example.com" for i in (2, 1, 0)
    ] + ["adam@example.com"]
    bad = client.get("/customers?older_than=abc")
    assert bad.status_code == 400 and "must be a whole number" in bad.get_data(as_text=True)
    many = client.get("/customers?q=" + "+".join(f"w{i}" for i in range(9)))
    assert many.status_code == 400


def plans(app, searches: dict[str, dict[str, object]]) -> dict[str, str]:
    """The database's own plan of each search's query, with scans made dear (as the order
    list's plan test does): what is left is what an index serves."""
    found: dict[str, str] = {}
    with app.test_request_context():
        engine = db.engine
        postgres = engine.dialect.name == "postgresql"
        current: list[str] = []

        def explain(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and "FROM customers" in statement:
                prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
                raw = conn.connection.dbapi_connection.cursor()
                raw.execute(prefix + statement, parameters)
                current.extend(str(row[-1] if not postgres else row[0]) for row in raw.fetchall())
                raw.close()

        if postgres:
            for setting in ("seqscan", "sort"):
                db.session.execute(db.text(f"SET LOCAL enable_{setting} = off"))
        event.listen(engine, "before_cursor_execute", explain)
        try:
            for name, arguments in searches.items():
                current.clear()
                list_customers(per_page=50, **arguments)  # type: ignore[arg-type]
                found[name] = "\n".join(current)
        finally:
            event.remove(engine, "before_cursor_execute", explain)
            db.session.rollback()
    return found


def test_every_list_query_is_served_by_an_index(app):
    add_customers(app, [(f"p{i}@example.com", f"Person {i}") for i in range(30)])
    found = plans(
        app,
        {
            "first page": {"search": "", "older_than": None, "newer_than": None},
            "deep page": {"search": "", "older_than": 10, "newer_than": None},
            "by email": {"search": "p1@", "older_than": None, "newer_than": None},
            "by name or email": {"search": "pers", "older_than": None, "newer_than": None},
            "by name": {"search": "person 1", "older_than": None, "newer_than": None},
        },
    )
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    for name, plan in found.items():
        assert "Seq Scan" not in plan and "Sort" not in plan.replace("Sort Key", ""), (name, plan)
        assert not re.search(r"^SCAN customers$", plan, re.M) or name == "first page", (name, plan)
    if postgres:
        assert "pk_customers" in found["first page"]
        assert "ix_customers_email_id" in found["by email"]
        assert "ix_customers_name_words" in found["by name"]
        assert "ix_customers_name_words" in found["by name or email"]
    else:
        assert "COVERING INDEX ix_customers_email_id (email>? AND email<?)" in found["by email"]
        assert "customers_name_search VIRTUAL TABLE" in found["by name"]
        assert "customers_name_search VIRTUAL TABLE" in found["by name or email"]
        assert "INTEGER PRIMARY KEY (rowid<?)" in found["deep page"]
