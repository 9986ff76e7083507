"""Where writes become durable: every commit of the application goes through here.

Services only flush. What commits is a boundary: the end of a web request
(`end_request`, called by `web.py`), a unit of work of a command or a batch (`unit_of_work`:
a whole CLI command, one page of a sync, one order of a sweep, one page of webhook
deliveries), and three deliberate early commits: a money action's idempotency key
(`commit_before_stripe`, called by the request ledger and nothing else), a sign-in
attempt's place under the throttle, before its password or two-step code is checked
(`commit_before_password_check`, called by the sign-in service and nothing else), and an
AI agent's request's place under its rate limit (`commit_rate_limit_place`, called by
services/agents.py and nothing else).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import SessionTransaction

from dashboard.extensions import db


def end_request(succeeded: bool) -> None:
    """Keep a request's writes if no exception escaped its view; otherwise drop them."""
    if succeeded:
        _commit()
    else:
        db.session.rollback()


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Committed when the block ends, rolled back (and re-raised) if it raises."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    _commit()


def _commit() -> None:
    """Commit; if the commit itself fails, roll back, so that nothing of the failed
    transaction is carried into the session's next one."""
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


def commit_before_stripe() -> None:
    """Make a saved request and its idempotency key durable before Stripe is called.

    A crash, a timeout or a second click can then always be matched to the request already
    made, and the order's row lock is not held while Stripe thinks.
    """
    _commit()


def commit_before_password_check() -> None:
    """Make a sign-in attempt's place under the throttle durable before its password (or
    its two-step code: `sign_in.under_throttle`) is checked.

    Every other worker counts it at once, so attempts arriving together cannot all pass
    the limit; the counter rows are not locked while the hash runs (on SQLite that would be
    the database's one write lock, for every writer); and an attempt that dies mid-check
    still counts as a failure.
    """
    _commit()


def commit_rate_limit_place() -> None:
    """Make an agent's request's place under its rate limit durable before the request is
    handled: every worker counts it at once, the counter row is not locked while the request
    runs, and a request that fails or writes nothing still counts."""
    _commit()


def enclosing(transaction: SessionTransaction | None) -> Iterator[SessionTransaction]:
    """A transaction (or savepoint), then each it is nested in, out to the outermost: what
    a rollback of any of them takes with it. For the session hooks that keep notes of
    writes until the commit (overview rollups, a page's timeline entries)."""
    while transaction is not None:
        yield transaction
        transaction = transaction.parent
