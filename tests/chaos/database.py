"""`python -m tests.chaos.database URL`: create the chaos run's PostgreSQL database if missing."""

from __future__ import annotations

import sys

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from dashboard.config import normalize_database_url


def ensure_database(url: str) -> None:
    target = make_url(normalize_database_url(url))
    if target.database in (None, "", "test"):
        raise SystemExit("give the chaos run a database of its own (not `test`, CI's)")
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    engine.dispose()


if __name__ == "__main__":
    ensure_database(sys.argv[1])
