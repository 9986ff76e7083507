"""The app as the tests configure it, and the app served over real HTTP on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from flask import Flask
from werkzeug.serving import make_server

from dashboard.views.access import READERS, roles_required
from tests.support.stripe import WEBHOOK_SECRET


def base_config(database_url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PUBLIC_BASE_URL": "http://dashboard.test",
        "STRIPE_SECRET_KEY": "",
        "STRIPE_API_BASE": "",
        "STRIPE_WEBHOOK_SECRETS": [WEBHOOK_SECRET],
        # The endpoint stores; tests apply what it stored themselves, at once
        # (tests/support/stripe.py `send_raw`), instead of waiting on a thread.
        "WEBHOOK_APPLY_IN_BACKGROUND": False,
        # The suite's query-plan tests read plans on near-empty tables whose statistics
        # are a fresh table's, and every test empties the tables it wrote: statistics
        # taken in between would change those plans. tests/test_planner_statistics.py
        # turns this on, in a database of its own.
        "ANALYZE_GROWN_TABLES": False,
    }


def add_failing_route(app: Flask, error: Exception, path: str = "/test-only/fails") -> str:
    """A route of this test's app only, whose view raises `error`: a real 500 through the
    app's own error handling, with no code of the dashboard replaced. Like every route it
    declares who may call it (dashboard/views/access.py): any signed-in reader. Flask takes
    new routes only before an app's first request. Returns the route's path."""

    @roles_required(*READERS)
    def fails() -> NoReturn:
        raise error

    app.add_url_rule(path, endpoint=f"test_only.fails{path}", view_func=fails)
    return path


def free_port() -> int:
    """A loopback port nothing listens on (free when asked; a server may then take it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """The app on a free port of 127.0.0.1, over real HTTP (threaded), until the block ends."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, name="test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{http.server_port}"
    finally:
        http.shutdown()
        thread.join(timeout=10)
        http.server_close()
