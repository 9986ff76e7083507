"""Home reads no table whole: each of its queries, and the list behind its figures, is a
range of an index (or of a rollup's primary key), on PostgreSQL and SQLite alike. The plans
are read from the database, as tests/test_orders.py does for the order list."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import event

from dashboard.extensions import db
from dashboard.models import StripeEvent
from dashboard.services.dispute_list import list_disputes
from dashboard.services.inbox.health import slowest_deliveries
from dashboard.services.overview.home import home_figures
from dashboard.services.overview.movements import (
    list_attempts,
    list_holds,
    list_movements,
    list_settled,
)

# Each table Home reads, and what must serve the read.
SERVED_BY = {
    "overview_buckets": ("pk_overview_buckets", "sqlite_autoindex_overview_buckets"),
    "overview_declines": ("pk_overview_declines", "sqlite_autoindex_overview_declines"),
    "orders": (
        "ix_orders_state",  # ix_orders_state_id and ix_orders_state_capture_before_id
        "INTEGER PRIMARY KEY",  # the holds page cursor's row, by id
        "pk_orders",
    ),
    "disputes": ("ix_disputes_status_evidence_due_by",),
    "stripe_events": (
        "ix_stripe_events_created",
        "ix_stripe_events_status_id",
        "INTEGER PRIMARY KEY",  # the slowest deliveries' page, by id
        "pk_stripe_events",
    ),
    "payment_attempts": (
        "ix_payment_attempts_currency_first_seen_at_id",
        "INTEGER PRIMARY KEY",  # the page cursor's row, by id
        "pk_payment_attempts",
    ),
    "money_movements": (
        "ix_money_movements_kind_currency_occurred_at",
        "ix_money_movements_settlement_currency_occurred_at_id",
        # The exports' index: a range of instants, as the planner may prefer on small tables.
        "ix_money_movements_occurred_at_id",
        "INTEGER PRIMARY KEY",  # the page cursor's row, by id
        "pk_money_movements",
    ),
}


# The open disputes a figure links to that have no deadline (no response possible) come
# last: the deadline index's range of NULLs (as on the whole list), or the status index's
# (open statuses, no deadline), whichever the planner takes.
UNDATED_DISPUTES = (
    "evidence_due_by IS NULL",
    ("ix_disputes_evidence_due_by_id", "ix_disputes_status_evidence_due_by"),
)


def home_plans(app) -> list[tuple[str, str]]:
    """(statement, plan) for every SELECT that Home and its movement list run."""
    with app.app_context():
        engine = db.engine
        postgres = engine.dialect.name == "postgresql"
        seen: list[tuple[str, object]] = []

        def keep(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append((statement, parameters))

        if postgres:
            # On near-empty tables any plan is cheap: forbid the ones that would not scale.
            db.session.execute(db.text("SET LOCAL enable_seqscan = off"))
        event.listen(engine, "before_cursor_execute", keep)
        try:
            now = datetime(2026, 12, 7, 12, tzinfo=UTC)
            home_figures(UTC, timedelta(hours=48), now)
            list_movements("refund", "USD", now - timedelta(days=7), now, older_than=1)
            week = (now - timedelta(days=7), now)
            list_attempts("USD", *week, reason="card_declined", older_than=1)
            list_attempts("USD", *week)
            list_settled("USD", *week, older_than=1)
            list_disputes(open_in="USD")
            list_holds("USD", now, timedelta(hours=48), expiring_only=True, after=1)
            slowest_deliveries(now)
        finally:
            event.remove(engine, "before_cursor_execute", keep)
        plans = []
        raw = db.session.connection().connection.dbapi_connection.cursor()
        for statement, parameters in seen:
            raw.execute(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement, parameters)
            plans.append((statement, "\n".join(str(row[-1]) for row in raw.fetchall())))
        raw.close()
        db.session.rollback()
    return plans


def test_home_reads_every_table_through_an_index(app, make_order):
    make_order()
    with app.app_context():  # one delivery in Home's day, for the slowest deliveries' page
        created = datetime(2026, 12, 7, 11, tzinfo=UTC)
        db.session.add(
            StripeEvent(
                event_id="evt_plan_lag",
                type="charge.captured",
                livemode=False,
                created=created,
                payload={"id": "evt_plan_lag", "data": {"object": {}}},
                source="webhook",
                status="applied",
                first_received_at=created + timedelta(seconds=3),
                last_received_at=created + timedelta(seconds=3),
            )
        )
        db.session.commit()
    plans = home_plans(app)
    by_id = re.compile(r"stripe_events\.id IN \((?!\s*\(?SELECT)")
    assert [s for s, _ in plans if by_id.search(s)]  # the slowest deliveries' page, by id
    read = set()
    for statement, plan in plans:
        assert "Seq Scan" not in plan, plan
        for line in plan.splitlines():
            assert not (line.strip().startswith("SCAN ") and "INDEX" not in line), plan
        for table, served_by in SERVED_BY.items():
            undated = table == "disputes" and UNDATED_DISPUTES[0] in statement
            indexes = UNDATED_DISPUTES[1] if undated else served_by
            if f"FROM {table}" in statement:
                assert any(index in plan for index in indexes), (table, plan)
                read.add(table)
    assert read == set(SERVED_BY)  # every read of Home was looked at
    # What was settled in a currency is read off its own index, not found among every
    # movement of the span.
    settled = [plan for statement, plan in plans if "settlement_currency =" in statement]
    assert len(settled) == 2  # the count and sums, the page
    assert all("ix_money_movements_settlement_currency_occurred_at_id" in p for p in settled)
