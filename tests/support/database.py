"""The test databases, and the rows a test reads back to check what the app wrote."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, func, select, text

from dashboard.extensions import db
from dashboard.models import (
    Order,
    OutboxEvent,
    StripeEvent,
    StripeRequest,
    TimelineEntry,
    TimelineKind,
)
from dashboard.services.sweep_lock import lock_key

# Every test that takes `app` runs on SQLite, and again on PostgreSQL when this is set.
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
BACKENDS = ["sqlite", "postgresql"] if TEST_DATABASE_URL else ["sqlite"]


def reset_postgres_schema(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def count(app: Flask, model: Any) -> int:
    """How many rows the model's table holds."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model)) or 0


def reload(app: Flask, order_id: int) -> Order:
    with app.app_context():
        order = db.session.get(Order, order_id)
        assert order is not None
        db.session.expunge(order)
        return order


def requests_of(app: Flask, order_id: int, action: str) -> list[StripeRequest]:
    """The order's saved Stripe requests for one action, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(StripeRequest)
            .where(StripeRequest.order_id == order_id, StripeRequest.action == action)
            .order_by(StripeRequest.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


def outbox_types(app: Flask, order_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(OutboxEvent.type)
                .where(OutboxEvent.order_id == order_id)
                .order_by(OutboxEvent.id)
            )
        )


def state_changes(app: Flask, order_id: int) -> list[dict[str, Any]]:
    """The data of the order's state-change timeline entries, oldest first."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(TimelineEntry.data)
                .where(
                    TimelineEntry.order_id == order_id,
                    TimelineEntry.kind == TimelineKind.STATE_CHANGE.value,
                )
                .order_by(TimelineEntry.id)
            )
        )


def stored_events(app: Flask) -> list[StripeEvent]:
    """The inbox, oldest first, detached from any session."""
    with app.app_context():
        rows = db.session.scalars(select(StripeEvent).order_by(StripeEvent.id)).all()
        db.session.expunge_all()
        return list(rows)


@contextmanager
def sweep_lock_held_elsewhere(app: Flask, name: str) -> Iterator[None]:
    """The sweep's lock, held by another process: from a connection of its own on
    PostgreSQL (as another host would), on the lock file on SQLite."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("postgresql"):
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                key = {"key": lock_key(name)}
                took = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), key)
                assert took.scalar() is True, "the lock is free before the test takes it"
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                    connection.commit()
        finally:
            engine.dispose()
    else:
        path = Path(app.instance_path) / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            yield


def empty_and_dispose(app: Flask) -> None:
    """After a test: every row it wrote deleted (children first), connections closed."""
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
        db.engine.dispose()
