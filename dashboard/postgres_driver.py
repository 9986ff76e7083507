"""How the app's statements reach PostgreSQL: written with PostgreSQL's own `$1`
placeholders and sent through psycopg's raw cursors, as they are.

SQLAlchemy's default for psycopg is `%(name)s` placeholders, which psycopg rewrites into
`$1` form before every execution, scanning the statement with a regular expression. It
keeps the result only for statements of at most 4,096 characters and 50 parameters, so a
page of the inbox (one INSERT of 100 events of 16 columns, the timeline's INSERTs of up to
200 entries, lookups of 100 ids) was scanned afresh each time: 1.8 s of a 10,000-event
sync (docs/benchmarks.md, eleventh run). With `paramstyle="numeric_dollar"` SQLAlchemy
writes the `$n` form itself, once per compiled statement, and a raw cursor passes it on;
the parameters are bound by the server exactly as before.

Only psycopg's cursors change. COPY (`services/export_copy.py`) still merges its `%s`
parameters on the client, which psycopg does for raw cursors too. SQLite is untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, event

PARAMSTYLE = "numeric_dollar"


def engine_options(uri: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """`options` with the placeholder style for psycopg's URLs (an explicit one is kept)."""
    if uri.startswith("postgresql+psycopg://"):
        return {"paramstyle": PARAMSTYLE, **options}
    return dict(options)


def use_raw_cursors(engine: Engine) -> None:
    """Every connection `engine` opens gives raw cursors, named (server-side) ones too,
    when its statements are written with `$n` placeholders."""
    if engine.dialect.driver != "psycopg" or engine.dialect.paramstyle != PARAMSTYLE:
        return
    import psycopg

    @event.listens_for(engine, "connect")
    def _raw(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor_factory = psycopg.RawCursor
        dbapi_connection.server_cursor_factory = psycopg.RawServerCursor
