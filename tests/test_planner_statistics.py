"""PostgreSQL's planner statistics, taken again when a bulk load has outgrown them
(`services.planner_statistics`): the sync and the applier grow a young database's tables
from nothing faster than autovacuum looks at them.

Against the real database: the counts read are PostgreSQL's own (`pg_stat_user_tables`),
reported by the inserting connection when it commits (forced, as a busy backend reports at
most once a second), and the effect is read back from `pg_class` and from the plan of the
query a page of events runs to find its buyers."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text

from dashboard.extensions import db
from dashboard.models import Customer
from dashboard.services import planner_statistics
from tests.support.database import BACKENDS

pytestmark = pytest.mark.skipif(
    "postgresql" not in BACKENDS, reason="needs PostgreSQL: set TEST_DATABASE_URL"
)


@pytest.fixture
def postgresql_app(app, database_url, monkeypatch):
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's planner reads no statistics that go stale this way")
    monkeypatch.setattr(planner_statistics, "_checked_at", -planner_statistics.CHECK_SECONDS)
    with app.app_context():
        # Every table's statistics as of now (the suite's earlier tests wrote and deleted).
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    return app


def add_customers(count: int) -> None:
    """Insert `count` customers and have this connection report them on commit."""
    db.session.execute(
        insert(Customer),
        [{"email": f"buyer{n:05d}@example.com", "name": ""} for n in range(count)],
    )
    db.session.execute(text("SELECT pg_stat_force_next_flush()"))
    db.session.commit()


def estimated_rows(table: str) -> float:
    return float(
        db.session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table})
    )


def buyer_lookup_plan() -> str:
    """The plan of the query a page of events finds its buyers with (a few emails)."""
    emails = [f"buyer{n:05d}@example.com" for n in (7, 700, 1100)]
    query = select(Customer).where(Customer.email.in_(emails))
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    return "\n".join(db.session.scalars(text(f"EXPLAIN {sql}")))


def test_a_table_that_outgrew_its_statistics_is_analyzed(postgresql_app):
    with postgresql_app.app_context():
        add_customers(1200)
        assert estimated_rows("customers") <= 0  # taken when it was empty

        assert "customers" in planner_statistics.refresh()

        assert estimated_rows("customers") == 1200
        plan = buyer_lookup_plan()
        assert "Seq Scan" not in plan and "Index Scan using uq_customers_email" in plan, plan


@pytest.fixture
def scratch_table(postgresql_app):
    """A table of this test's own, so that no other test's writes count in its figures."""
    with postgresql_app.app_context():
        db.session.execute(text("CREATE TABLE planner_probe (id serial PRIMARY KEY, n int)"))
        db.session.execute(text("ANALYZE planner_probe"))
        db.session.commit()
    yield "planner_probe"
    with postgresql_app.app_context():
        db.session.execute(text("DROP TABLE planner_probe"))
        db.session.commit()


def add_rows(count: int) -> None:
    db.session.execute(
        text("INSERT INTO planner_probe (n) SELECT g FROM generate_series(1, :count) AS g"),
        {"count": count},
    )
    db.session.execute(text("SELECT pg_stat_force_next_flush()"))
    db.session.commit()


def test_growth_below_the_threshold_or_already_counted_calls_for_nothing(
    postgresql_app, scratch_table
):
    with postgresql_app.app_context():
        add_rows(planner_statistics.MIN_CHANGES - 1)
        assert scratch_table not in planner_statistics.refresh()  # fewer than MIN_CHANGES

        add_rows(1)
        assert planner_statistics.refresh() == []  # looked less than a second ago

        planner_statistics._checked_at = -planner_statistics.CHECK_SECONDS
        assert scratch_table in planner_statistics.refresh()  # MIN_CHANGES rows, on none
        assert estimated_rows(scratch_table) == planner_statistics.MIN_CHANGES

        add_rows(planner_statistics.MIN_CHANGES - 1)
        planner_statistics._checked_at = -planner_statistics.CHECK_SECONDS
        assert scratch_table not in planner_statistics.refresh()  # it has to double now
        add_rows(1)
        planner_statistics._checked_at = -planner_statistics.CHECK_SECONDS
        assert scratch_table in planner_statistics.refresh()


def test_sqlite_is_left_alone(app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    with app.app_context():
        assert planner_statistics.refresh() == []
