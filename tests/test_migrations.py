"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from dashboard import MIGRATIONS_DIR, create_app
from dashboard.extensions import db
from tests.support.app import base_config

TABLES = {"users", "login_attempts", "orders", "order_lines", "timeline_entries"}


def test_migrated_database_matches_the_models(app):
    """The session fixture migrated an empty database; nothing is missing or extra."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
        assert set(inspect(connection).get_table_names()) >= TABLES


def test_migrations_go_down_and_up_again_on_an_empty_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    app = create_app(base_config(url), instance_path=str(tmp_path))
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        downgrade(directory=str(MIGRATIONS_DIR), revision="base")
        assert set(inspect(db.engine).get_table_names()) == {"alembic_version"}
        upgrade(directory=str(MIGRATIONS_DIR))
        assert set(inspect(db.engine).get_table_names()) >= TABLES
        db.engine.dispose()
