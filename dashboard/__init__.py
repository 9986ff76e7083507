"""The merchant payments dashboard: a Flask application factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def create_app(
    test_config: Mapping[str, Any] | None = None, *, instance_path: str | None = None
) -> Flask:
    """Build the app from the environment; tests pass overrides in test_config."""
    from dashboard import cli, config, postgres_driver, web
    from dashboard.extensions import csrf, db, login_manager, migrate
    from dashboard.payments import gateway as payments_gateway
    from dashboard.services import agent_events, timeline
    from dashboard.services.overview import rollups
    from dashboard.views import register_blueprints, webhooks

    # INSTANCE_PATH (absolute) moves the instance folder, e.g. for tests; gunicorn inherits it.
    instance_path = instance_path or os.environ.get("INSTANCE_PATH") or None
    app = web.DashboardApp(
        __name__,
        instance_path=instance_path,
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    instance = Path(app.instance_path)
    app.config.from_mapping(config.from_environment(instance))
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.config.from_mapping(config.derived(app.config))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = postgres_driver.engine_options(
        str(app.config["SQLALCHEMY_DATABASE_URI"]), app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    )
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = config.generated_secret_key(instance)

    payments_gateway.init_app(app)
    db.init_app(app)
    with app.app_context():
        postgres_driver.use_raw_cursors(db.engine)
    agent_events.init_app()
    rollups.init_app()
    timeline.init_app()
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    csrf.init_app(app)
    login_manager.init_app(app)
    web.init_app(app)
    register_blueprints(app)
    webhooks.init_app(app)
    cli.init_app(app)
    return app
