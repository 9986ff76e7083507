"""PostgreSQL's planner statistics, taken again when a bulk load has outgrown them
(`services.planner_statistics`): the sync and the applier grow a young database's tables
from nothing faster than autovacuum looks at them.

In a PostgreSQL database of this module's own, migrated afresh: statistics taken here
would change the plans other tests read on the shared one's near-empty tables (which is
why the rest of the suite runs with ANALYZE_GROWN_TABLES off). The counts read are
PostgreSQL's own (`pg_stat_user_tables`), reported by the inserting connection when it
commits (forced, as a busy backend reports at most once a second), and the effect is read
back from `pg_class`, `pg_stat_user_tables` and the plan of the query a page of events
runs to find its buyers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from dashboard import MIGRATIONS_DIR, create_app
from dashboard.extensions import db
from dashboard.models import Customer
from dashboard.payments.stripe_gateway import StripeGateway
from dashboard.services import planner_statistics
from dashboard.services.inbox.sync import EventSync
from tests.support.app import base_config
from tests.support.database import empty_and_dispose
from tests.support.stripe import TEST_KEY
from tests.test_event_sync import StripeEventList, canceled_payment


@pytest.fixture(scope="module")
def own_database(database_url: str) -> Iterator[str]:
    """A database beside the suite's PostgreSQL one, dropped afterwards."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite's planner reads no statistics that go stale this way")
    url = make_url(database_url).set(drivername="postgresql+psycopg")
    name = f"{url.database}_planner_statistics"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    own = url.set(database=name).render_as_string(hide_password=False)
    yield own
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_app(own_database: str, tmp_path, monkeypatch) -> Iterator[Flask]:
    app = create_app(
        {**base_config(own_database), "ANALYZE_GROWN_TABLES": True},
        instance_path=str(tmp_path / "instance"),
    )
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        db.session.execute(text("ANALYZE"))  # every table's statistics as of now
        db.session.commit()
    monkeypatch.setattr(planner_statistics, "_checked_at", -planner_statistics.CHECK_SECONDS)
    yield app
    with app.app_context():
        db.session.execute(text("DROP TABLE IF EXISTS planner_probe"))
        db.session.commit()
    empty_and_dispose(app)


def reported(statement, rows) -> None:
    """Run an insert and commit it, this connection reporting its counts on commit."""
    db.session.execute(statement, rows)
    db.session.execute(text("SELECT pg_stat_force_next_flush()"))
    db.session.commit()


def add_customers(count: int) -> None:
    rows = [{"email": f"buyer{n:05d}@example.com", "name": ""} for n in range(count)]
    reported(insert(Customer), rows)


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


def test_a_table_that_outgrew_its_statistics_is_analyzed(pg_app):
    with pg_app.app_context():
        add_customers(1200)
        assert estimated_rows("customers") <= 0  # taken when it was empty
        assert "Seq Scan on customers" in buyer_lookup_plan()  # so it is read whole

        assert planner_statistics.refresh() == ["customers"]

        assert estimated_rows("customers") == 1200
        plan = buyer_lookup_plan()
        assert "Seq Scan" not in plan and "Index Scan using uq_customers_email" in plan, plan


def add_rows(count: int) -> None:
    reported(
        text("INSERT INTO planner_probe (n) SELECT g FROM generate_series(1, :count) AS g"),
        {"count": count},
    )


def look_again() -> list[str]:
    planner_statistics._checked_at = -planner_statistics.CHECK_SECONDS
    return planner_statistics.refresh()


def test_growth_below_the_threshold_or_already_counted_calls_for_nothing(pg_app):
    with pg_app.app_context():
        db.session.execute(text("CREATE TABLE planner_probe (id serial PRIMARY KEY, n int)"))
        db.session.execute(text("ANALYZE planner_probe"))
        db.session.commit()

        add_rows(planner_statistics.MIN_CHANGES - 1)
        assert planner_statistics.refresh() == []  # fewer changes than MIN_CHANGES
        add_rows(1)
        assert planner_statistics.refresh() == []  # looked less than a second ago
        assert look_again() == ["planner_probe"]  # MIN_CHANGES rows, on none
        assert estimated_rows("planner_probe") == planner_statistics.MIN_CHANGES

        add_rows(planner_statistics.MIN_CHANGES - 1)
        assert look_again() == []  # it has to double now
        add_rows(1)
        assert look_again() == ["planner_probe"]


def test_a_first_sync_analyzes_a_table_it_finds_outgrown(pg_app):
    """The sync looks after its pages (the applier after each pass, the same call)."""
    now = int(time.time())
    double = StripeEventList([canceled_payment(n, now - (8 - n) * 3600) for n in range(1, 8)])
    pg_app.config.update(STRIPE_SECRET_KEY=TEST_KEY, STRIPE_API_BASE="")
    pg_app.extensions["stripe_gateway"] = StripeGateway(
        secret_key=TEST_KEY, http_client=double, max_network_retries=0
    )
    last_analyze = text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = :t")
    with pg_app.app_context():
        analyzed = db.session.scalar(last_analyze, {"t": "customers"})
        add_customers(1200)  # as many buyers as a first sync's pages would have made

        sync = EventSync(page_size=3)
        result = sync.run(sync.plan())

        assert result.new == 7
        assert db.session.scalar(last_analyze, {"t": "customers"}) > analyzed
        assert estimated_rows("customers") == 1200


def test_nothing_is_taken_when_turned_off(pg_app):
    pg_app.config["ANALYZE_GROWN_TABLES"] = False
    with pg_app.app_context():
        add_customers(1200)
        assert planner_statistics.refresh() == []
        assert estimated_rows("customers") <= 0


def test_sqlite_is_left_alone(app, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only")
    app.config["ANALYZE_GROWN_TABLES"] = True
    with app.app_context():
        assert planner_statistics.refresh() == []
