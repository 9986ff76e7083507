"""The Disputes page's queries read the (evidence_due_by, id) index in its order, on either
database: no table scan, no sort, so a deep page costs what the first one does (as the
order list's, tests/test_orders.py). Dropping the index shows the check failing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import event

from dashboard.extensions import db
from dashboard.services.dispute_list import Cursor, list_disputes

INDEX = "ix_disputes_evidence_due_by_id"


def explain_list_queries(app, order_id, *, drop=False):
    """EXPLAIN of each query the list runs for: the first page, a page after a dated
    dispute, a page after one with no deadline; in a transaction rolled back."""
    with app.app_context():
        engine = db.engine
        postgres = engine.dialect.name == "postgresql"
        plans = []

        def explain(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and "FROM disputes" in statement:
                raw = conn.connection.dbapi_connection.cursor()
                raw.execute(
                    ("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement, parameters
                )
                plans.append(" | ".join(str(row[-1]) for row in raw.fetchall()))
                raw.close()

        event.listen(engine, "before_cursor_execute", explain)
        try:
            if postgres:
                for setting in ("seqscan", "sort", "bitmapscan"):
                    db.session.execute(db.text(f"SET LOCAL enable_{setting} = off"))
                db.session.execute(
                    db.text(
                        "INSERT INTO disputes (order_id, stripe_dispute_id, amount, currency,"
                        " reason, status, evidence_due_by, created_at, updated_at)"
                        " SELECT :order, 'dp_plan_' || g, 100, 'USD', 'fraudulent',"
                        " 'needs_response', CASE WHEN g % 10 = 0 THEN NULL ELSE"
                        " now() + make_interval(hours => g) END, now(), now()"
                        " FROM generate_series(1, 3000) g"
                    ),
                    {"order": order_id},
                )
                db.session.execute(db.text("ANALYZE disputes"))
            else:
                db.session.execute(db.text("BEGIN"))
            if drop:
                db.session.execute(db.text(f"DROP INDEX {INDEX}"))
            list_disputes(per_page=50)
            list_disputes(after=Cursor(datetime(2026, 12, 7, tzinfo=UTC), 10), per_page=50)
            list_disputes(after=Cursor(None, 10), per_page=50)
        finally:
            event.remove(engine, "before_cursor_execute", explain)
            db.session.rollback()
    return plans


def off_the_index(plan: str) -> list[str]:
    problems = []
    if INDEX not in plan:
        problems.append("does not read the deadline index")
    if "Seq Scan" in plan or "SCAN disputes" in plan:
        problems.append("scans the table")
    if "TEMP B-TREE" in plan or "Sort" in plan:
        problems.append("sorts")
    return problems


def test_the_dispute_list_reads_its_index_in_order(app, make_order):
    order = make_order()
    plans = explain_list_queries(app, order.id)
    # The first page (an empty table: dated, then undated), after a dated dispute (dated,
    # then undated), after an undated one (undated only).
    assert len(plans) >= 3, plans
    assert {plan: off_the_index(plan) for plan in plans} == {plan: [] for plan in plans}


def test_the_index_check_fails_without_the_index(app, make_order):
    order = make_order()
    plans = explain_list_queries(app, order.id, drop=True)
    assert all(off_the_index(plan) for plan in plans), plans
    with app.app_context():
        names = {i["name"] for i in db.inspect(db.engine).get_indexes("disputes")}
    assert INDEX in names  # the rollback brought it back
