"""PostgreSQL's planner statistics kept in step with a bulk load (the sync, the applier).

PostgreSQL plans every query, foreign-key checks included, from statistics that ANALYZE
takes. Autovacuum takes them again once a table has changed by a tenth, but it looks only
about once a minute (`autovacuum_naptime`). A sync into a young database grows its tables
from nothing much faster than that: for a minute or more the planner still takes
`customers` and `stripe_events` for empty, so each buyer lookup and each foreign-key check
into them reads the whole table, and every page costs more than the one before (a first
sync of 10,000 events: 6.0 s of the server's time without this, 2.1 s with it;
docs/benchmarks.md, tenth run).

So after each page the sync and the applier call `refresh`: a table that has changed by
as many rows as it had when its statistics were taken (and by at least `MIN_CHANGES`) is
analyzed at once, as PostgreSQL's documentation advises after a bulk load ("Populating a
Database"). The threshold doubles with the table, so a load of n rows analyzes a table
about log2(n / MIN_CHANGES) times; a table autovacuum keeps up with (every table of a
running shop) never reaches it. ANALYZE reads a sample, not the table, and runs in a
short unit of work of its own, after the page's commit. Nothing is done on SQLite, whose
planner does not read statistics that go stale this way, nor with ANALYZE_GROWN_TABLES=0.
"""

from __future__ import annotations

import logging
import time

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboard.extensions import db

log = logging.getLogger(__name__)

# Fewer changes than this never call for an ANALYZE of our own: a table this small is read
# in a blink whatever the plan, and autovacuum will get to it.
MIN_CHANGES = 1000
# PostgreSQL reports a busy backend's changes at most once a second: looking more often
# than that finds nothing new.
CHECK_SECONDS = 1.0
_checked_at = -CHECK_SECONDS

_GROWN = text(
    """
    SELECT s.relname
    FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
    WHERE s.schemaname = current_schema()
      AND s.n_mod_since_analyze >= GREATEST(:floor, c.reltuples)
    ORDER BY s.relname
    """
)


def refresh() -> list[str]:
    """ANALYZE the tables that have outgrown their statistics (see above); their names.

    In the caller's transaction, which the caller commits: a short unit of work of its own
    after a page's commit, so no page's locks wait on it. Looks at most once in CHECK_SECONDS
    in this process (one catalog query), since the counts it reads are PostgreSQL's
    cumulative statistics, which a busy backend reports at most once a second: a table is
    seen to have grown a second or so after it has."""
    global _checked_at
    if not current_app.config["ANALYZE_GROWN_TABLES"]:
        return []
    if db.session.get_bind().dialect.name != "postgresql":
        return []
    now = time.monotonic()
    if now - _checked_at < CHECK_SECONDS:
        return []
    _checked_at = now
    try:
        with db.session.begin_nested():  # a failure leaves the caller's transaction usable
            grown = list(db.session.scalars(_GROWN, {"floor": MIN_CHANGES}))
            if grown:
                quote = db.session.get_bind().dialect.identifier_preparer.quote
                db.session.execute(text(f"ANALYZE {', '.join(quote(name) for name in grown)}"))
    except SQLAlchemyError as error:  # only ever a help: what called it goes on regardless
        log.warning("planner statistics could not be taken: %s", error)
        return []
    if grown:
        log.info("planner statistics taken again", extra={"tables": grown})
    return grown
