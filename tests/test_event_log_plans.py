"""The event log stays as flat as the order list at a million events: every query its page
runs (the list in each filter, the counts needing attention, the health panel) is read off
an index, never a scan of the inbox (PostgreSQL's own plans, with sequential scans priced
out, as tests/test_orders.py checks the order list; figures: bench/event_log.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from dashboard.extensions import db
from dashboard.models import EventStatus
from dashboard.services import event_log


def explain_event_log(app, *, drop=()):
    """PostgreSQL's plan of each query an event log page runs, in a transaction that is
    rolled back (a shop's inbox of 5,000 events is written into it, then analysed)."""
    with app.app_context():
        engine = db.engine
        plans: list[tuple[str, str]] = []

        def explain(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith(("SELECT", "WITH")) and (
                "FROM stripe_events" in statement
            ):
                raw = conn.connection.dbapi_connection.cursor()
                raw.execute("EXPLAIN " + statement, parameters)
                plans.append((statement, "\n".join(str(row[0]) for row in raw.fetchall())))
                raw.close()

        db.session.execute(
            db.text(
                "INSERT INTO stripe_events (event_id, type, livemode, created, payload, source,"
                " status, first_received_at, last_received_at, payment_intent_id, object_id)"
                " SELECT 'evt_plan' || g, (ARRAY['charge.captured', 'charge.refunded',"
                " 'payment_intent.succeeded', 'customer.created'])[1 + g % 4], false,"
                " now() - make_interval(secs => g), '{}', 'webhook',"
                " (ARRAY['applied', 'ignored', 'applied', 'failed'])[1 + g % 4],"
                " now() - make_interval(secs => g), now() - make_interval(secs => g),"
                " 'pi_' || g, 'pi_' || g FROM generate_series(1, 5000) g"
            )
        )
        db.session.execute(db.text("ANALYZE stripe_events"))
        for index in drop:
            db.session.execute(db.text(f"DROP INDEX {index}"))
        db.session.execute(db.text("SET LOCAL enable_seqscan = off"))
        event.listen(engine, "before_cursor_execute", explain)
        try:
            event_log.event_log()
            event_log.list_events(status=EventStatus.APPLIED)
            event_log.list_events(status=EventStatus.FAILED, hours=24)  # Home's failures
            event_log.list_events(type_="charge.captured")
            event_log.list_events(older_than=2500)
            event_log.list_events(search="evt_plan42")
            event_log.list_events(search="pi_42")
        finally:
            event.remove(engine, "before_cursor_execute", explain)
            db.session.rollback()
    return plans


@pytest.fixture
def postgres_app(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's planner (SQLite's plans: the order list's test)")
    return app


def test_every_event_log_query_reads_an_index(postgres_app):
    plans = explain_event_log(postgres_app)
    assert len(plans) >= 10
    for statement, plan in plans:
        assert "Seq Scan" not in plan, (statement, plan)
    # The health panel's latest arrival per type: no aggregate over the whole inbox.
    (by_type,) = [plan for statement, plan in plans if "WITH RECURSIVE" in statement]
    assert "ix_stripe_events_type_last_received_at" in by_type, by_type
    assert "HashAggregate" not in by_type and "GroupAggregate" not in by_type, by_type
